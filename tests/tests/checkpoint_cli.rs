//! `xisa inspect` and `xisa validate` on real checkpoints from every capturing target: the
//! JSON fields (frames with function names, regions and pages, personality with its open
//! files, size ratio) agree with the capture and with each other, and the human output says
//! the same.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use xisa_e2e::*;

fn xisa_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(xisa())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run xisa")
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Checks the `xisa inspect --json` description of a checkpoint of tests/conformance/program.c
/// captured on `target` at a point inside `walk`, with `log.txt` of `log_size` bytes open.
fn check_json(
    value: &Value,
    file: &Path,
    target: &str,
    image_id: &str,
    log_size: u64,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    let bytes = std::fs::metadata(file).unwrap().len();
    expect(
        value["format_version"] == xisa_format::checkpoint::FORMAT_VERSION,
        format!("format_version {}", value["format_version"]),
    );
    expect(
        value["bytes"] == bytes,
        format!("bytes {} but the file has {bytes}", value["bytes"]),
    );
    expect(
        value["image_id"] == image_id,
        format!("image_id {}", value["image_id"]),
    );
    expect(
        value["source_target"] == target,
        format!("source_target {}", value["source_target"]),
    );
    expect(
        value["abi_version"] == 1,
        format!("abi_version {}", value["abi_version"]),
    );
    let mem_top = value["mem_top"].as_u64().unwrap_or(1);
    expect(
        mem_top.is_multiple_of(0x1_0000) && mem_top >= 0x800_0000,
        format!("mem_top {mem_top:#x}"),
    );

    let frames = value["frames"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = frames
        .iter()
        .map(|f| f["function"].as_str().unwrap_or("?"))
        .collect();
    expect(
        names.len() >= 4
            && names[0] == "walk"
            && names.contains(&"main")
            && names.last() == Some(&"__xisa_start"),
        format!("frames {names:?}: expected walk innermost, main, __xisa_start outermost"),
    );
    for frame in &frames {
        let record = frame["record_bytes"].as_u64().unwrap_or(1);
        expect(
            frame["call_site"].as_u64().unwrap_or(0) > 0 && record.is_multiple_of(8) && record > 0,
            format!("frame {frame}"),
        );
    }

    let regions = value["regions"].as_array().cloned().unwrap_or_default();
    expect(!regions.is_empty(), "no regions".into());
    let mut end = 0;
    let mut pages = 0;
    for region in &regions {
        let start = region["start"].as_u64().unwrap_or(1);
        let length = region["length"].as_u64().unwrap_or(1);
        expect(
            start.is_multiple_of(4096) && length.is_multiple_of(4096) && length > 0 && start >= end,
            format!("region {region}: not page-aligned, empty or out of order"),
        );
        expect(
            region["pages"]["total"] == length / 4096,
            format!(
                "region at {start:#x} lists {} pages for {length} bytes",
                region["pages"]["total"]
            ),
        );
        end = start + length;
        pages += length / 4096;
    }
    let total = &value["pages"];
    let sum: u64 = ["zero", "same_as_image", "raw", "zstd"]
        .iter()
        .map(|k| total[k].as_u64().unwrap_or(0))
        .sum();
    expect(
        total["total"] == pages && sum == pages,
        format!("pages {total}: regions hold {pages}"),
    );
    let touched = total["touched_bytes"].as_u64().unwrap_or(0);
    let stored = total["stored_bytes"].as_u64().unwrap_or(u64::MAX);
    expect(
        touched > 0 && touched <= pages * 4096 && stored < bytes,
        format!("touched {touched} and stored {stored} bytes"),
    );
    let ratio = value["size_ratio"].as_f64().unwrap_or(-1.0);
    expect(
        (ratio - bytes as f64 / touched.max(1) as f64).abs() < 1e-9,
        format!("size_ratio {ratio} is not {bytes} / {touched}"),
    );

    let personality = &value["personality"];
    expect(
        personality["cwd"] == "/",
        format!("cwd {}", personality["cwd"]),
    );
    let files = personality["files"].as_array().cloned().unwrap_or_default();
    let described: Vec<(i64, &str, &str)> = files
        .iter()
        .map(|f| {
            (
                f["fd"].as_i64().unwrap_or(-1),
                f["kind"].as_str().unwrap_or("?"),
                f["path"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    expect(
        described
            == [
                (0, "stdin", ""),
                (1, "stdout", ""),
                (2, "stderr", ""),
                (3, "file", "/log.txt"),
            ],
        format!("open files {described:?}"),
    );
    if let Some(log) = files.get(3) {
        expect(
            log["offset"] == log_size && log["cloexec"] == false,
            format!(
                "log.txt at offset {} but the file has {log_size} bytes",
                log["offset"]
            ),
        );
    }
    expect(
        personality["brk"].as_u64().unwrap_or(0) > 0x600_0000
            && personality["monotonic_ns"].as_u64().unwrap_or(0) > 0,
        format!("personality {personality}"),
    );
    problems
}

#[test]
fn inspect_describes_checkpoints_from_every_target() {
    let dir = work_dir("checkpoint_cli");
    let image = dir.join("program.xisa");
    build_source(&repo_root().join("tests/conformance/program.c"), &image).unwrap();
    let info = json(&xisa_in(&dir, &["info", "--json", "program.xisa"]));
    let image_id = info["id"]
        .as_str()
        .expect("xisa info --json gives id")
        .to_string();
    let mut failures = Vec::new();
    for place in [
        x86_64_executor(),
        Executor::emu_aarch64(),
        Executor::wasm64(),
    ] {
        let tag = place.name.replace('/', "-");
        let sandbox = dir.join(format!("{tag}.sandbox"));
        let _ = std::fs::remove_dir_all(&sandbox);
        std::fs::create_dir_all(&sandbox).unwrap();
        let checkpoint: PathBuf = dir.join(format!("{tag}.ckpt"));
        let output = Command::new(xisa())
            .arg("run")
            .args(&place.run_args)
            .arg("--dir")
            .arg(&sandbox)
            .args(["--checkpoint-at", "1100", "--checkpoint-to"])
            .arg(&checkpoint)
            .arg(&image)
            .output()
            .unwrap();
        assert!(output.status.success(), "capture on {}", place.name);
        let log_size = std::fs::metadata(sandbox.join("log.txt")).unwrap().len();
        let file = checkpoint.to_str().unwrap();

        // With --image, and found by identity next to the checkpoint: the same description.
        let given = json(&xisa_in(
            &dir,
            &["inspect", "--json", file, "--image", "program.xisa"],
        ));
        let found = json(&xisa_in(&dir, &["inspect", "--json", file]));
        let mut problems = check_json(&given, &checkpoint, place.target, &image_id, log_size);
        if given["frames"] != found["frames"] || found["image"].as_str().is_none() {
            problems.push(format!(
                "the image was not found next to the checkpoint: {}",
                found["image"]
            ));
        }

        // Human output.
        let human = xisa_in(&dir, &["inspect", file]);
        let text = String::from_utf8_lossy(&human.stdout);
        let frames = given["frames"].as_array().map(Vec::len).unwrap_or(0);
        let record_bytes: u64 = given["frames"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| f["record_bytes"].as_u64().unwrap_or(0))
            .sum();
        for line in [
            format!(
                "checkpoint: {file} ({} bytes, format version {})",
                given["bytes"],
                xisa_format::checkpoint::FORMAT_VERSION
            ),
            format!("image:      {image_id}"),
            format!("captured:   on {}", place.target),
            format!("frames:     {frames} ({record_bytes} record bytes), innermost first"),
            "#0 ".into(),
            "walk".into(),
            "__xisa_start".into(),
            format!(
                "memory:     {} regions, {} pages",
                given["regions"].as_array().map(Vec::len).unwrap_or(0),
                given["pages"]["total"]
            ),
            format!("(ratio {:.3})", given["size_ratio"].as_f64().unwrap_or(0.0)),
            "personality: cwd /".into(),
            "/log.txt".into(),
            format!("offset {log_size}"),
        ] {
            if !human.status.success() || !text.contains(&line) {
                problems.push(format!("human output lacks `{line}`"));
            }
        }

        // Copied elsewhere: the image is found where it was at the capture.
        let alone = dir.join(format!("{tag}.alone"));
        let _ = std::fs::remove_dir_all(&alone);
        std::fs::create_dir_all(&alone).unwrap();
        std::fs::copy(&checkpoint, alone.join("c.ckpt")).unwrap();
        let hinted = json(&xisa_in(&alone, &["inspect", "--json", "c.ckpt"]));
        let at_capture = image.canonicalize().unwrap().display().to_string();
        if hinted["image"] != at_capture.as_str() || hinted["image_hint"] != at_capture.as_str() {
            problems.push(format!(
                "copied elsewhere: image {} and hint {}, expected {at_capture}",
                hinted["image"], hinted["image_hint"]
            ));
        }

        // Without the image: no function names, and it says how to get them.
        let moved = dir.join("program.moved");
        std::fs::rename(&image, &moved).unwrap();
        let bare = json(&xisa_in(&alone, &["inspect", "--json", "c.ckpt"]));
        let human = xisa_in(&alone, &["inspect", "c.ckpt"]);
        let restore = xisa_in(&alone, &["restore", "c.ckpt"]);
        std::fs::rename(&moved, &image).unwrap();
        let named = bare["frames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| !f["function"].is_null())
            .count();
        if !bare["image"].is_null()
            || named != 0
            || bare["frames"].as_array().map(Vec::len) != Some(frames)
        {
            problems.push(format!(
                "without the image: image {}, {named} named frames",
                bare["image"]
            ));
        }
        if !String::from_utf8_lossy(&human.stdout)
            .contains("(not found; give --image for function names)")
        {
            problems.push("without the image the human output does not say it is missing".into());
        }
        let refusal = String::from_utf8_lossy(&restore.stderr);
        if restore.status.success()
            || !refusal.contains(&format!(
                "{at_capture} (where the image was at the capture) no longer exists"
            ))
            || !refusal.contains("--image")
        {
            problems.push(format!("restore without the image: {refusal}"));
        }

        // validate agrees, for people and scripts.
        let valid = xisa_in(&dir, &["validate", file, "program.xisa"]);
        if !String::from_utf8_lossy(&valid.stdout).contains("valid checkpoint of program.xisa") {
            problems.push(format!(
                "validate: {}",
                String::from_utf8_lossy(&valid.stdout)
            ));
        }
        let valid = json(&xisa_in(
            &dir,
            &["validate", "--json", file, "program.xisa"],
        ));
        if valid != serde_json::json!({"valid": true, "chain": 1}) {
            problems.push(format!("validate --json: {valid}"));
        }

        if problems.is_empty() {
            println!(
                "ok   inspect: checkpoint from {} ({frames} frames)",
                place.name
            );
        } else {
            failures.extend(problems.into_iter().map(|p| format!("{}: {p}", place.name)));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `make` names images like the program; a restore without `--image` from another folder
/// finds the image where it was at the capture and resumes with the full output.
#[test]
fn restore_finds_an_image_named_like_the_program() {
    let dir = work_dir("checkpoint_cli_hint");
    let build = dir.join("build");
    let elsewhere = dir.join("elsewhere");
    for folder in [&build, &elsewhere] {
        std::fs::create_dir_all(folder).unwrap();
    }
    let image = build.join("program");
    build_source(&repo_root().join("tests/conformance/program.c"), &image).unwrap();
    let expected = std::fs::read(repo_root().join("tests/conformance/full.stdout")).unwrap();
    let place = Executor::wasm64();
    let sandbox = dir.join("sandbox");
    let _ = std::fs::remove_dir_all(&sandbox);
    std::fs::create_dir_all(&sandbox).unwrap();
    let checkpoint = elsewhere.join("c.ckpt");
    let captured = Command::new(xisa())
        .arg("run")
        .args(&place.run_args)
        .arg("--dir")
        .arg(&sandbox)
        .args(["--checkpoint-at", "700", "--checkpoint-to"])
        .arg(&checkpoint)
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        captured.status.success(),
        "capture: {}",
        String::from_utf8_lossy(&captured.stderr)
    );
    let resumed = Command::new(xisa())
        .args(["restore", "c.ckpt"])
        .args(&x86_64_executor().run_args)
        .arg("--dir")
        .arg(&sandbox)
        .current_dir(&elsewhere)
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "restore without --image: {}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let mut output = captured.stdout;
    output.extend_from_slice(&resumed.stdout);
    assert!(
        output == expected,
        "capture + resume differ from an uninterrupted run: {}",
        first_difference(&expected, &output)
    );
}
