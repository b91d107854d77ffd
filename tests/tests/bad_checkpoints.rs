//! Damaged, forged and misdirected checkpoints are refused with a message that names the
//! problem, by `xisa validate` (alone and against the image), `xisa inspect` and
//! `xisa restore` on wasm64 and on native targets: never a crash, a panic or a signal.
//!
//! One real checkpoint of a corpus program is captured, then derived: truncations, bit
//! flips, header fields, Vec lengths and offsets made huge (with the digest recomputed so the
//! archive checks are reached), semantic rule breaks written through `xisa_format`, frames
//! the image does not know, a checkpoint of another image, and files that are no checkpoint.

use std::path::{Path, PathBuf};
use std::process::Command;

use xisa_e2e::*;
use xisa_format::checkpoint::{Checkpoint as C, CheckpointFile, FORMAT_VERSION, ROOT_SIZE, write};

const HEADER: usize = 64;

/// A derived file and what every reader must say about it.
struct Case {
    name: String,
    file: PathBuf,
    /// Words the refusal must contain (with the image, and on restore).
    words: Vec<String>,
    /// `xisa validate FILE` without the image accepts it (the problem needs the image).
    alone_ok: bool,
}

struct Cases {
    dir: PathBuf,
    list: Vec<Case>,
}

impl Cases {
    /// Writes `data` as a case file expected to be refused with `words`.
    fn add(&mut self, name: String, data: &[u8], words: &[&str], alone_ok: bool) {
        let file = self.dir.join(format!(
            "{}.ckpt",
            name.replace([' ', '/', '[', ']', '.'], "_")
        ));
        std::fs::write(&file, data).unwrap();
        self.list.push(Case {
            name,
            file,
            words: words.iter().map(|w| w.to_string()).collect(),
            alone_ok,
        });
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn i32_at(bytes: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// File position of the elements of the Vec whose 8-byte form (relative offset, length) is
/// at `field` (spec.md §5.3).
fn elements(bytes: &[u8], field: usize) -> usize {
    (field as i64 + i64::from(i32_at(bytes, field))) as usize
}

fn fix_digest(bytes: &mut [u8]) {
    let digest = blake3::hash(&bytes[HEADER..]);
    bytes[32..64].copy_from_slice(digest.as_bytes());
}

/// Captures a checkpoint of `image` at point `n` on `executor`.
fn capture(image: &Path, executor: &Executor, n: u64, to: &Path, sandbox: &Path) {
    let _ = std::fs::remove_file(to);
    let output = Command::new(xisa())
        .arg("run")
        .args(&executor.run_args)
        .arg("--dir")
        .arg(sandbox)
        .arg("--checkpoint-at")
        .arg(n.to_string())
        .arg("--checkpoint-to")
        .arg(to)
        .arg(image)
        .output()
        .expect("run xisa");
    assert!(
        output.status.success() && to.exists(),
        "capture at point {n} on {} failed: {}",
        executor.name,
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn bad_checkpoints_are_refused_with_clear_messages() {
    let dir = work_dir("bad_checkpoints");
    let programs = corpus();
    let find = |name: &str| {
        programs
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("corpus program {name} is missing"))
            .clone()
    };
    let program = find("checksums");
    let other = find("exit_via_return");
    let image = build(&program, &dir).expect("build checksums");
    let other_image = build(&other, &dir).expect("build exit_via_return");
    let x86 = x86_64_executor();
    let sandbox = dir.join("sandbox");
    std::fs::create_dir_all(&sandbox).unwrap();
    let total = migration_points(&image, &x86, &sandbox, &[], None).expect("count points");
    assert!(total > 10, "checksums passes only {total} migration points");
    let good = dir.join("good.ckpt");
    // Early enough to keep the files small, deep enough for several frames and regions.
    let point = (total / 2).min(500);
    capture(&image, &x86, point, &good, &sandbox);
    let bytes = std::fs::read(&good).unwrap();
    let len = bytes.len();
    println!(
        "checkpoint of checksums at point {point}/{total} on {}: {len} bytes",
        x86.name
    );

    // The good file passes everything the bad ones fail.
    let output = Command::new(xisa())
        .arg("validate")
        .arg(&good)
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the real checkpoint does not validate: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mut cases = Cases {
        dir: dir.clone(),
        list: Vec::new(),
    };

    // Truncated: inside the magic, inside the header, right after it, inside the archive.
    for cut in [1, 5, 8, 12, 32, 63] {
        cases.add(
            format!("truncated to {cut} bytes"),
            &bytes[..cut],
            &["truncated", "shorter than the 64-byte header"],
            false,
        );
    }
    for cut in [64, 65, HEADER + 100, len / 2, len - ROOT_SIZE, len - 1] {
        let says = format!("the header says {len} bytes but the file has {cut}");
        cases.add(
            format!("truncated to {cut} bytes"),
            &bytes[..cut],
            &["truncated", &says],
            false,
        );
    }
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"tail");
    cases.add(
        "trailing data".into(),
        &longer,
        &["trailing data", &format!("has {}", len + 4)],
        false,
    );

    // One bit flipped, everywhere in the header and across the archive: the header's own
    // checks, else the digest.
    let mut positions: Vec<usize> = (0..HEADER).collect();
    positions.extend((0..48).map(|k| HEADER + k * (len - HEADER - 1) / 47));
    for (k, &at) in positions.iter().enumerate() {
        let mut flipped = bytes.clone();
        flipped[at] ^= 1 << (k % 8);
        let words: &[&str] = match at {
            0..8 => &["not a checkpoint", "magic XISACKPT"],
            8..12 => &["unsupported checkpoint version"],
            12..16 => &["corrupt checkpoint header", "unknown flags"],
            16..24 => &["corrupt checkpoint header", "archive offset"],
            24..32 if u64::from_le_bytes(flipped[24..32].try_into().unwrap()) + 64 > len as u64 => {
                &["truncated", "the header says"]
            }
            // A shorter archive: the digest is checked over it first, and fails.
            24..32 => &["checksum mismatch", "BLAKE3"],
            _ => &["checksum mismatch", "BLAKE3"],
        };
        cases.add(
            format!("bit {} of byte {at} flipped", k % 8),
            &flipped,
            words,
            false,
        );
    }

    // Wrong version, nothing else changed.
    for version in [0u32, 1, 2, 3, FORMAT_VERSION + 1, 0xffff_ffff] {
        let mut patched = bytes.clone();
        patched[8..12].copy_from_slice(&version.to_le_bytes());
        cases.add(
            format!("version {version}"),
            &patched,
            &[
                &format!("unsupported checkpoint version {version}"),
                &format!("reads {FORMAT_VERSION}"),
            ],
            false,
        );
    }

    // Header lengths made huge.
    for (label, length, words) in [
        (
            "archive length 2^64-1",
            u64::MAX,
            &["archive length", "impossible"][..],
        ),
        (
            "archive length 2^40",
            1 << 40,
            &["truncated", "the header says"][..],
        ),
    ] {
        let mut patched = bytes.clone();
        patched[24..32].copy_from_slice(&length.to_le_bytes());
        cases.add(label.into(), &patched, words, false);
    }

    // Vec lengths and offsets inside the archive made huge, digest recomputed so the
    // structural checks must catch them.
    let root = len - ROOT_SIZE;
    let thread = elements(&bytes, root + 80);
    let frame = elements(&bytes, thread);
    let region = elements(&bytes, root + 88);
    let page = elements(&bytes, region + 16);
    let fields = [
        ("threads", root + 80),
        ("regions", root + 88),
        ("personality.cwd", root + 96),
        ("personality.descriptions", root + 96 + 28),
        ("threads[0].frames", thread),
        ("threads[0].frames[0].record", frame + 4),
        ("regions[0].pages", region + 16),
        ("regions[0].pages[0].data", page + 5),
    ];
    for (field, at) in fields {
        for (what, offset, value) in [
            ("length 2^32-1", 4, u32::MAX),
            ("length 2^31", 4, 1 << 31),
            ("length +1", 4, u32_at(&bytes, at + 4) + 1),
            ("offset 2^31-1", 0, i32::MAX as u32),
            ("offset -2^31", 0, i32::MIN as u32),
        ] {
            let mut patched = bytes.clone();
            patched[at + offset..at + offset + 4].copy_from_slice(&value.to_le_bytes());
            fix_digest(&mut patched);
            cases.add(
                format!("{field} {what}"),
                &patched,
                &["corrupt checkpoint archive"],
                false,
            );
        }
    }

    // Semantic rule breaks, written with a correct header and digest.
    let model = CheckpointFile::open(&good)
        .expect("open the real checkpoint")
        .deserialize()
        .expect("deserialize");
    let mut forge = |name: &str, words: &[&str], alone_ok: bool, change: &dyn Fn(&mut C)| {
        let mut checkpoint = model.clone();
        change(&mut checkpoint);
        cases.add(
            name.into(),
            &write(checkpoint.clone()).unwrap(),
            words,
            alone_ok,
        );
    };
    forge(
        "unknown call site",
        &[
            "thread 0, frame 0",
            "call site 999999 does not exist in the image",
        ],
        true,
        &|c: &mut C| c.threads[0].frames[0].call_site = 999_999,
    );
    let depth = model.threads[0].frames.len() - 1;
    forge(
        "unknown call site in the outermost frame",
        &[
            &format!("thread 0, frame {depth}"),
            "call site 999999 does not exist",
        ],
        true,
        &|c: &mut C| c.threads[0].frames.last_mut().unwrap().call_site = 999_999,
    );
    let kept = model.threads[0].frames[0].record.len();
    let site = model.threads[0].frames[0].call_site;
    forge(
        "record 8 bytes too long",
        &[
            "thread 0, frame 0",
            &format!(
                "call site {site} keeps a {kept}-byte record, but the frame holds {} bytes",
                kept + 8
            ),
        ],
        true,
        &|c: &mut C| c.threads[0].frames[0].record.extend_from_slice(&[0; 8]),
    );
    forge(
        "record not a multiple of 8",
        &["invalid checkpoint", "thread 0", "frame 0", "record"],
        false,
        &|c: &mut C| c.threads[0].frames[0].record.extend_from_slice(&[0; 4]),
    );
    forge(
        "record over 64 KiB",
        &["invalid checkpoint", "thread 0", "frame 0", "record"],
        false,
        &|c: &mut C| c.threads[0].frames[0].record = vec![0; 65536 + 8],
    );
    forge(
        "no thread",
        &["invalid checkpoint", "no thread"],
        false,
        &|c: &mut C| c.threads.clear(),
    );
    forge(
        "thread without frames",
        &["invalid checkpoint", "thread 0"],
        false,
        &|c: &mut C| c.threads[0].frames.clear(),
    );
    forge(
        "abi version 2",
        &["invalid checkpoint", "ABI version 2"],
        false,
        &|c: &mut C| c.abi_version = 2,
    );
    forge(
        "source target 7",
        &["invalid checkpoint", "source target 7"],
        false,
        &|c: &mut C| c.source_target = 7,
    );
    forge(
        "mem_top not aligned",
        &["invalid checkpoint", "mem_top"],
        false,
        &|c: &mut C| c.map.mem_top += 4096,
    );
    forge(
        "region in the private area",
        &["invalid checkpoint", "region 0", "private area"],
        false,
        &|c: &mut C| c.regions[0].start = 0x10_0000,
    );
    forge(
        "page encoding 9",
        &["invalid checkpoint", "region 0", "page 0", "encoding"],
        false,
        &|c: &mut C| c.regions[0].pages[0].encoding = 9,
    );
    forge(
        "page missing from a region",
        &["invalid checkpoint", "region 0", "pages"],
        false,
        &|c: &mut C| {
            c.regions[0].pages.pop();
        },
    );
    forge(
        "relative cwd",
        &["invalid checkpoint", "cwd"],
        false,
        &|c: &mut C| c.personality.cwd = b"tmp/../x".to_vec(),
    );
    forge(
        "fd naming a missing description",
        &["invalid checkpoint", "fd"],
        false,
        &|c: &mut C| c.personality.files[0].description = 4000,
    );
    forge(
        "other image id",
        &["checkpoint was captured from image", "but this image is"],
        true,
        &|c: &mut C| c.image_id[0] ^= 0xff,
    );
    forge(
        "data size differs from the image",
        &["does not fit the image", "data"],
        true,
        &|c: &mut C| c.map.data_size += 4096,
    );

    // A real checkpoint of one program given with another program's image.
    let words = ["checkpoint was captured from image", "but this image is"];
    cases.list.push(Case {
        name: "checkpoint of checksums with the image of exit_via_return".into(),
        file: good.clone(),
        words: words.iter().map(|w| w.to_string()).collect(),
        alone_ok: true,
    });

    // Files that are no checkpoint.
    cases.add(
        "empty file".into(),
        b"",
        &["not a checkpoint", "empty"],
        false,
    );
    cases.add(
        "an image as the checkpoint".into(),
        &std::fs::read(&image).unwrap(),
        &["not a checkpoint", "xisa image"],
        false,
    );
    cases.add(
        "an ELF file".into(),
        &std::fs::read(xisa()).unwrap()[..4096],
        &["not a checkpoint", "ELF"],
        false,
    );
    cases.add(
        "text".into(),
        b"hello, this is not a checkpoint at all\n",
        &["not a checkpoint", "magic XISACKPT"],
        false,
    );
    cases.list.push(Case {
        name: "missing file".into(),
        file: dir.join("no-such-file.ckpt"),
        words: vec!["no-such-file.ckpt".into(), "No such file".into()],
        alone_ok: false,
    });

    let mut natives = vec![Executor::emu_aarch64()];
    match kvm_available() {
        Ok(()) if cfg!(target_arch = "x86_64") => natives.push(Executor::kvm_x86_64()),
        Ok(()) => println!("SKIPPED restore on kvm/x86_64: this host is not x86-64"),
        Err(reason) => println!("SKIPPED restore on kvm/x86_64: {reason}"),
    }
    let cases = cases.list;
    let results = parallel_map(&cases, threads(), |case| {
        let image_for = if case.name.contains("exit_via_return") {
            &other_image
        } else {
            &image
        };
        let words: Vec<&str> = case.words.iter().map(String::as_str).collect();
        let mut problems = Vec::new();
        let mut messages = Vec::new();
        let mut check = |what: &str, command: &mut Command, expect_ok: bool| {
            let output = command.output().expect("run xisa");
            let verdict = match (expect_ok, output.status.success()) {
                (true, true) => Ok(String::new()),
                (true, false) => Err(format!(
                    "refused: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                )),
                (false, _) => refused(&output, &words),
            };
            match verdict {
                Ok(message) => messages.push(message),
                Err(problem) => problems.push(format!("{what}: {problem}")),
            }
        };
        let xisa_in = |args: &[&str]| {
            let mut command = Command::new(xisa());
            command.args(args).current_dir(&dir);
            command
        };
        let file = case.file.to_str().unwrap();
        let image_arg = image_for.to_str().unwrap();
        check(
            "validate FILE IMAGE",
            &mut xisa_in(&["validate", file, image_arg]),
            false,
        );
        check(
            "validate FILE",
            &mut xisa_in(&["validate", file]),
            case.alone_ok,
        );
        if !case.alone_ok {
            check("inspect FILE", &mut xisa_in(&["inspect", file]), false);
        }
        let mut places = vec![Executor::wasm64()];
        places.extend(natives.iter().cloned());
        for place in &places {
            let mut command = xisa_in(&["restore", file, "--image", image_arg]);
            command.args(&place.run_args).arg("--dir").arg(&sandbox);
            check(&format!("restore on {}", place.name), &mut command, false);
        }
        // --json states the same refusal on stdout.
        let output = xisa_in(&["validate", "--json", file, image_arg])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        if output.status.code() != Some(1)
            || !text.contains("\"valid\": false")
            || !words.iter().all(|w| text.contains(w))
        {
            problems.push(format!(
                "validate --json: status {:?}, output {}",
                output.status.code(),
                text.trim()
            ));
        }
        // Archive-structure refusals must name the place, in file offsets, and never show
        // a build hint of the validator.
        for message in &messages {
            if message.contains("without error information")
                || message.contains("debug assertions")
                || (message.contains("corrupt checkpoint archive")
                    && !message.contains("file offset"))
            {
                problems.push(format!(
                    "the refusal does not say where: {}",
                    message.trim()
                ));
            }
        }
        (problems, messages.first().cloned().unwrap_or_default())
    });
    let mut failed = 0;
    for (case, (problems, message)) in cases.iter().zip(&results) {
        if problems.is_empty() {
            let last = message.lines().last().unwrap_or("").trim();
            println!("ok   {}: {last}", case.name);
        } else {
            failed += 1;
            for problem in problems {
                println!("FAIL {}: {problem}", case.name);
            }
        }
    }
    println!(
        "{} bad checkpoints, {failed} not refused properly",
        cases.len()
    );
    assert_eq!(
        failed, 0,
        "{failed} bad checkpoints were not refused properly (see above)"
    );
}
