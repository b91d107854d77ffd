//! The checkpoint conformance kit in tests/conformance/ (see its README): every valid
//! checkpoint passes `xisa validate` and resumes on every target with exactly the expected
//! output; every invalid one is refused with its expected message.
//!
//! `generate_kit` (ignored; run by tests/conformance/generate) rebuilds the kit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use xisa_e2e::*;
use xisa_format::checkpoint::{Checkpoint, CheckpointFile, ROOT_SIZE, write};

fn kit() -> PathBuf {
    repo_root().join("tests/conformance")
}

/// Migration points the kit's checkpoints are captured at (the program passes 1697).
const POINTS: [u64; 2] = [100, 1100];

/// Targets a checkpoint is captured on and resumed on.
fn places() -> Vec<Executor> {
    vec![
        x86_64_executor(),
        Executor::emu_aarch64(),
        Executor::wasm64(),
    ]
}

fn xisa_run(args: &[&str], extra: &[&Path]) -> Output {
    Command::new(xisa())
        .args(args)
        .args(extra)
        .output()
        .expect("run xisa")
}

/// Resumes `checkpoint` on `place` in a fresh sandbox holding the files of `files`.
fn restore(
    checkpoint: &Path,
    image: &Path,
    files: &Path,
    place: &Executor,
    sandbox: &Path,
) -> Output {
    let _ = std::fs::remove_dir_all(sandbox);
    std::fs::create_dir_all(sandbox).unwrap();
    if files.is_dir() {
        copy_tree(files, sandbox);
    }
    Command::new(xisa())
        .arg("restore")
        .arg(checkpoint)
        .arg("--image")
        .arg(image)
        .args(&place.run_args)
        .arg("--dir")
        .arg(sandbox)
        .output()
        .expect("run xisa restore")
}

/// Reads `index.tsv`: one line per case, tab-separated fields.
fn index(dir: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("index.tsv"))
        .unwrap_or_else(|e| panic!("{}/index.tsv: {e}", dir.display()));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split('\t').map(String::from).collect())
        .collect()
}

#[test]
fn conformance_kit_passes() {
    let kit = kit();
    let image = kit.join("program.xisa");
    let work = work_dir("conformance");
    let mut failures = Vec::new();
    let valid = index(&kit.join("valid"));
    assert!(
        valid.len() >= 6,
        "the kit has only {} valid checkpoints",
        valid.len()
    );
    let places = places();
    for case in &valid {
        let name = &case[0];
        let checkpoint = kit.join(format!("valid/{name}.ckpt"));
        let expected = std::fs::read(kit.join(format!("valid/{name}.stdout"))).unwrap();
        for args in [&["validate"][..], &["validate", "--json"]] {
            let alone = xisa_run(args, &[&checkpoint]);
            let with_image = xisa_run(args, &[&checkpoint, &image]);
            for (how, output) in [("alone", alone), ("with the image", with_image)] {
                if !output.status.success() {
                    failures.push(format!(
                        "{name}: xisa {} {how} refused it: {}{}",
                        args.join(" "),
                        String::from_utf8_lossy(&output.stdout).trim(),
                        String::from_utf8_lossy(&output.stderr).trim()
                    ));
                }
            }
        }
        for place in &places {
            let sandbox = work.join(format!("{name}.{}", place.name.replace('/', "-")));
            let output = restore(
                &checkpoint,
                &image,
                &kit.join(format!("valid/{name}.files")),
                place,
                &sandbox,
            );
            if output.status.success() && output.stdout == expected {
                println!("ok   {name} resumed on {}", place.name);
            } else {
                failures.push(format!(
                    "{name} on {}: status {:?}, stdout {}; stderr {}",
                    place.name,
                    output.status.code(),
                    first_difference(&expected, &output.stdout),
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
        }
    }
    let invalid = index(&kit.join("invalid"));
    assert!(
        invalid.len() >= 20,
        "the kit has only {} invalid checkpoints",
        invalid.len()
    );
    for case in &invalid {
        let (name, needs_image) = (&case[0], case[2] == "yes");
        let checkpoint = kit.join(format!("invalid/{name}.ckpt"));
        let error = std::fs::read_to_string(kit.join(format!("invalid/{name}.error"))).unwrap();
        let error = error.trim_end_matches('\n');
        let with_image = xisa_run(&["validate"], &[&checkpoint, &image]);
        let alone = xisa_run(&["validate"], &[&checkpoint]);
        let mut problems = Vec::new();
        if let Err(problem) = refused(&with_image, &[error]) {
            problems.push(format!("validate FILE IMAGE: {problem}"));
        }
        match (needs_image, alone.status.success()) {
            (true, true) => {}
            (true, false) => problems.push(format!(
                "validate FILE refused a file that needs the image to be refused: {}",
                String::from_utf8_lossy(&alone.stderr).trim()
            )),
            (false, _) => {
                if let Err(problem) = refused(&alone, &[error]) {
                    problems.push(format!("validate FILE: {problem}"));
                }
            }
        }
        if problems.is_empty() {
            println!("ok   {name} refused: {error}");
        } else {
            failures.extend(problems.into_iter().map(|p| format!("{name}: {p}")));
        }
    }
    for failure in &failures {
        println!("FAIL {failure}");
    }
    println!(
        "{} valid and {} invalid checkpoints, {} failures",
        valid.len(),
        invalid.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "the conformance kit fails (see above)");
}

/// One derived invalid checkpoint.
struct Invalid {
    name: &'static str,
    /// spec.md §5.5 rule number.
    rule: &'static str,
    needs_image: bool,
    error: String,
    what: &'static str,
    bytes: Vec<u8>,
}

fn fix_digest(bytes: &mut [u8]) {
    let digest = blake3::hash(&bytes[64..archive_end(bytes)]);
    bytes[32..64].copy_from_slice(digest.as_bytes());
}

/// Where the archive ends (a page store may follow), from the header's archive length,
/// clamped to the file.
fn archive_end(bytes: &[u8]) -> usize {
    let length = u64::from_le_bytes(bytes[24..32].try_into().unwrap());
    (64 + length).min(bytes.len() as u64) as usize
}

#[test]
#[ignore = "rebuilds tests/conformance; run tests/conformance/generate"]
fn generate_kit() {
    if std::env::var_os("XISA_CONFORMANCE_GENERATE").is_none() {
        println!(
            "SKIPPED generate_kit: set XISA_CONFORMANCE_GENERATE=1 (tests/conformance/generate does)"
        );
        return;
    }
    let kit = kit();
    let image = kit.join("program.xisa");
    let work = work_dir("conformance-generate");
    build_source(&kit.join("program.c"), &image).expect("build the kit's program");
    for sub in ["valid", "invalid"] {
        let _ = std::fs::remove_dir_all(kit.join(sub));
        std::fs::create_dir_all(kit.join(sub)).unwrap();
    }
    let places = places();
    // The uninterrupted run, the same on every target.
    let mut full = None;
    for place in &places {
        let sandbox = work.join(format!("full.{}", place.name.replace('/', "-")));
        let _ = std::fs::remove_dir_all(&sandbox);
        std::fs::create_dir_all(&sandbox).unwrap();
        let output = Command::new(xisa())
            .arg("run")
            .args(&place.run_args)
            .arg("--dir")
            .arg(&sandbox)
            .arg(&image)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "the kit's program fails on {}",
            place.name
        );
        match &full {
            None => full = Some(output.stdout),
            Some(first) => assert!(*first == output.stdout, "{} prints differently", place.name),
        }
    }
    let full = full.unwrap();
    std::fs::write(kit.join("full.stdout"), &full).unwrap();
    let mut valid_index = String::from("# name\tcaptured on\tmigration point\n");
    for place in &places {
        for point in POINTS {
            let name = format!("{}-p{point}", place.target);
            let sandbox = work.join(format!("capture.{name}"));
            let _ = std::fs::remove_dir_all(&sandbox);
            std::fs::create_dir_all(&sandbox).unwrap();
            let checkpoint = kit.join(format!("valid/{name}.ckpt"));
            // The first point's pages are compressed; the second's raw, in the page store.
            let compress = if point == POINTS[0] { "zstd" } else { "none" };
            let output = Command::new(xisa())
                .arg("run")
                .args(&place.run_args)
                .args(["--compress", compress])
                .arg("--dir")
                .arg(&sandbox)
                .arg("--checkpoint-at")
                .arg(point.to_string())
                .arg("--checkpoint-to")
                .arg(&checkpoint)
                .arg(&image)
                .output()
                .unwrap();
            assert!(
                output.status.success() && checkpoint.exists(),
                "capture {name}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let files = kit.join(format!("valid/{name}.files"));
            std::fs::create_dir_all(&files).unwrap();
            copy_tree(&sandbox, &files);
            let after = restore(
                &checkpoint,
                &image,
                &files,
                &Executor::wasm64(),
                &work.join("resume"),
            );
            assert!(
                after.status.success(),
                "restore {name}: {}",
                String::from_utf8_lossy(&after.stderr)
            );
            let mut joined = output.stdout.clone();
            joined.extend_from_slice(&after.stdout);
            assert!(
                joined == full,
                "{name}: captured and resumed output differs from the full run"
            );
            std::fs::write(kit.join(format!("valid/{name}.stdout")), &after.stdout).unwrap();
            valid_index.push_str(&format!("{name}\t{}\t{point}\n", place.name));
        }
    }
    std::fs::write(kit.join("valid/index.tsv"), valid_index).unwrap();

    // Invalid checkpoints, derived from the x86-64 capture at the second point.
    let source = kit.join(format!("valid/x86_64-p{}.ckpt", POINTS[1]));
    let bytes = std::fs::read(&source).unwrap();
    let model = CheckpointFile::open(&source)
        .unwrap()
        .deserialize()
        .unwrap();
    let len = bytes.len();
    let mut cases = Vec::new();
    let mut raw = |name, rule, error: &str, what, change: &dyn Fn(&mut Vec<u8>)| {
        let mut patched = bytes.clone();
        change(&mut patched);
        cases.push(Invalid {
            name,
            rule,
            needs_image: false,
            error: error.into(),
            what,
            bytes: patched,
        });
    };
    raw("empty", "1", "the file is empty", "an empty file", &|b| {
        b.clear()
    });
    raw(
        "image-as-checkpoint",
        "1",
        "it looks like an xisa image",
        "the first 4096 bytes of the kit's image given as a checkpoint",
        &|b| *b = std::fs::read(&image).unwrap()[..4096].to_vec(),
    );
    raw(
        "bad-magic",
        "1",
        "does not start with the checkpoint magic XISACKPT",
        "magic XISACKPX",
        &|b| b[7] = b'X',
    );
    raw(
        "truncated-header",
        "1",
        "shorter than the 64-byte header",
        "the first 40 bytes",
        &|b| b.truncate(40),
    );
    let end = archive_end(&bytes);
    assert!(end < len, "the raw capture has a page store");
    let says = format!("the header says {end} bytes but the file has {}", end - 100);
    raw(
        "truncated-archive",
        "1",
        &says,
        "cut 100 bytes before the archive's end",
        &|b| b.truncate(end - 100),
    );
    let says = format!(
        "the header says {len} bytes but the file has {}",
        len - 4096
    );
    raw(
        "truncated-store",
        "11",
        &says,
        "the page store's last page cut off",
        &|b| b.truncate(len - 4096),
    );
    raw(
        "store-digest",
        "11",
        "checksum mismatch: the page store",
        "one bit of the page store's last page flipped",
        &|b| b[len - 1] ^= 1,
    );
    raw(
        "store-padding",
        "11",
        "padding byte at file offset",
        "the first padding byte after the archive set to 1",
        &|b| b[end] = 1,
    );
    raw(
        "trailing-data",
        "11",
        "(trailing data)",
        "4 bytes appended",
        &|b| b.extend_from_slice(b"tail"),
    );
    raw(
        "version-5",
        "1",
        "unsupported checkpoint version 5",
        "header bytes 8..12 set to 5",
        &|b| b[8] = 5,
    );
    raw(
        "version-3",
        "1",
        "unsupported checkpoint version 3",
        "header bytes 8..12 set to 3 (a file from before the page store)",
        &|b| b[8] = 3,
    );
    raw(
        "version-2",
        "1",
        "unsupported checkpoint version 2",
        "header bytes 8..12 set to 2 (a file from before parent checkpoints)",
        &|b| b[8] = 2,
    );
    raw(
        "version-1",
        "1",
        "unsupported checkpoint version 1",
        "header bytes 8..12 set to 1 (a file from before the image hint)",
        &|b| b[8] = 1,
    );
    raw(
        "flags",
        "1",
        "unknown flags 0x1",
        "header flags set to 1",
        &|b| b[12] = 1,
    );
    raw(
        "archive-offset",
        "1",
        "archive offset 72",
        "header archive offset set to 72",
        &|b| b[16] = 72,
    );
    raw(
        "digest-mismatch",
        "1",
        "checksum mismatch",
        "one archive bit flipped",
        &|b| {
            let at = 64 + (archive_end(b) - 64) / 2;
            b[at] ^= 0x20
        },
    );
    raw(
        "short-archive",
        "1",
        "cannot hold the 252-byte root",
        "a 100-byte archive with a correct digest",
        &|b| {
            b.truncate(164);
            b[24..32].copy_from_slice(&100u64.to_le_bytes());
            fix_digest(b)
        },
    );
    raw(
        "vec-out-of-bounds",
        "2",
        "corrupt checkpoint archive",
        "threads length 2^32-1, digest recomputed",
        &|b| {
            let field = archive_end(b) - ROOT_SIZE + 80;
            b[field + 4..field + 8].copy_from_slice(&u32::MAX.to_le_bytes());
            fix_digest(b)
        },
    );
    raw(
        "vec-offset-outside",
        "2",
        "corrupt checkpoint archive",
        "regions offset 2^31-1, digest recomputed",
        &|b| {
            let field = archive_end(b) - ROOT_SIZE + 88;
            b[field..field + 4].copy_from_slice(&i32::MAX.to_le_bytes());
            fix_digest(b)
        },
    );
    let mut forge =
        |name, rule, needs_image, error: &str, what, change: &dyn Fn(&mut Checkpoint)| {
            let mut checkpoint = model.clone();
            change(&mut checkpoint);
            let bytes = write(checkpoint.clone()).unwrap();
            cases.push(Invalid {
                name,
                rule,
                needs_image,
                error: error.into(),
                what,
                bytes,
            });
        };
    forge(
        "abi-version",
        "3",
        false,
        "guest ABI version 2 is not supported",
        "abi_version 2",
        &|c| c.abi_version = 2,
    );
    forge(
        "parent-hint",
        "9",
        false,
        "parent hint \"base.ckpt\" is not an absolute path",
        "parent_digest set, parent_hint base.ckpt",
        &|c| {
            c.parent_digest = [7; 32];
            c.parent_hint = b"base.ckpt".to_vec()
        },
    );
    forge(
        "source-target",
        "3",
        false,
        "unknown source target 7",
        "source_target 7",
        &|c| c.source_target = 7,
    );
    forge(
        "mem-top",
        "4",
        false,
        "must be a multiple of 0x10000",
        "mem_top not a multiple of 0x10000",
        &|c| c.map.mem_top += 0x1000,
    );
    forge(
        "no-thread",
        "5",
        false,
        "the checkpoint has no thread",
        "threads empty",
        &|c| c.threads.clear(),
    );
    forge(
        "no-frame",
        "5",
        false,
        "thread 0 has no frame",
        "thread 0 without frames",
        &|c| c.threads[0].frames.clear(),
    );
    forge(
        "record-not-multiple-of-8",
        "5",
        false,
        "is not a multiple of 8",
        "frame 0's record 4 bytes longer",
        &|c| c.threads[0].frames[0].record.extend_from_slice(&[0; 4]),
    );
    forge(
        "shadow-stack-pointer",
        "5",
        false,
        "shadow-stack pointer 0x1000 is outside the shadow stack",
        "shadow-stack pointer 0x1000",
        &|c| c.threads[0].registers.shadow_stack_pointer = 0x1000,
    );
    forge(
        "region-in-private-area",
        "6",
        false,
        "reaches into the private area",
        "region 0 moved to 0x100000",
        &|c| c.regions[0].start = 0x10_0000,
    );
    forge(
        "page-encoding",
        "7",
        false,
        "unknown page encoding 9",
        "region 0 page 0 encoding 9",
        &|c| c.regions[0].pages[0].encoding = 9,
    );
    forge(
        "page-index",
        "7",
        false,
        "region 0 page 0: index 5 out of order",
        "region 0 page 0 index 5",
        &|c| c.regions[0].pages[0].index = 5,
    );
    forge(
        "cwd",
        "8",
        false,
        "is not a normalized absolute path",
        "cwd tmp/../x",
        &|c| c.personality.cwd = b"tmp/../x".to_vec(),
    );
    forge(
        "fd-description",
        "8",
        false,
        "refers to description 4000",
        "fd 0 names description 4000",
        &|c| c.personality.files[0].description = 4000,
    );
    forge(
        "umask",
        "8",
        false,
        "umask 0o1000 exceeds 0o777",
        "umask 0o1000",
        &|c| c.personality.umask = 0o1000,
    );
    forge(
        "unknown-call-site",
        "5.5 (image)",
        true,
        "call site 999999 does not exist in the image",
        "frame 0's call site 999999",
        &|c| c.threads[0].frames[0].call_site = 999_999,
    );
    forge(
        "record-size",
        "5.5 (image)",
        true,
        "-byte record, but the frame holds",
        "frame 0's record 8 bytes longer",
        &|c| c.threads[0].frames[0].record.extend_from_slice(&[0; 8]),
    );
    forge(
        "other-image",
        "5.5 (image)",
        true,
        "checkpoint was captured from image",
        "image_id of another image",
        &|c| c.image_id[0] ^= 0xff,
    );
    forge(
        "layout",
        "5.5 (image)",
        true,
        "differs from the image's",
        "map.data_size 4096 bytes larger",
        &|c| c.map.data_size += 4096,
    );

    let mut invalid_index =
        String::from("# name\tspec.md 5.5 rule\tneeds the image\twhat was changed\n");
    for case in &cases {
        let file = kit.join(format!("invalid/{}.ckpt", case.name));
        std::fs::write(&file, &case.bytes).unwrap();
        std::fs::write(
            kit.join(format!("invalid/{}.error", case.name)),
            format!("{}\n", case.error),
        )
        .unwrap();
        let needs = if case.needs_image { "yes" } else { "no" };
        invalid_index.push_str(&format!(
            "{}\t{}\t{needs}\t{}\n",
            case.name, case.rule, case.what
        ));
        // The expected message must be xisa's own.
        let output = xisa_run(&["validate"], &[&file, &image]);
        if let Err(problem) = refused(&output, &[&case.error]) {
            panic!("{}: {problem}", case.name);
        }
    }
    std::fs::write(kit.join("invalid/index.tsv"), invalid_index).unwrap();
    println!(
        "kit written: {} valid, {} invalid checkpoints",
        POINTS.len() * places.len(),
        cases.len()
    );
}
