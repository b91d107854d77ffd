//! Asynchronous capture requests: a running `xisa run --checkpoint-to F` is asked to capture
//! by `xisa checkpoint --pid P` or by SIGUSR1 itself, writes the checkpoint at its next
//! migration point (exiting, or continuing with `--then continue`), reports the capture with
//! its response latency in `--stats`, and the checkpoint resumes on another target with the
//! output of an uninterrupted run. `xisa checkpoint --pid` refuses processes it cannot ask.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};

use xisa_e2e::*;

/// Prints `ready`, waits for a line on stdin (so the test can ask for a capture while it
/// waits), sleeps 200 ms (so the request is surely registered before the next migration
/// point), then computes and prints rounds, appending each to progress.txt.
const PROGRAM: &str = r#"
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__attribute__((noinline)) static unsigned long step(unsigned long h, long i)
{
    return (h ^ (unsigned long)i) * 0x100000001b3UL;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 8, per = argc > 2 ? atol(argv[2]) : 100000;
    FILE *out = fopen("progress.txt", "w");
    if (!out)
        return 1;
    printf("ready\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin))
        return 2;
    struct timespec pause = {0, 200000000};
    nanosleep(&pause, NULL);
    unsigned long h = 1469598103934665603UL;
    for (long r = 0; r < rounds; r++) {
        for (long i = 0; i < per; i++)
            h = step(h, i);
        printf("round %ld %016lx\n", r, h);
        fflush(stdout);
        fprintf(out, "%ld %016lx\n", r, h);
        fflush(out);
    }
    fclose(out);
    printf("done %016lx\n", h);
    return 0;
}
"#;

const ARGS: [&str; 2] = ["8", "100000"];

/// A run in the background, stopped at its `ready` line.
struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    first: String,
}

/// Starts `xisa run` (or, with `from`, `xisa restore` of that checkpoint) in the background.
fn start(
    image: &Path,
    executor: &Executor,
    sandbox: &Path,
    capture: &[&str],
    from: Option<&Path>,
) -> Running {
    if from.is_none() {
        let _ = std::fs::remove_dir_all(sandbox);
        std::fs::create_dir_all(sandbox).unwrap();
    }
    let mut command = Command::new(xisa());
    match from {
        None => command.arg("run"),
        Some(checkpoint) => command
            .arg("restore")
            .arg(checkpoint)
            .arg("--image")
            .arg(image),
    };
    command
        .args(&executor.run_args)
        .arg("--dir")
        .arg(sandbox)
        .args(capture);
    if from.is_none() {
        command.arg(image).arg("--").args(ARGS);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start xisa");
    let stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(
        first, "ready\n",
        "the program did not start on {}",
        executor.name
    );
    Running {
        child,
        stdin,
        stdout,
        first,
    }
}

impl Running {
    /// Lets the program go on and waits for the end; stdout includes the `ready` line.
    fn finish(mut self) -> Output {
        self.stdin.write_all(b"go\n").unwrap();
        drop(self.stdin);
        let mut rest = Vec::new();
        self.stdout.read_to_end(&mut rest).unwrap();
        let mut stderr = Vec::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_end(&mut stderr)
            .unwrap();
        let status = self.child.wait().unwrap();
        let mut stdout = self.first.into_bytes();
        stdout.extend(rest);
        Output {
            status,
            stdout,
            stderr,
        }
    }
}

fn ask(pid: u32) -> Output {
    Command::new(xisa())
        .args(["checkpoint", "--pid", &pid.to_string()])
        .output()
        .unwrap()
}

fn restore(checkpoint: &Path, image: &Path, executor: &Executor, sandbox: &Path) -> Output {
    Command::new(xisa())
        .arg("restore")
        .arg(checkpoint)
        .arg("--image")
        .arg(image)
        .args(&executor.run_args)
        .arg("--dir")
        .arg(sandbox)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

struct Setup {
    dir: PathBuf,
    image: PathBuf,
    full: Vec<u8>,
    progress: Vec<u8>,
    points: u64,
}

fn setup(name: &str) -> Setup {
    let dir = work_dir(&format!("checkpoint_signal/{name}"));
    let source = dir.join("gated.c");
    std::fs::write(&source, PROGRAM).unwrap();
    let image = dir.join("gated.xisa");
    build_source(&source, &image).unwrap();
    let sandbox = dir.join("full");
    let output = start(&image, &Executor::wasm64(), &sandbox, &[], None).finish();
    assert!(output.status.success(), "the uninterrupted run failed");
    let progress = std::fs::read(sandbox.join("progress.txt")).unwrap();
    let go = dir.join("go.txt");
    std::fs::write(&go, "go\n").unwrap();
    let points = migration_points(&image, &Executor::wasm64(), &sandbox, &ARGS, Some(&go))
        .expect("count points");
    Setup {
        dir,
        image,
        full: output.stdout,
        progress,
        points,
    }
}

/// Checks `--stats` of a run that captured once on request: the capture, its size and its
/// response latency.
fn check_stats(stats: &Path, checkpoint: &Path, points: u64) -> Result<(), String> {
    let text = std::fs::read_to_string(stats).map_err(|e| format!("no --stats file: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("--stats is not JSON ({e}): {text}"))?;
    let captures = value["captures"]
        .as_array()
        .ok_or(format!("--stats has no captures: {text}"))?;
    if captures.len() != 1 {
        return Err(format!("{} captures instead of 1: {text}", captures.len()));
    }
    let capture = &captures[0];
    let response = capture["response_us"]
        .as_f64()
        .ok_or(format!("the capture has no response latency: {text}"))?;
    // The program sleeps 200 ms between the request and its next migration point.
    if !(150_000.0..30_000_000.0).contains(&response) {
        return Err(format!("response latency {response} µs is implausible"));
    }
    let size = std::fs::metadata(checkpoint).map(|m| m.len()).unwrap_or(0);
    if capture["bytes"].as_u64() != Some(size) || capture["frames"].as_u64().unwrap_or(0) == 0 {
        return Err(format!(
            "the capture's size or frames are wrong ({size} bytes): {text}"
        ));
    }
    let point = capture["point"].as_u64().unwrap_or(0);
    if point == 0 || point > points {
        return Err(format!(
            "the capture reports migration point {point}, but the program passes only {points}: {text}"
        ));
    }
    println!("     capture responded in {:.1} ms", response / 1e3);
    Ok(())
}

#[test]
fn xisa_checkpoint_pid_captures_a_running_program_that_resumes_elsewhere() {
    let setup = setup("pid");
    let mut failures = Vec::new();
    let x86 = x86_64_executor();
    // The last case asks a running `xisa restore`: a checkpoint taken at the first
    // migration point (main's entry) is resumed on x86_64 and asked there.
    for (source, destination, restored) in [
        (x86.clone(), Executor::emu_aarch64(), false),
        (Executor::wasm64(), x86.clone(), false),
        (x86.clone(), Executor::emu_aarch64(), true),
    ] {
        let how = if restored { "restore on " } else { "" };
        let label = format!("{how}{} -> {}", source.name, destination.name);
        let tag = format!(
            "{}{}",
            source.name.replace('/', "-"),
            if restored { ".restore" } else { "" }
        );
        let checkpoint = setup.dir.join(format!("{tag}.ckpt"));
        let stats = setup.dir.join(format!("{tag}.stats.json"));
        let _ = std::fs::remove_file(&checkpoint);
        let sandbox = setup.dir.join(format!("{tag}.sandbox"));
        let checkpoint_to = checkpoint.to_str().unwrap();
        let stats_to = stats.to_str().unwrap();
        let first = setup.dir.join(format!("{tag}.first.ckpt"));
        if restored {
            let _ = std::fs::remove_dir_all(&sandbox);
            std::fs::create_dir_all(&sandbox).unwrap();
            let output = Command::new(xisa())
                .arg("run")
                .args(&Executor::wasm64().run_args)
                .arg("--dir")
                .arg(&sandbox)
                .args(["--checkpoint-at", "1", "--checkpoint-to"])
                .arg(&first)
                .arg(&setup.image)
                .arg("--")
                .args(ARGS)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                output.status.success() && output.stdout.is_empty() && first.exists(),
                "no checkpoint at main's entry: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let running = start(
            &setup.image,
            &source,
            &sandbox,
            &["--checkpoint-to", checkpoint_to, "--stats", stats_to],
            restored.then_some(first.as_path()),
        );
        let asked = ask(running.child.id());
        let run = running.finish();
        let said = String::from_utf8_lossy(&asked.stderr);
        if !asked.status.success() || !said.contains("to checkpoint at its next migration point") {
            failures.push(format!("{label}: xisa checkpoint --pid failed: {said}"));
            continue;
        }
        if !run.status.success() || !checkpoint.exists() {
            failures.push(format!(
                "{label}: no checkpoint (status {:?}): {}",
                run.status.code(),
                String::from_utf8_lossy(&run.stderr)
            ));
            continue;
        }
        if let Err(problem) = check_stats(&stats, &checkpoint, setup.points) {
            failures.push(format!("{label}: {problem}"));
        }
        let resumed = restore(&checkpoint, &setup.image, &destination, &sandbox);
        let mut total = run.stdout.clone();
        total.extend_from_slice(&resumed.stdout);
        let progress = std::fs::read(sandbox.join("progress.txt")).unwrap_or_default();
        if !resumed.status.success() || total != setup.full || progress != setup.progress {
            failures.push(format!(
                "{label}: status {:?}, stdout {}, progress.txt {}; stderr {}",
                resumed.status.code(),
                first_difference(&setup.full, &total),
                first_difference(&setup.progress, &progress),
                String::from_utf8_lossy(&resumed.stderr).trim()
            ));
            continue;
        }
        println!(
            "ok   {label}: captured on request after {} lines, resumed with the rest",
            run.stdout.iter().filter(|b| **b == b'\n').count()
        );
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn sigusr1_with_then_continue_captures_and_keeps_running() {
    let setup = setup("sigusr1");
    let x86 = x86_64_executor();
    let checkpoint = setup.dir.join("continue.ckpt");
    let stats = setup.dir.join("continue.stats.json");
    let _ = std::fs::remove_file(&checkpoint);
    let sandbox = setup.dir.join("continue.sandbox");
    let running = start(
        &setup.image,
        &x86,
        &sandbox,
        &[
            "--checkpoint-to",
            checkpoint.to_str().unwrap(),
            "--then",
            "continue",
            "--stats",
            stats.to_str().unwrap(),
        ],
        None,
    );
    let signal = Command::new("kill")
        .args(["-USR1", &running.child.id().to_string()])
        .status()
        .unwrap();
    assert!(signal.success(), "kill -USR1 failed");
    let run = running.finish();
    assert!(
        run.status.success(),
        "the run failed after SIGUSR1: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(checkpoint.exists(), "SIGUSR1 wrote no checkpoint");
    // Continuing leaves the run's own results untouched.
    assert!(
        run.stdout == setup.full,
        "the continued run's stdout differs: {}",
        first_difference(&setup.full, &run.stdout)
    );
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("xisa: checkpoint written to"),
        "the capture was not reported: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    if let Err(problem) = check_stats(&stats, &checkpoint, setup.points) {
        panic!("{problem}");
    }
    // The checkpoint resumes on wasm64 from where it was taken: it prints the tail of the
    // output and rewrites progress.txt's tail with the same bytes.
    let resumed = restore(&checkpoint, &setup.image, &Executor::wasm64(), &sandbox);
    assert!(
        resumed.status.success(),
        "restore on wasm64 failed: {}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(
        !resumed.stdout.is_empty()
            && resumed.stdout.len() < setup.full.len()
            && setup.full.ends_with(&resumed.stdout),
        "the resumed output is not the tail of the full output:\n{}",
        String::from_utf8_lossy(&resumed.stdout)
    );
    let progress = std::fs::read(sandbox.join("progress.txt")).unwrap();
    assert!(
        progress == setup.progress,
        "progress.txt after the restore: {}",
        first_difference(&setup.progress, &progress)
    );
    println!(
        "ok   SIGUSR1 on {} with --then continue; resumed on wasm64 with the last {} bytes",
        x86.name,
        resumed.stdout.len()
    );
}

#[test]
fn xisa_checkpoint_refuses_processes_it_cannot_ask() {
    // A process that is not xisa.
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let output = ask(sleeper.id());
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    let message = refused(&output, &["is not an `xisa run` or `xisa restore`"]).unwrap();
    println!("ok   a sleep process: {message}");

    // No such process.
    let output = Command::new(xisa())
        .args(["checkpoint", "--pid", "2147483647"])
        .output()
        .unwrap();
    let message = refused(&output, &["no process 2147483647"]).unwrap();
    println!("ok   no such process: {message}");

    // A run without --checkpoint-to is refused and not disturbed.
    let setup = setup("refusals");
    let running = start(
        &setup.image,
        &Executor::wasm64(),
        &setup.dir.join("plain"),
        &[],
        None,
    );
    let output = ask(running.child.id());
    let run = running.finish();
    let message = refused(
        &output,
        &[
            "was started without --checkpoint-to",
            "--checkpoint-to FILE",
        ],
    )
    .unwrap();
    println!("ok   a run without --checkpoint-to: {message}");
    assert!(
        run.status.success() && run.stdout == setup.full,
        "the run was disturbed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}
