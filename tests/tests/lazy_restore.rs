//! Lazy restore: `xisa restore` starts the guest at once, maps the pages the checkpoint keeps
//! raw in its page store straight from the file, and fills each other page on first touch
//! (the rest in the background), on every executor whose guest memory is its own; process
//! mode restores eagerly and says why. Both modes must give an uninterrupted run's output,
//! and `-v` / `--stats` must say which mode ran and how many pages it mapped and filled. A
//! damaged page store fails the run that mapped it.

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

/// Captures `program` half-way on the x86-64 executor into `checkpoint`, pages compressed
/// or raw (`--compress`); the captured run's output.
fn capture_half_way(
    program: &CorpusProgram,
    image: &Path,
    dir: &Path,
    checkpoint: &Path,
    compress: &str,
) -> Output {
    let capture_on = x86_64_executor();
    let sandbox = dir.join("sandbox");
    std::fs::create_dir_all(&sandbox).unwrap();
    let args: Vec<&str> = program.args.iter().map(String::as_str).collect();
    let total = migration_points(image, &capture_on, &sandbox, &args, None)
        .expect("count migration points");
    let _ = std::fs::remove_file(checkpoint);
    let captured = Command::new(xisa())
        .arg("run")
        .args(&capture_on.run_args)
        .args(["--compress", compress])
        .arg("--checkpoint-at")
        .arg((total / 2).max(1).to_string())
        .arg("--checkpoint-to")
        .arg(checkpoint)
        .arg(image)
        .arg("--")
        .args(&program.args)
        .output()
        .unwrap();
    assert!(captured.status.success(), "capture: {}", text(&captured));
    captured
}

fn malloc_churn() -> CorpusProgram {
    corpus()
        .into_iter()
        .find(|p| p.name == "malloc_churn")
        .expect("malloc_churn is in the corpus")
}

#[test]
fn lazy_and_eager_restores_resume_the_same_program_on_every_executor() {
    let program = malloc_churn();
    let dir = work_dir("lazy_restore");
    let image = build(&program, &dir).expect("build");
    for compress in ["zstd", "none"] {
        let checkpoint = dir.join(format!("half-{compress}.ckpt"));
        let captured = capture_half_way(&program, &image, &dir, &checkpoint, compress);
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
                        let (mapped, touched, background) = lazy_restore_pages(&stderr)
                            .unwrap_or_else(|| {
                                panic!("{}: no lazy restore reported: {stderr}", executor.name)
                            });
                        assert!(
                            mapped + touched + background > 0,
                            "{}: the lazy restore filled no page: {stderr}",
                            executor.name
                        );
                        // Raw pages lie in the page store: they are all mapped, none copied.
                        if compress == "none" {
                            assert!(
                                mapped > 0 && touched + background < mapped,
                                "{}: raw pages were copied, not mapped: {stderr}",
                                executor.name
                            );
                        }
                        println!(
                            "ok   {:<15} {compress} lazy: {mapped} pages mapped, {touched} on first touch, {background} in the background",
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
                            lazy_restore_pages(&stderr).is_none(),
                            "{}: --eager restored lazily: {stderr}",
                            executor.name
                        );
                        println!("ok   {:<15} {compress} eager", executor.name);
                    }
                }
            }
        }
    }
}

#[test]
fn a_damaged_page_store_fails_the_run_that_mapped_it_and_is_refused_before_an_eager_one() {
    let program = malloc_churn();
    let dir = work_dir("lazy_restore_damaged");
    let image = build(&program, &dir).expect("build");
    let checkpoint = dir.join("raw.ckpt");
    capture_half_way(&program, &image, &dir, &checkpoint, "none");
    let mut bytes = std::fs::read(&checkpoint).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    let damaged = dir.join("damaged.ckpt");
    std::fs::write(&damaged, &bytes).unwrap();
    for executor in executors() {
        for (mode, extra) in [("lazy", &[][..]), ("eager", &["--eager"][..])] {
            let resumed = restore(&damaged, &image, &executor, extra);
            let stderr = text(&resumed);
            assert!(
                !resumed.status.success()
                    && stderr.contains("page store of")
                    && stderr.contains("damaged.ckpt")
                    && stderr.contains("checksum mismatch"),
                "{} {mode}: a damaged page store was not reported: {stderr}",
                executor.name
            );
            println!("ok   {:<15} {mode}: refused", executor.name);
        }
    }
    let validated = Command::new(xisa())
        .args(["validate"])
        .arg(&damaged)
        .output()
        .unwrap();
    assert!(
        !validated.status.success() && text(&validated).contains("page store"),
        "validate: {}",
        text(&validated)
    );
}
