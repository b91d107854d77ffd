//! The migration benchmark end to end: `bench/migration/run` on two kernels, one move per
//! mode (stop-and-copy, pre-copy, post-copy), writes a report whose rows are moves that
//! happened and printed the right output.

use std::process::Command;

use xisa_e2e::*;

#[test]
fn migration_bench_moves_kernels_in_both_modes() {
    if which("python3").is_none() {
        println!("SKIPPED bench/migration/run: python3 is not installed");
        return;
    }
    let out = tempfile::tempdir().expect("temp dir");
    let target = x86_64_executor();
    let output = Command::new(repo_root().join("bench/migration/run"))
        .args(["--kernels", "is,mg", "--rounds", "1", "--target", "x86_64"])
        .arg("--out")
        .arg(out.path())
        .arg("--bin")
        .arg(profile_dir())
        .output()
        .expect("run bench/migration/run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stderr}");
    assert!(
        output.status.success(),
        "bench/migration/run failed ({}) on {}:\n{stderr}",
        output.status,
        target.name
    );
    let report = std::fs::read_to_string(out.path().join("migration.md")).expect("the report");
    for mode in ["stop-copy", "pre-copy", "post-copy"] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with("| is |") && l.contains(&format!("| {mode} |"))),
            "no {mode} move of is in the report:\n{report}"
        );
    }
    let csv = std::fs::read_to_string(out.path().join("migration.csv")).expect("the CSV");
    assert!(
        csv.lines().count() >= 7,
        "expected a header and six moves:\n{csv}"
    );
}
