//! Every corpus program builds into one image that `xisa verify` accepts and prints exactly
//! its expected output (stdout, stderr, status, files) on every executor.

use std::process::Command;

use xisa_e2e::*;

#[test]
fn corpus_builds_verifies_and_matches_native_output() {
    let programs = corpus();
    assert!(
        programs.len() >= 25 || std::env::var_os("XISA_TEST_PROGRAMS").is_some(),
        "the corpus has only {} programs",
        programs.len()
    );
    let dir = work_dir("corpus");
    let executors = executors();
    let results = parallel_map(&programs, threads(), |program| {
        let mut lines = Vec::new();
        let mut failed = false;
        let image = match build(program, &dir) {
            Ok(image) => image,
            Err(e) => return (vec![format!("FAIL build    {}: {e}", program.name)], true),
        };
        let verify = Command::new(xisa())
            .arg("verify")
            .arg(&image)
            .output()
            .expect("run xisa verify");
        if !verify.status.success() {
            failed = true;
            lines.push(format!(
                "FAIL verify   {}: {}",
                program.name,
                String::from_utf8_lossy(&verify.stderr)
            ));
        }
        for executor in &executors {
            if !executor.runs(program) {
                lines.push(format!(
                    "skip {:<15} {} (not built for {})",
                    executor.name, program.name, executor.target
                ));
                continue;
            }
            let (output, sandbox) = run(program, &image, executor, &dir);
            match compare(program, &output, &sandbox) {
                Ok(()) => lines.push(format!("ok   {:<15} {}", executor.name, program.name)),
                Err(problem) => {
                    failed = true;
                    lines.push(format!(
                        "FAIL {:<8} {}: {problem}",
                        executor.name, program.name
                    ));
                }
            }
        }
        (lines, failed)
    });
    let mut failures = 0;
    for (lines, failed) in &results {
        for line in lines {
            println!("{line}");
        }
        failures += usize::from(*failed);
    }
    println!(
        "executors run: {}",
        executors
            .iter()
            .map(|e| e.name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert_eq!(failures, 0, "{failures} corpus programs failed (see above)");
}
