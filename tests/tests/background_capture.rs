//! Copy-on-write capture: with `--then continue` the program is held only to take its frames
//! and write-protect its memory, and carries on while its pages are written. The run must
//! print exactly what an uninterrupted run prints, and its checkpoint must resume anywhere
//! as a stop-the-world checkpoint at the same point does; process mode (memory shared with
//! another process) captures with the program held.

use std::path::Path;
use std::process::{Command, Output};

use xisa_e2e::*;

fn run(image: &Path, executor: &Executor, extra: &[&str], args: &[&str]) -> Output {
    Command::new(xisa())
        .arg("run")
        .args(&executor.run_args)
        .args(extra)
        .arg(image)
        .arg("--")
        .args(args)
        .output()
        .expect("run xisa")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_capture_in_the_background_matches_one_with_the_program_held() {
    let program = corpus()
        .into_iter()
        .find(|p| p.name == "malloc_churn")
        .expect("malloc_churn is in the corpus");
    let dir = work_dir("background_capture");
    let image = build(&program, &dir).expect("build");
    let args: Vec<&str> = program.args.iter().map(String::as_str).collect();
    let sandbox = dir.join("sandbox");
    std::fs::create_dir_all(&sandbox).unwrap();
    let total = migration_points(&image, &x86_64_executor(), &sandbox, &args, None)
        .expect("count migration points");
    let point = (total / 2).max(1).to_string();
    for executor in executors() {
        let name = executor.name.replace('/', "-");
        let held = dir.join(format!("{name}.held.ckpt"));
        let background = dir.join(format!("{name}.background.ckpt"));
        for path in [&held, &background] {
            let _ = std::fs::remove_file(path);
        }
        let exit_at = ["--checkpoint-at", &point, "--checkpoint-to"];
        let mut held_args: Vec<&str> = exit_at.to_vec();
        held_args.push(held.to_str().unwrap());
        let before = run(&image, &executor, &held_args, &args);
        assert!(
            before.status.success(),
            "{}: {}",
            executor.name,
            stderr(&before)
        );
        let mut continue_args: Vec<&str> = exit_at.to_vec();
        continue_args.extend([background.to_str().unwrap(), "--then", "continue"]);
        let whole = run(&image, &executor, &continue_args, &args);
        assert_eq!(
            whole.status.code(),
            Some(program.expected_status),
            "{}: {}",
            executor.name,
            stderr(&whole)
        );
        assert!(
            whole.stdout == program.expected_stdout,
            "{}: the run that captured and carried on printed something else: {}",
            executor.name,
            first_difference(&program.expected_stdout, &whole.stdout)
        );
        let in_background = stderr(&whole).contains("in the background");
        assert_eq!(
            in_background,
            !executor.name.starts_with("process"),
            "{}: {}",
            executor.name,
            stderr(&whole)
        );
        // Both checkpoints resume to the same end on another ISA.
        let elsewhere = if executor.target == "wasm64" {
            x86_64_executor()
        } else {
            Executor::wasm64()
        };
        for checkpoint in [&held, &background] {
            let resumed = Command::new(xisa())
                .args(["restore", "--image"])
                .arg(&image)
                .args(&elsewhere.run_args)
                .arg(checkpoint)
                .output()
                .unwrap();
            let mut output = before.stdout.clone();
            output.extend_from_slice(&resumed.stdout);
            assert!(
                output == program.expected_stdout,
                "{}: {} resumed on {} differs: {}",
                executor.name,
                checkpoint.display(),
                elsewhere.name,
                first_difference(&program.expected_stdout, &output)
            );
        }
        println!(
            "ok   {:<15} capture at point {point}{}, resumed on {}",
            executor.name,
            if in_background {
                " in the background"
            } else {
                " with the program held"
            },
            elsewhere.name
        );
    }
}
