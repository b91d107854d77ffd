//! Podman driving `xisa-oci`: a corpus program prints what `xisa run` prints, exit codes and
//! `podman kill`/`podman stop` behave as with crun, a checkpoint exported on x86-64 resumes
//! on aarch64 and wasm64 with the same output and files, and bad input gives clear errors.
//! Needs root, podman and criu (Podman asks CRIU for its version before any checkpoint);
//! otherwise each test says SKIPPED with the reason.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use xisa_e2e::{build_source, profile_dir, repo_root, work_dir, xisa, xisa_cc};

fn skip_reason(need_criu: bool) -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } != 0 {
        return Some("not root (rootful Podman is what these tests drive)".into());
    }
    if Command::new("podman").arg("--version").output().is_err() {
        return Some("podman is not installed (scripts/setup installs it)".into());
    }
    if need_criu && Command::new("criu").arg("--version").output().is_err() {
        return Some("criu is not installed: Podman refuses checkpoints without it".into());
    }
    None
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

macro_rules! require {
    ($criu:expr) => {
        if let Some(reason) = skip_reason($criu) {
            eprintln!("SKIPPED: {reason}");
            return;
        }
    };
}

fn runtime() -> PathBuf {
    let path = profile_dir().join("xisa-oci");
    assert!(
        path.exists(),
        "{} is missing: cargo build --release --workspace --bins",
        path.display()
    );
    path
}

fn podman(args: &[&str]) -> Output {
    Command::new("podman")
        .args(args)
        .output()
        .expect("podman runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Builds `source` into `ROOT/prog.xisa` and imports ROOT as the image `tag`.
fn image(name: &str, source: &Path, tag: &str) -> PathBuf {
    let root = work_dir(&format!("oci-{name}")).join("rootfs");
    std::fs::create_dir_all(&root).unwrap();
    let prog = root.join("prog.xisa");
    let built = Command::new(xisa_cc())
        .args(["-O2"])
        .arg(source)
        .arg("-o")
        .arg(&prog)
        .output()
        .unwrap();
    assert!(built.status.success(), "xisa-cc: {}", text(&built.stderr));
    let tar = root.with_file_name("rootfs.tar");
    let packed = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(packed.success());
    let imported = podman(&["import", "-q", tar.to_str().unwrap(), tag]);
    assert!(
        imported.status.success(),
        "podman import: {}",
        text(&imported.stderr)
    );
    prog
}

fn remove(names: &[&str]) {
    for name in names {
        let _ = podman(&["rm", "-f", "-t", "0", name]);
    }
}

#[test]
fn corpus_program_prints_what_xisa_run_prints() {
    require!(false);
    let source = repo_root().join("tests/programs/bit_manip.c");
    let prog = image("bitmanip", &source, "localhost/xisa-bitmanip:test");
    let direct = Command::new(xisa()).arg("run").arg(&prog).output().unwrap();
    let runtime = runtime();
    let via = podman(&[
        "run",
        "--rm",
        "--runtime",
        runtime.to_str().unwrap(),
        "localhost/xisa-bitmanip:test",
        "/prog.xisa",
    ]);
    assert!(via.status.success(), "podman run: {}", text(&via.stderr));
    assert_eq!(text(&via.stdout), text(&direct.stdout));
    assert!(!direct.stdout.is_empty());
}

const SLOW: &str = r#"
#include <stdio.h>
#include <stdlib.h>
static volatile unsigned long sink;
static unsigned long work(unsigned long n) { unsigned long s = 0; for (unsigned long i = 0; i < n; i++) s = s * 31 + i; return s; }
int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 40;
    unsigned long per = argc > 2 ? strtoul(argv[2], 0, 10) : 100000000;
    FILE *f = fopen("/data/log.txt", "w");
    if (!f) { puts("no /data"); return 3; }
    for (int i = 0; i < steps; i++) {
        sink += work(per);
        printf("step %d\n", i); fflush(stdout);
        fprintf(f, "line %d\n", i); fflush(f);
    }
    fclose(f);
    return 5;
}
"#;

fn slow_image() -> PathBuf {
    let dir = work_dir("oci-slow-src");
    let source = dir.join("slow.c");
    std::fs::write(&source, SLOW).unwrap();
    image("slow", &source, "localhost/xisa-slow:test")
}

fn data_dir(name: &str) -> PathBuf {
    let dir = work_dir(&format!("oci-data-{name}"));
    let _ = std::fs::remove_file(dir.join("log.txt"));
    dir
}

#[test]
fn exit_codes_kill_and_stop_behave_like_crun() {
    require!(false);
    slow_image();
    let runtime = runtime();
    let rt = runtime.to_str().unwrap();
    let data = data_dir("exit");
    let volume = format!("{}:/data", data.display());
    // Exit status propagates.
    let done = podman(&[
        "run",
        "--rm",
        "--runtime",
        rt,
        "-v",
        &volume,
        "localhost/xisa-slow:test",
        "/prog.xisa",
        "2",
        "1000",
    ]);
    assert_eq!(done.status.code(), Some(5), "{}", text(&done.stderr));
    assert_eq!(text(&done.stdout), "step 0\nstep 1\n");
    // podman kill (SIGKILL) and podman stop (SIGTERM) end it: 137 and 143.
    remove(&["xisa-kill", "xisa-stop"]);
    for (name, action, code) in [("xisa-kill", "kill", 137), ("xisa-stop", "stop", 143)] {
        let started = podman(&[
            "run",
            "-d",
            "--name",
            name,
            "--runtime",
            rt,
            "-v",
            &volume,
            "localhost/xisa-slow:test",
            "/prog.xisa",
            "100000",
            "100000000",
        ]);
        assert!(started.status.success(), "{}", text(&started.stderr));
        let args: Vec<&str> = if action == "kill" {
            vec!["kill", "-s", "KILL", name]
        } else {
            vec!["stop", "-t", "5", name]
        };
        let acted = podman(&args);
        assert!(
            acted.status.success(),
            "podman {action}: {}",
            text(&acted.stderr)
        );
        let waited = podman(&["wait", name]);
        assert_eq!(
            text(&waited.stdout).trim(),
            code.to_string(),
            "podman {action}"
        );
        remove(&[name]);
    }
}

#[test]
fn checkpoint_on_x86_64_resumes_on_aarch64_and_wasm64() {
    require!(true);
    slow_image();
    let runtime = runtime();
    let rt = runtime.to_str().unwrap();
    let work = work_dir("oci-ckpt");
    let reference = data_dir("reference");
    let whole = Command::new(xisa())
        .arg("run")
        .arg(work_dir("oci-slow").join("rootfs/prog.xisa"))
        .arg("--dir")
        .arg(format!("{}:/data", reference.display()))
        .args(["--", "30", "40000000"])
        .output()
        .unwrap();
    assert_eq!(whole.status.code(), Some(5));
    let expected_file = std::fs::read(reference.join("log.txt")).unwrap();
    for target in ["aarch64", "wasm64"] {
        let name = format!("xisa-ck-{target}");
        let restored = format!("xisa-rs-{target}");
        remove(&[&name, &restored]);
        let data = data_dir(target);
        let volume = format!("{}:/data", data.display());
        let started = podman(&[
            "run",
            "-d",
            "--name",
            &name,
            "--runtime",
            rt,
            "--annotation",
            "run.xisa.target=x86_64",
            "-v",
            &volume,
            "localhost/xisa-slow:test",
            "/prog.xisa",
            "30",
            "40000000",
        ]);
        assert!(started.status.success(), "{}", text(&started.stderr));
        std::thread::sleep(std::time::Duration::from_millis(600));
        let archive = work.join(format!("{target}.tar"));
        let _ = std::fs::remove_file(&archive);
        let checkpoint = podman(&[
            "container",
            "checkpoint",
            "--export",
            archive.to_str().unwrap(),
            &name,
        ]);
        assert!(
            checkpoint.status.success(),
            "podman checkpoint: {}",
            text(&checkpoint.stderr)
        );
        let before = text(&podman(&["logs", &name]).stdout);
        assert!(
            before.lines().count() < 30,
            "the checkpoint came too late to test anything"
        );
        let mut args = vec![
            "--runtime",
            rt,
            "--runtime-flag",
            match target {
                "aarch64" => "target=aarch64",
                _ => "target=wasm64",
            },
        ];
        if target == "aarch64" {
            args.extend(["--runtime-flag", "backend=emu"]);
        }
        args.extend([
            "container",
            "restore",
            "--import",
            archive.to_str().unwrap(),
            "--name",
            &restored,
        ]);
        let restore = podman(&args);
        assert!(
            restore.status.success(),
            "podman restore on {target}: {}",
            text(&restore.stderr)
        );
        let waited = podman(&["wait", &restored]);
        assert_eq!(text(&waited.stdout).trim(), "5", "exit status on {target}");
        let logs = podman(&["logs", &restored]);
        // The restored container's log continues the exported one.
        let steps: String = text(&logs.stdout)
            .lines()
            .filter(|l| l.starts_with("step"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(steps, text(&whole.stdout), "output on {target}");
        assert_eq!(
            std::fs::read(data.join("log.txt")).unwrap(),
            expected_file,
            "files on {target}"
        );
        if target == "wasm64" {
            // The runtime flag reaches the restored run: an unknown target makes it fail.
            remove(&["xisa-rs-bogus"]);
            let bogus = podman(&[
                "--runtime",
                rt,
                "--runtime-flag",
                "target=mips",
                "container",
                "restore",
                "--import",
                archive.to_str().unwrap(),
                "--name",
                "xisa-rs-bogus",
            ]);
            let waited = podman(&["wait", "xisa-rs-bogus"]);
            let logs = text(&podman(&["logs", "xisa-rs-bogus"]).stderr);
            assert!(
                !bogus.status.success() || text(&waited.stdout).trim() != "5",
                "target=mips was ignored"
            );
            assert!(
                logs.contains("mips") || text(&bogus.stderr).contains("mips"),
                "{logs}"
            );
            remove(&["xisa-rs-bogus"]);
        }
        remove(&[&name, &restored]);
    }
}

#[test]
fn bad_input_gives_clear_errors_in_podman_output() {
    require!(false);
    slow_image();
    let runtime = runtime();
    let rt = runtime.to_str().unwrap();
    let unknown = podman(&[
        "run",
        "--rm",
        "--runtime",
        rt,
        "--annotation",
        "run.xisa.colour=red",
        "localhost/xisa-slow:test",
        "/prog.xisa",
    ]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("unknown annotation \"run.xisa.colour\""),
        "{}",
        text(&unknown.stderr)
    );
    let missing = podman(&[
        "run",
        "--rm",
        "--runtime",
        rt,
        "localhost/xisa-slow:test",
        "/missing.xisa",
    ]);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("no .xisa image \"/missing.xisa\""),
        "{}",
        text(&missing.stderr)
    );
    // A bundle without config.json, straight through the runtime as conmon calls it.
    let empty = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let bad = Command::new(&runtime)
        .arg("--root")
        .arg(root.path())
        .args(["create", "--bundle"])
        .arg(empty.path())
        .arg("bad1")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("cannot read the bundle's config"),
        "{}",
        text(&bad.stderr)
    );
}

/// Builds the bit_manip corpus program in `work_dir(name)` and packages it with
/// `xisa oci-image --json` as `tag` into `archive`; returns the image and the packaging run.
fn packaged_bitmanip(name: &str, tag: &str, archive: &Path) -> (PathBuf, Output) {
    let prog = work_dir(name).join("bitmanip.xisa");
    build_source(&repo_root().join("tests/programs/bit_manip.c"), &prog).unwrap();
    let packaged = Command::new(xisa())
        .arg("oci-image")
        .arg(&prog)
        .args(["--tag", tag, "--json", "-o"])
        .arg(archive)
        .output()
        .unwrap();
    (prog, packaged)
}

/// Rootless Podman: a user of this machine loads an `xisa oci-image` archive and runs it
/// with xisa-oci (no network: rootless networking needs /dev/net/tun, which a machine may
/// lack; checkpoints need root in Podman itself).
#[test]
fn rootless_podman() {
    require!(false);
    const USER: &str = "xisa-rootless";
    let as_user = |script: &str| {
        Command::new("su")
            .args(["-", USER, "-c", script])
            .current_dir("/")
            .output()
            .expect("su runs")
    };
    let exists = Command::new("id").arg(USER).output().unwrap();
    if !exists.status.success() {
        let added = Command::new("useradd").args(["-m", USER]).output();
        if !added.is_ok_and(|o| o.status.success()) {
            eprintln!("SKIPPED: cannot create the user {USER} for rootless Podman");
            return;
        }
    }
    let info = as_user("podman info --format '{{.Host.Security.Rootless}}'");
    if !text(&info.stdout).contains("true") {
        eprintln!(
            "SKIPPED: rootless Podman does not start for {USER} here: {}",
            text(&info.stderr).trim()
        );
        return;
    }
    // The user's copy of the runtime (it starts the `xisa` beside it) and of the archive.
    let home = PathBuf::from(format!("/home/{USER}"));
    let bin = home.join("xisa-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["xisa-oci", "xisa"] {
        std::fs::copy(profile_dir().join(name), bin.join(name)).unwrap();
    }
    let archive = home.join("bitmanip.oci.tar");
    let (prog, packaged) =
        packaged_bitmanip("oci-rootless", "localhost/xisa-rootless:test", &archive);
    assert!(packaged.status.success(), "{}", text(&packaged.stderr));
    let owned = Command::new("chown")
        .args(["-R", &format!("{USER}:"), home.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(owned.success());
    let loaded = as_user("podman load -q -i ~/bitmanip.oci.tar");
    assert!(
        loaded.status.success(),
        "podman load: {}",
        text(&loaded.stderr)
    );
    let via = as_user(
        "podman run --rm --network none --runtime ~/xisa-bin/xisa-oci localhost/xisa-rootless:test",
    );
    assert!(
        via.status.success(),
        "rootless podman run: {}",
        text(&via.stderr)
    );
    let direct = Command::new(xisa()).arg("run").arg(&prog).output().unwrap();
    assert!(!direct.stdout.is_empty());
    assert_eq!(text(&via.stdout), text(&direct.stdout));
}

/// `xisa oci-image` writes an OCI layout archive whose index lists linux/amd64 and
/// linux/arm64 over one layer; `podman load` takes it and `podman run` starts its entrypoint.
#[test]
fn oci_image_archive_loads_and_runs() {
    require!(false);
    let dir = work_dir("oci-image");
    let archive = dir.join("bitmanip.oci.tar");
    let tag = "localhost/xisa-ociimage:test";
    let (prog, packaged) = packaged_bitmanip("oci-image", tag, &archive);
    assert!(
        packaged.status.success(),
        "oci-image: {}",
        text(&packaged.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&packaged.stdout).unwrap();
    assert_eq!(report["entrypoint"], "/bitmanip.xisa");

    // The layout: one tagged entry naming a platform index over one shared layer.
    let layout = dir.join("layout");
    let _ = std::fs::remove_dir_all(&layout);
    std::fs::create_dir_all(&layout).unwrap();
    assert!(
        Command::new("tar")
            .arg("-C")
            .arg(&layout)
            .arg("-xf")
            .arg(&archive)
            .status()
            .unwrap()
            .success()
    );
    let read = |digest: &str| -> serde_json::Value {
        let name = digest.trim_start_matches("sha256:");
        serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(name)).unwrap())
            .unwrap()
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let entry = &index["manifests"][0];
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        tag
    );
    let platforms = read(entry["digest"].as_str().unwrap());
    let mut seen = Vec::new();
    let mut layers = Vec::new();
    for manifest in platforms["manifests"].as_array().unwrap() {
        seen.push(
            manifest["platform"]["architecture"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        let body = read(manifest["digest"].as_str().unwrap());
        layers.push(body["layers"][0]["digest"].clone());
    }
    assert_eq!(seen, ["amd64", "arm64"]);
    assert_eq!(layers[0], layers[1], "both platforms share the one layer");

    let _ = podman(&["rmi", "-f", tag]);
    let loaded = podman(&["load", "-i", archive.to_str().unwrap()]);
    assert!(
        loaded.status.success(),
        "podman load: {}",
        text(&loaded.stderr)
    );
    let direct = Command::new(xisa()).arg("run").arg(&prog).output().unwrap();
    let via = podman(&["run", "--rm", "--runtime", runtime().to_str().unwrap(), tag]);
    assert!(via.status.success(), "podman run: {}", text(&via.stderr));
    assert!(!direct.stdout.is_empty());
    assert_eq!(text(&via.stdout), text(&direct.stdout));
    let refused = Command::new(xisa())
        .arg("oci-image")
        .arg(&prog)
        .args(["--tag", "Not A Tag"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("is not a valid image reference"));
}
