//! Cross-target migration: every corpus program is captured at several migration points on
//! each of kvm/x86_64, emu/aarch64 and wasm64 and resumed on each of them, and at one point on
//! and between those and process mode (process/x86_64, process/aarch64 under qemu-user); one
//! chain per program hops x86_64 → wasm64 → aarch64 → x86_64 (the last two in process mode)
//! with a capture at each hop; and a restore on the capturing executor after poisoning every
//! register and native-stack byte that is not part of a neutral frame. Output, status and
//! files must equal an uninterrupted run's.
//!
//! The random capture points come from a seed printed at the start; set XISA_TEST_SEED to
//! repeat a run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use xisa_e2e::*;

/// The executors of the full matrix (every pair at every capture point), and those of process
/// mode, which are paired with every other executor at one capture point.
fn places() -> (Vec<Executor>, Vec<Executor>) {
    let mut core = Vec::new();
    match kvm_available() {
        Ok(()) if cfg!(target_arch = "x86_64") => core.push(Executor::kvm_x86_64()),
        Ok(()) => println!("SKIPPED kvm/x86_64: this host is not x86-64"),
        Err(reason) => println!("SKIPPED kvm/x86_64: {reason}"),
    }
    core.push(Executor::emu_aarch64());
    core.push(Executor::wasm64());
    let mut process = vec![Executor::process_x86_64()];
    match which("qemu-aarch64") {
        Some(_) => process.push(Executor::process_aarch64()),
        None => {
            println!("SKIPPED process/aarch64: qemu-aarch64 is not installed (package qemu-user)")
        }
    }
    (core, process)
}

/// The x86-64 executor that starts chains: KVM where it works, else emulation.
fn x86_place() -> Executor {
    match kvm_available() {
        Ok(()) if cfg!(target_arch = "x86_64") => Executor::kvm_x86_64(),
        _ => Executor::emu_x86_64(),
    }
}

/// Features that tie the program's checkpoints to the capturing ISA (`xisa info --json`).
fn native_state(image: &Path) -> Vec<String> {
    let output = Command::new(xisa())
        .arg("info")
        .arg("--json")
        .arg(image)
        .output()
        .expect("run xisa info");
    let text = String::from_utf8_lossy(&output.stdout);
    let Some(start) = text.find("\"native_state\": [") else {
        panic!("xisa info --json has no native_state:\n{text}");
    };
    let rest = &text[start + "\"native_state\": [".len()..];
    rest[..rest.find(']').expect("closing bracket")]
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A small deterministic generator for the random capture points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn seed() -> u64 {
    std::env::var("XISA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        })
}

/// One step of a migrated run: a fresh run or a restore, optionally capturing.
struct Step<'a> {
    place: &'a Executor,
    restore_from: Option<&'a Path>,
    capture: Option<(u64, &'a Path)>,
    poison: bool,
}

/// Runs the steps one after another in one sandbox with one stdin, and returns the combined
/// stdout, the guest's stderr and the last step's status.
fn run_steps(
    program: &CorpusProgram,
    image: &Path,
    sandbox: &Path,
    steps: &[Step<'_>],
) -> Result<Output, String> {
    let _ = std::fs::remove_dir_all(sandbox);
    std::fs::create_dir_all(sandbox).expect("create sandbox");
    if let Some(input) = &program.input_dir {
        copy_tree(input, sandbox);
    }
    // One open stdin for every step, so bytes read before a capture stay read.
    let stdin = program
        .stdin
        .as_ref()
        .map(|file| std::fs::File::open(file).expect("stdin file"));
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut status = None;
    for (i, step) in steps.iter().enumerate() {
        let mut command = Command::new(xisa());
        match step.restore_from {
            None => {
                command.arg("run").args(&step.place.run_args);
                for env in &program.env {
                    command.arg("--env").arg(env);
                }
            }
            Some(checkpoint) => {
                command
                    .arg("restore")
                    .arg(checkpoint)
                    .arg("--image")
                    .arg(image)
                    .args(&step.place.run_args);
                if step.poison {
                    command.arg("--poison");
                }
            }
        }
        command.arg("--dir").arg(sandbox);
        if let Some((n, file)) = step.capture {
            command
                .arg("--checkpoint-at")
                .arg(n.to_string())
                .arg("--checkpoint-to")
                .arg(file);
        }
        if step.restore_from.is_none() {
            command.arg(image).arg("--").args(&program.args);
        }
        command.stdin(match &stdin {
            Some(file) => Stdio::from(file.try_clone().expect("dup stdin")),
            None => Stdio::null(),
        });
        let output = command.output().expect("run xisa");
        stdout.extend_from_slice(&output.stdout);
        let (ours, guest): (Vec<&str>, Vec<&str>) = std::str::from_utf8(&output.stderr)
            .unwrap_or("")
            .split_inclusive('\n')
            .partition(|line| line.starts_with("xisa: checkpoint written"));
        stderr.extend_from_slice(guest.concat().as_bytes());
        let last = i + 1 == steps.len();
        if !last {
            let Some((n, file)) = step.capture else {
                unreachable!("only the last step runs to the end")
            };
            if ours.is_empty() || !file.exists() || !output.status.success() {
                return Err(format!(
                    "step {} on {} did not capture at point {n}: status {:?}, stderr {}",
                    i + 1,
                    step.place.name,
                    output.status.code(),
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
        }
        status = Some(output.status);
    }
    Ok(Output {
        status: status.expect("at least one step"),
        stdout,
        stderr,
    })
}

/// Migration points an uninterrupted run passes (from `xisa run -v`).
fn count_points(program: &CorpusProgram, image: &Path, place: &Executor, dir: &Path) -> u64 {
    let sandbox = dir.join(format!("{}.count", program.name));
    let _ = std::fs::remove_dir_all(&sandbox);
    std::fs::create_dir_all(&sandbox).expect("sandbox");
    if let Some(input) = &program.input_dir {
        copy_tree(input, &sandbox);
    }
    let mut command = Command::new(xisa());
    command.arg("run").arg("-v").args(&place.run_args);
    command.arg("--dir").arg(&sandbox);
    for env in &program.env {
        command.arg("--env").arg(env);
    }
    command.arg(image).arg("--").args(&program.args);
    command.stdin(match &program.stdin {
        Some(file) => Stdio::from(std::fs::File::open(file).expect("stdin")),
        None => Stdio::null(),
    });
    let output = command.output().expect("run xisa");
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .find_map(|line| {
            line.strip_prefix("xisa: ")?
                .strip_suffix(" migration points passed")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| {
            panic!(
                "{}: `xisa run -v` did not report its migration points:\n{}",
                program.name,
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

#[test]
fn corpus_migrates_between_every_pair_of_targets() {
    let seed = seed();
    println!("migration matrix seed {seed} (set XISA_TEST_SEED={seed} to repeat)");
    let (core, process) = places();
    let places: Vec<Executor> = core.iter().chain(&process).cloned().collect();
    let programs = corpus();
    let dir = work_dir("migration");
    let results = parallel_map(&programs, threads(), |program| {
        let mut lines = Vec::new();
        let mut failed = false;
        let image = match build(program, &dir) {
            Ok(image) => image,
            Err(e) => return (vec![format!("FAIL build {}: {e}", program.name)], true),
        };
        let here: Vec<&Executor> = places.iter().filter(|p| p.runs(program)).collect();
        let pinned = native_state(&image);
        let total = count_points(program, &image, here[0], &dir);
        if total == 0 {
            return (
                vec![format!(
                    "FAIL {}: no migration point was passed",
                    program.name
                )],
                true,
            );
        }
        let mut rng = Rng(seed
            ^ program.name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            })
            | 1);
        let middle = total.div_ceil(2);
        let mut points = vec![1, middle, total, 1 + rng.next() % total];
        points.sort_unstable();
        points.dedup();
        let mut check = |label: String, steps: &[Step<'_>], sandbox: &Path| match run_steps(
            program, &image, sandbox, steps,
        )
        .and_then(|output| compare(program, &output, sandbox))
        {
            Ok(()) => lines.push(format!("ok   {label}")),
            Err(problem) => {
                failed = true;
                lines.push(format!("FAIL {label}: {problem}"));
            }
        };
        for &n in &points {
            for source in &here {
                let checkpoint = dir.join(format!(
                    "{}.{}.{n}.ckpt",
                    program.name,
                    source.name.replace('/', "-")
                ));
                for destination in &here {
                    let in_core = [source, destination]
                        .iter()
                        .all(|e| core.iter().any(|c| c.name == e.name));
                    if !in_core && n != middle {
                        continue;
                    }
                    let poison = source.name == destination.name;
                    if !pinned.is_empty() && source.target != destination.target {
                        // Checkpoints of such programs resume only on the capturing ISA;
                        // the refusal itself is checked once below.
                        continue;
                    }
                    if poison && !(source.is_native() && n != 1 && n != total) {
                        continue;
                    }
                    let sandbox = dir.join(format!(
                        "{}.{}.{}.{n}.sandbox",
                        program.name,
                        source.name.replace('/', "-"),
                        destination.name.replace('/', "-")
                    ));
                    let steps = [
                        Step {
                            place: source,
                            restore_from: None,
                            capture: Some((n, &checkpoint)),
                            poison: false,
                        },
                        Step {
                            place: destination,
                            restore_from: Some(&checkpoint),
                            capture: None,
                            poison,
                        },
                    ];
                    let how = if poison { " (poisoned)" } else { "" };
                    check(
                        format!(
                            "{} at point {n}/{total}: {} -> {}{how}",
                            program.name, source.name, destination.name
                        ),
                        &steps,
                        &sandbox,
                    );
                }
            }
        }
        if !pinned.is_empty() {
            let (first, other) = (here[0], here[here.len() - 1]);
            let checkpoint = dir.join(format!("{}.pinned.ckpt", program.name));
            let sandbox = dir.join(format!("{}.pinned.sandbox", program.name));
            let steps = [Step {
                place: first,
                restore_from: None,
                capture: Some((middle, &checkpoint)),
                poison: false,
            }];
            let _ = run_steps(program, &image, &sandbox, &steps);
            let refused = Command::new(xisa())
                .arg("restore")
                .arg(&checkpoint)
                .arg("--image")
                .arg(&image)
                .args(&other.run_args)
                .output()
                .expect("run xisa restore");
            let message = String::from_utf8_lossy(&refused.stderr);
            if refused.status.success() || !message.contains("resumes only on") {
                failed = true;
                lines.push(format!(
                    "FAIL {}: restoring a {} checkpoint on {} was not refused: {message}",
                    program.name, first.name, other.name
                ));
            } else {
                lines.push(format!(
                    "ok   {} ({}): {} checkpoint refused on {}",
                    program.name,
                    pinned.join(", "),
                    first.name,
                    other.name
                ));
            }
            return (lines, failed);
        }
        // A chain with a capture at each hop, through every kind of executor.
        let aarch64 = places
            .iter()
            .rfind(|p| p.target == "aarch64")
            .cloned()
            .expect("aarch64");
        let chain: Vec<Executor> = [
            x86_place(),
            Executor::wasm64(),
            aarch64,
            Executor::process_x86_64(),
        ]
        .into_iter()
        .filter(|p| p.runs(program))
        .collect();
        if total >= 3 && chain.len() >= 3 {
            let hop = (total / chain.len() as u64).max(1);
            let files: Vec<PathBuf> = (0..chain.len())
                .map(|i| dir.join(format!("{}.chain.{i}.ckpt", program.name)))
                .collect();
            let steps: Vec<Step<'_>> = chain
                .iter()
                .enumerate()
                .map(|(i, place)| Step {
                    place,
                    restore_from: (i > 0).then(|| files[i - 1].as_path()),
                    capture: (i + 1 < chain.len()).then(|| (hop, files[i].as_path())),
                    poison: false,
                })
                .collect();
            let names: Vec<&str> = chain.iter().map(|p| p.name).collect();
            check(
                format!(
                    "{} chain {} (every {hop} points)",
                    program.name,
                    names.join(" -> ")
                ),
                &steps,
                &dir.join(format!("{}.chain.sandbox", program.name)),
            );
        } else {
            lines.push(format!(
                "SKIPPED {} chain: {total} migration points and {} targets (needs 3 of each)",
                program.name,
                chain.len()
            ));
        }
        (lines, failed)
    });
    let mut failures = 0;
    let mut cases = 0;
    for (lines, failed) in &results {
        for line in lines {
            println!("{line}");
            if !line.starts_with("SKIPPED") {
                cases += 1;
            }
        }
        if *failed {
            failures += 1;
        }
    }
    println!("{cases} migration cases over {} programs", programs.len());
    assert_eq!(
        failures, 0,
        "{failures} programs failed to migrate (see above)"
    );
}
