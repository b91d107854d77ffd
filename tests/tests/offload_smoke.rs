//! The offload experiment end to end, small: `bench/offload/run --quick` with a server and one
//! board under both policies. Every job must end VERIFIED (the script checks each job's output
//! and exits 1 otherwise), and the report must name both policies and the targets.

use std::process::Command;

use xisa_e2e::*;

#[test]
fn the_offload_experiment_runs_both_policies_and_verifies_every_job() {
    if which("python3").is_none() {
        println!("SKIPPED offload smoke: python3 is not installed");
        return;
    }
    if which("qemu-aarch64").is_none() && which("qemu-aarch64-static").is_none() {
        println!("SKIPPED offload smoke: qemu-user (for the board node) is not installed");
        return;
    }
    let out = work_dir("offload_smoke");
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(repo_root().join("bench/offload/run"))
        .args(["--quick", "--setups", "1,1+1", "--policies", "hexo,xisa"])
        .args(["--jobs", "is:W,tree:W,ep:W,is:W,tree:W"])
        .arg("--out")
        .arg(&out)
        .arg("--bin")
        .arg(profile_dir())
        .output()
        .expect("run bench/offload/run");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "the experiment failed:\n{stderr}");
    let report = std::fs::read_to_string(out.join("offload.md")).expect("offload.md written");
    for needle in ["hexo", "xisa", "+67%", "1.2×"] {
        assert!(
            report.contains(needle),
            "the report does not mention {needle}:\n{report}"
        );
    }
    let runs = std::fs::read_dir(out.join("offload-runs"))
        .expect("offload-runs written")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
        .count();
    assert_eq!(
        runs, 3,
        "server alone, and server + board under each policy"
    );
}
