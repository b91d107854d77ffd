//! Lazy restore: `xisa restore` starts the guest at once and fills each page of the checkpoint
//! on first touch (the rest in the background), on every executor whose guest memory is its
//! own; process mode restores eagerly and says why. Both modes must give an uninterrupted
//! run's output, and `-v` / `--stats` must say which mode ran and how many pages it filled.

use std::path::Path;
use std::process::{Command, Output};

use xisa_e2e::*;

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn restore(checkpoint: &Path, image: &Path, executor: &Executor, extra: &[&str]) -> Output {
    Command::new(xisa())
        .args(["restore", "-v", "--image"])
        .arg(image)
        .args(&executor.run_args)
        .args(extra)
        .arg(checkpoint)
        .output()
        .expect("run xisa restore")
}

/// The pages a lazy restore reports: (on first touch, in the background).
fn lazy_pages(stderr: &str) -> Option<(u64, u64)> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("xisa: lazy restore: "))?;
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    Some((numbers[0], numbers[1]))
}

#[test]
fn lazy_and_eager_restores_resume_the_same_program_on_every_executor() {
    let program = corpus()
        .into_iter()
        .find(|p| p.name == "malloc_churn")
        .expect("malloc_churn is in the corpus");
    let dir = work_dir("lazy_restore");
    let image = build(&program, &dir).expect("build");
    let capture_on = x86_64_executor();
    let sandbox = dir.join("sandbox");
    std::fs::create_dir_all(&sandbox).unwrap();
    let args: Vec<&str> = program.args.iter().map(String::as_str).collect();
    let total = migration_points(&image, &capture_on, &sandbox, &args, None)
        .expect("count migration points");
    let checkpoint = dir.join("half.ckpt");
    let _ = std::fs::remove_file(&checkpoint);
    let captured = Command::new(xisa())
        .arg("run")
        .args(&capture_on.run_args)
        .arg("--checkpoint-at")
        .arg((total / 2).max(1).to_string())
        .arg("--checkpoint-to")
        .arg(&checkpoint)
        .arg(&image)
        .arg("--")
        .args(&program.args)
        .output()
        .unwrap();
    assert!(captured.status.success(), "capture: {}", text(&captured));
    for executor in executors() {
        let shares_memory = executor.name.starts_with("process");
        for mode in ["lazy", "eager"] {
            let extra: &[&str] = if mode == "eager" { &["--eager"] } else { &[] };
            let resumed = restore(&checkpoint, &image, &executor, extra);
            let stderr = text(&resumed);
            assert_eq!(
                resumed.status.code(),
                Some(program.expected_status),
                "{} {mode}: {stderr}",
                executor.name
            );
            let mut output = captured.stdout.clone();
            output.extend_from_slice(&resumed.stdout);
            assert!(
                output == program.expected_stdout,
                "{} {mode}: capture + resume differ from an uninterrupted run: {}",
                executor.name,
                first_difference(&program.expected_stdout, &output)
            );
            match (mode, shares_memory) {
                ("lazy", false) => {
                    let (touched, background) = lazy_pages(&stderr).unwrap_or_else(|| {
                        panic!("{}: no lazy restore reported: {stderr}", executor.name)
                    });
                    assert!(
                        touched + background > 0,
                        "{}: the lazy restore filled no page: {stderr}",
                        executor.name
                    );
                    println!(
                        "ok   {:<15} lazy: {touched} pages on first touch, {background} in the background",
                        executor.name
                    );
                }
                ("lazy", true) => {
                    assert!(
                        stderr.contains("restored eagerly: a lazy restore was not possible"),
                        "{}: {stderr}",
                        executor.name
                    );
                    println!(
                        "ok   {:<15} lazy asked, eager done (shared memory)",
                        executor.name
                    );
                }
                _ => {
                    assert!(
                        lazy_pages(&stderr).is_none(),
                        "{}: --eager restored lazily: {stderr}",
                        executor.name
                    );
                    println!("ok   {:<15} eager", executor.name);
                }
            }
        }
    }
}
