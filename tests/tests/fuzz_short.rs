//! A short fuzzing run of the checkpoint reader (`format/fuzz/run-short 30`): libFuzzer
//! feeds mutated checkpoints, seeded from the committed corpus, to the reader and to
//! everything a valid checkpoint offers. Without cargo-fuzz the script replays the corpus
//! on stable Rust; the test then says SKIPPED for the fuzzing itself.

use std::process::Command;

use xisa_e2e::*;

#[test]
fn checkpoint_reader_survives_a_short_fuzz_run() {
    let fuzz = Command::new("cargo").args(["fuzz", "--version"]).output();
    let cargo_fuzz = match &fuzz {
        Ok(output) if output.status.success() => {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
        }
        Ok(output) => Err(format!(
            "`cargo fuzz --version` failed: {} (scripts/setup installs cargo-fuzz)",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run cargo: {e}")),
    };
    let started = std::time::Instant::now();
    let output = Command::new(repo_root().join("format/fuzz/run-short"))
        .arg("30")
        .output()
        .expect("run format/fuzz/run-short");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail = |text: &str| {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    assert!(
        output.status.success(),
        "format/fuzz/run-short 30 failed ({:?}); a crashing input is saved under \
         format/fuzz/artifacts/checkpoint_reader/:\n{}\n{}",
        output.status,
        tail(&stdout),
        tail(&stderr)
    );
    match cargo_fuzz {
        Ok(version) => {
            // libFuzzer's closing statistics prove inputs were really run.
            let runs: u64 = stderr
                .lines()
                .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or_else(|| panic!("no libFuzzer statistics:\n{}", tail(&stderr)));
            assert!(runs > 1000, "only {runs} inputs were run in 30 s");
            println!(
                "ok   {version}: {runs} inputs through the checkpoint reader in {:.0} s, no crash",
                started.elapsed().as_secs_f64()
            );
        }
        Err(reason) => {
            assert!(
                stderr.contains("replaying the corpus")
                    && stdout.contains("corpus_replays_without_panics ... ok"),
                "the corpus replay did not run:\n{}\n{}",
                tail(&stdout),
                tail(&stderr)
            );
            println!("ok   the committed corpus replays without panics");
            println!("SKIPPED fuzzing the checkpoint reader: {reason}");
        }
    }
}
