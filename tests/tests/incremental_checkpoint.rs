//! Incremental checkpoints (`--parent`, spec.md §5.4.1): a chain captured across three
//! executors resumes to the output of an uninterrupted run, with the program held for the
//! capture or carrying on (copy-on-write); the chain is found again by digest when moved or
//! renamed; a missing or rewritten parent is a clear error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use xisa_e2e::*;

struct Kit {
    dir: PathBuf,
    image: PathBuf,
    expected: Vec<u8>,
}

impl Kit {
    fn new(name: &str) -> Kit {
        let dir = work_dir(name);
        let image = dir.join("program.xisa");
        build_source(&repo_root().join("tests/conformance/program.c"), &image).unwrap();
        let expected = std::fs::read(repo_root().join("tests/conformance/full.stdout")).unwrap();
        Kit {
            dir,
            image,
            expected,
        }
    }

    /// A fresh, empty folder under the kit's.
    fn folder(&self, name: &str) -> PathBuf {
        let folder = self.dir.join(name);
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).unwrap();
        folder
    }
}

/// Runs `command` and checks that it succeeded.
fn xisa_ok(command: &mut Command, what: &str) -> Output {
    let output = command.output().expect("run xisa");
    assert!(
        output.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `xisa SUBCOMMAND` on `place` with `sandbox` as the guest's folder.
fn xisa_on(subcommand: &str, place: &Executor, sandbox: &Path) -> Command {
    let mut command = Command::new(xisa());
    command
        .arg(subcommand)
        .args(&place.run_args)
        .arg("--dir")
        .arg(sandbox);
    command
}

/// Runs `image` on `place` in `sandbox` and captures it at point `at` into `to`, with
/// `extra` options.
fn capture(
    place: &Executor,
    sandbox: &Path,
    image: &Path,
    at: &str,
    to: &Path,
    extra: &[&str],
) -> Output {
    xisa_ok(
        xisa_on("run", place, sandbox)
            .args(extra)
            .args(["--checkpoint-at", at, "--checkpoint-to"])
            .arg(to)
            .arg(image),
        &format!("capture {} on {}", to.display(), place.name),
    )
}

/// `xisa restore CHECKPOINT` on `place` with `sandbox` as its folder, plus `extra`.
fn restore(place: &Executor, checkpoint: &Path, sandbox: &Path, extra: &[&str]) -> Output {
    xisa_ok(
        xisa_on("restore", place, sandbox)
            .arg(checkpoint)
            .args(extra),
        &format!("restore {} on {}", checkpoint.display(), place.name),
    )
}

fn inspect(checkpoint: &Path) -> Value {
    let output = xisa_ok(
        Command::new(xisa())
            .arg("inspect")
            .arg(checkpoint)
            .arg("--json"),
        "inspect",
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn chain_length(checkpoint: &Path) -> usize {
    inspect(checkpoint)["chain"].as_array().map_or(0, Vec::len)
}

fn stored_pages(checkpoint: &Path) -> u64 {
    inspect(checkpoint)["pages"]["total"].as_u64().unwrap()
}

#[test]
fn a_chain_across_executors_resumes_like_an_uninterrupted_run() {
    let kit = Kit::new("incremental_chain");
    let sandbox = kit.folder("sandbox");
    let store = kit.folder("store");
    let (base, child, grandchild) = (
        store.join("base.ckpt"),
        store.join("child.ckpt"),
        store.join("grandchild.ckpt"),
    );
    // The complete checkpoint, on wasm64.
    let first = capture(&Executor::wasm64(), &sandbox, &kit.image, "300", &base, &[]);
    // Its first child, held for the capture, on x86_64.
    let native = x86_64_executor();
    let parent = base.to_str().unwrap();
    let child_to = child.to_str().unwrap();
    let second = restore(
        &native,
        &base,
        &sandbox,
        &[
            "--checkpoint-at",
            "400",
            "--checkpoint-to",
            child_to,
            "--parent",
            parent,
        ],
    );
    // A grandchild of the child on aarch64 (CPU emulation).
    let grandchild_to = grandchild.to_str().unwrap();
    let third = restore(
        &Executor::emu_aarch64(),
        &child,
        &sandbox,
        &[
            "--checkpoint-at",
            "300",
            "--checkpoint-to",
            grandchild_to,
            "--parent",
            child_to,
        ],
    );
    assert_eq!(chain_length(&child), 2);
    assert_eq!(chain_length(&grandchild), 3);
    let (whole, part) = (stored_pages(&base), stored_pages(&child));
    assert!(
        part < whole,
        "the child stores {part} pages, its complete parent {whole}"
    );
    let validated = xisa_ok(
        Command::new(xisa())
            .arg("validate")
            .arg(&grandchild)
            .arg(&kit.image),
        "validate the grandchild",
    );
    assert!(
        String::from_utf8_lossy(&validated.stdout).contains("with its 2 parent checkpoint(s)"),
        "{}",
        String::from_utf8_lossy(&validated.stdout)
    );
    let last = restore(&native, &grandchild, &sandbox, &[]);
    let mut output = Vec::new();
    for part in [&first, &second, &third, &last] {
        output.extend_from_slice(&part.stdout);
    }
    assert!(
        output == kit.expected,
        "base + child + grandchild differ from an uninterrupted run: {}",
        first_difference(&kit.expected, &output)
    );

    // Eagerly restored from the chain, on wasm64, the grandchild says the same.
    let again = kit.folder("again");
    copy_tree(&sandbox, &again);
    let eager = restore(&Executor::wasm64(), &grandchild, &again, &["--eager"]);
    assert_eq!(eager.stdout, last.stdout, "eager restore of the chain");

    // Moved elsewhere with the parents renamed, the chain is found by digest.
    let moved = kit.folder("moved");
    std::fs::copy(&base, moved.join("round-0.ckpt")).unwrap();
    std::fs::copy(&child, moved.join("round-1.ckpt")).unwrap();
    std::fs::copy(&grandchild, moved.join("last.ckpt")).unwrap();
    std::fs::copy(&kit.image, moved.join("program.xisa")).unwrap();
    for file in [&base, &child, &grandchild] {
        std::fs::remove_file(file).unwrap();
    }
    let again = kit.folder("again");
    copy_tree(&sandbox, &again);
    let found = restore(&native, &moved.join("last.ckpt"), &again, &[]);
    assert_eq!(found.stdout, last.stdout, "restore of the moved chain");
}

#[test]
fn a_copy_on_write_capture_against_a_parent_resumes() {
    let kit = Kit::new("incremental_cow");
    let sandbox = kit.folder("sandbox");
    let store = kit.folder("store");
    let (base, child) = (store.join("base.ckpt"), store.join("child.ckpt"));
    let place = x86_64_executor();
    let first = capture(&place, &sandbox, &kit.image, "500", &base, &[]);
    let held = kit.folder("held");
    copy_tree(&sandbox, &held);
    // The child is captured while the run carries on to its end.
    let carried = restore(
        &place,
        &base,
        &sandbox,
        &[
            "--eager",
            "--checkpoint-at",
            "600",
            "--then",
            "continue",
            "--checkpoint-to",
            child.to_str().unwrap(),
            "--parent",
            base.to_str().unwrap(),
        ],
    );
    let said = String::from_utf8_lossy(&carried.stderr);
    assert!(
        said.contains("in the background"),
        "the capture was not copy-on-write: {said}"
    );
    let mut whole = first.stdout.clone();
    whole.extend_from_slice(&carried.stdout);
    assert!(
        whole == kit.expected,
        "a run that captured and carried on: {}",
        first_difference(&kit.expected, &whole)
    );
    assert_eq!(chain_length(&child), 2);
    // Resume the child from the folder as it was at point 500 + 600: replay the first
    // part of the run from the base, held there, to get that folder.
    let point = store.join("at-1100.ckpt");
    let prefix = restore(
        &place,
        &base,
        &held,
        &[
            "--checkpoint-at",
            "600",
            "--checkpoint-to",
            point.to_str().unwrap(),
        ],
    );
    let resumed = restore(&Executor::wasm64(), &child, &held, &[]);
    let mut output = first.stdout;
    output.extend_from_slice(&prefix.stdout);
    output.extend_from_slice(&resumed.stdout);
    assert!(
        output == kit.expected,
        "the copy-on-write child differs from an uninterrupted run: {}",
        first_difference(&kit.expected, &output)
    );
}

#[test]
fn a_missing_or_rewritten_parent_is_refused_clearly() {
    let kit = Kit::new("incremental_refusals");
    let sandbox = kit.folder("sandbox");
    let store = kit.folder("store");
    let (base, child) = (store.join("base.ckpt"), store.join("child.ckpt"));
    let place = Executor::wasm64();
    capture(&place, &sandbox, &kit.image, "200", &base, &[]);
    restore(
        &place,
        &base,
        &sandbox,
        &[
            "--checkpoint-at",
            "100",
            "--checkpoint-to",
            child.to_str().unwrap(),
            "--parent",
            base.to_str().unwrap(),
        ],
    );
    let refusal = |words: &[&str]| {
        for command in ["restore", "inspect", "validate"] {
            let output = Command::new(xisa())
                .arg(command)
                .arg(&child)
                .output()
                .unwrap();
            if let Err(problem) = refused(&output, words) {
                panic!("xisa {command} of the child: {problem}");
            }
        }
    };
    // Rewritten: another capture under the parent's name.
    capture(&place, &sandbox, &kit.image, "250", &base, &[]);
    refusal(&["rewritten after the capture", "base.ckpt", "hint:"]);
    // Missing.
    std::fs::remove_file(&base).unwrap();
    refusal(&["neither there nor beside it", "base.ckpt", "hint:"]);
    // A parent that does not exist, or that the capture would overwrite, is refused up front.
    for (parent, words) in [
        (store.join("none.ckpt"), "does not exist"),
        (child.clone(), "the capture would replace its own parent"),
    ] {
        let output = Command::new(xisa())
            .args(["run", "--checkpoint-to"])
            .arg(&child)
            .arg("--parent")
            .arg(&parent)
            .arg(&kit.image)
            .output()
            .unwrap();
        if let Err(problem) = refused(&output, &[words]) {
            panic!("run --parent {}: {problem}", parent.display());
        }
    }
}

#[test]
fn a_chain_of_raw_checkpoints_is_mapped_from_every_link_and_resumes() {
    let kit = Kit::new("incremental_raw");
    let sandbox = kit.folder("sandbox");
    let store = kit.folder("store");
    let (base, child) = (store.join("base.ckpt"), store.join("child.ckpt"));
    // Raw pages go to each file's page store; the child's replace some of the base's.
    let first = capture(
        &Executor::wasm64(),
        &sandbox,
        &kit.image,
        "300",
        &base,
        &["--compress", "none"],
    );
    let native = x86_64_executor();
    let second = restore(
        &native,
        &base,
        &sandbox,
        &[
            "--compress",
            "none",
            "--checkpoint-at",
            "400",
            "--checkpoint-to",
            child.to_str().unwrap(),
            "--parent",
            base.to_str().unwrap(),
        ],
    );
    assert_eq!(chain_length(&child), 2);
    let mut before = first.stdout.clone();
    before.extend_from_slice(&second.stdout);
    for place in executors()
        .iter()
        .filter(|e| !e.name.starts_with("process"))
    {
        let again = kit.folder("again");
        copy_tree(&sandbox, &again);
        let resumed = restore(place, &child, &again, &["-v"]);
        let stderr = String::from_utf8_lossy(&resumed.stderr);
        let mapped = lazy_restore_pages(&stderr).map_or(0, |(mapped, _, _)| mapped);
        assert!(mapped > 0, "{}: no page mapped: {stderr}", place.name);
        let mut output = before.clone();
        output.extend_from_slice(&resumed.stdout);
        assert!(
            output == kit.expected,
            "{}: the mapped chain resumes differently: {}",
            place.name,
            first_difference(&kit.expected, &output)
        );
        println!("ok   {}: {mapped} pages mapped from the chain", place.name);
    }
}
