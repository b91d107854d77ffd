//! Short fuzzing runs of the two readers of untrusted bytes: the checkpoint reader
//! (`format/fuzz/run-short 30`: mutated checkpoints, seeded from the committed corpus, into the
//! reader and everything a valid checkpoint offers) and the node protocol's frame decoder
//! (`node/fuzz/run-short 20`). Without cargo-fuzz each script replays its corpus on stable
//! Rust; the test then says SKIPPED for the fuzzing itself.

use std::process::Command;

use xisa_e2e::*;

#[test]
fn checkpoint_reader_survives_a_short_fuzz_run() {
    fuzz_for("format/fuzz/run-short", 30, "the checkpoint reader");
}

#[test]
fn node_message_decoder_survives_a_short_fuzz_run() {
    fuzz_for("node/fuzz/run-short", 20, "the node message decoder");
}

/// Runs `script` for `seconds` and checks that libFuzzer ran many inputs without a crash (or,
/// without cargo-fuzz, that the corpus replayed).
fn fuzz_for(script: &str, seconds: u32, what: &str) {
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
    let output = Command::new(repo_root().join(script))
        .arg(seconds.to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail = |text: &str| {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    assert!(
        output.status.success(),
        "{script} {seconds} failed ({:?}); a crashing input is saved under its artifacts/:\n{}\n{}",
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
            assert!(runs > 1000, "only {runs} inputs were run in {seconds} s");
            println!(
                "ok   {version}: {runs} inputs through {what} in {:.0} s, no crash",
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
            println!("SKIPPED fuzzing {what}: {reason}");
        }
    }
}
