//! The benchmark suite end to end: `bench/run --smoke` builds every kernel in bench/kernels,
//! runs it plain and on every executor, checkpoints and resumes it, and writes its report
//! into a scratch folder. Every kernel must be VERIFIED on every executor that ran.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xisa_e2e::*;

/// Smoke mode is meant to finish in under two minutes; this only guards against a hang.
const LIMIT: Duration = Duration::from_secs(600);

fn kernels() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("bench/kernels"))
        .expect("bench/kernels exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Why the plain baseline cannot be built here, if it cannot.
fn baseline_missing() -> Option<String> {
    if which("python3").is_none() {
        return Some("python3 is not installed".into());
    }
    if which("clang-19").is_none() {
        return Some("clang-19 is not installed (scripts/setup)".into());
    }
    if !Path::new("/usr/lib/x86_64-linux-musl/libc.a").exists() {
        return Some("Debian's musl is not installed (package musl-dev)".into());
    }
    None
}

#[test]
fn bench_smoke_verifies_every_kernel_on_every_executor() {
    if let Some(reason) = baseline_missing() {
        println!("SKIPPED bench/run --smoke: {reason}");
        return;
    }
    let out = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let mut child = Command::new(repo_root().join("bench/run"))
        .arg("--smoke")
        .arg("--out")
        .arg(out.path())
        .arg("--bin")
        .arg(profile_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run bench/run");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for bench/run") {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bench/run --smoke took more than {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = child.wait_with_output().expect("bench/run output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    println!(
        "bench/run --smoke finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        status.success(),
        "bench/run --smoke failed ({status}):\n{stdout}\n{stderr}"
    );

    // What ran: everything except what the script said it skipped.
    let kvm = !stdout.contains("SKIPPED kvm/x86_64");
    if kvm {
        assert!(
            kvm_available().is_ok(),
            "bench/run used KVM although /dev/kvm does not open"
        );
    }
    let mut timed = vec!["plain", "wasm64", "emu/aarch64"];
    let mut restored = vec!["wasm64", "emu/aarch64"];
    let mut signalled = vec!["wasm64"];
    if cfg!(target_arch = "x86_64") {
        timed.push("process/x86_64 nomig");
    }
    if kvm {
        timed.extend(["kvm/x86_64 nomig", "kvm/x86_64", "kvm/x86_64 entry"]);
        restored.push("kvm/x86_64");
        signalled.push("kvm/x86_64");
    }
    let capture_on = if kvm { "kvm/x86_64" } else { "wasm64" };
    println!("executors that ran: {timed:?}; checkpoints captured on {capture_on}");

    let csv = std::fs::read_to_string(out.path().join("latest.csv")).expect("latest.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("latest.csv has no {name} column: {header:?}"))
    };
    let (kernel_at, config_at, metric_at, status_at) = (
        column("kernel"),
        column("configuration"),
        column("metric"),
        column("status"),
    );
    // (kernel, configuration, metric) of the rows that passed.
    let mut passed = BTreeSet::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        if matches!(fields[status_at], "VERIFIED" | "ok") {
            passed.insert((
                fields[kernel_at].to_string(),
                fields[config_at].to_string(),
                fields[metric_at].to_string(),
            ));
        }
    }
    let mut missing = Vec::new();
    let kernels = kernels();
    assert!(kernels.len() >= 8, "bench/kernels has only {kernels:?}");
    for kernel in &kernels {
        let mut expect = |config: String, metric: &str| {
            if !passed.contains(&(kernel.clone(), config.clone(), metric.to_string())) {
                missing.push(format!("{kernel} {config} {metric}"));
            }
        };
        for config in &timed {
            expect(config.to_string(), "wall");
        }
        expect(format!("capture {capture_on}"), "state");
        expect(format!("capture {capture_on}"), "size ratio");
        for target in &restored {
            expect(format!("restore {capture_on}->{target}"), "resume");
        }
        for target in &signalled {
            expect(format!("signal {target}"), "response");
        }
    }
    assert!(
        missing.is_empty(),
        "latest.csv lacks a VERIFIED/ok row for: {}\n{csv}",
        missing.join(", ")
    );

    let report = std::fs::read_to_string(out.path().join("latest.md")).expect("latest.md");
    assert!(report.contains("geomean") && report.contains("## Checkpoints"));
    let svg = std::fs::read_to_string(out.path().join("ratios.svg")).expect("ratios.svg");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
}
