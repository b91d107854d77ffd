//! Bad input gets a clear error naming what is wrong and where, and nothing crashes: C errors,
//! unportable constructs, broken or foreign images, wrong targets, guest traps, sandbox
//! escapes and unknown system calls.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use xisa_e2e::*;

fn bad_source(name: &str) -> PathBuf {
    repo_root().join("tests/bad").join(name)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn cc(args: &[&str], source: &Path, out: &Path) -> Output {
    Command::new(xisa_cc())
        .args(args)
        .arg(source)
        .arg("-o")
        .arg(out)
        .output()
        .expect("run xisa-cc")
}

fn build_bad(name: &str) -> PathBuf {
    let dir = work_dir("bad");
    let image = dir.join(format!("{name}.xisa"));
    let output = cc(&["-O2"], &bad_source(&format!("{name}.c")), &image);
    assert!(
        output.status.success(),
        "{name} should build: {}",
        text(&output)
    );
    image
}

#[test]
fn syntax_errors_keep_clang_diagnostics() {
    let out = work_dir("bad").join("syntax_error.o");
    let output = cc(&["-c"], &bad_source("syntax_error.c"), &out);
    assert_eq!(output.status.code(), Some(1));
    let message = text(&output);
    assert!(
        message.contains("syntax_error.c:4:11: error: expected ';'"),
        "{message}"
    );
    assert!(!out.exists(), "no object is written for a failed compile");
}

#[test]
fn inline_assembly_is_refused_naming_the_function() {
    let output = cc(
        &["-c"],
        &bad_source("inline_asm.c"),
        &work_dir("bad").join("inline_asm.o"),
    );
    assert_eq!(output.status.code(), Some(1));
    let message = text(&output);
    assert!(
        message.contains("inline_asm.c")
            && message.contains("`spin`")
            && message.contains("inline assembly"),
        "{message}"
    );
}

#[test]
fn target_intrinsics_are_refused_naming_them() {
    let output = cc(
        &[],
        &bad_source("target_intrinsic.c"),
        &work_dir("bad").join("target_intrinsic.xisa"),
    );
    assert_eq!(output.status.code(), Some(1));
    let message = text(&output);
    assert!(
        message.contains("`probe`") && message.contains("llvm.wasm.memory.size"),
        "{message}"
    );
}

#[test]
fn target_specific_flags_are_refused_naming_them() {
    for flag in ["-march=native", "-ffast-math", "-mavx2", "-mfma"] {
        let output = cc(
            &[flag],
            &bad_source("trap_divide.c"),
            &work_dir("bad").join("flag.xisa"),
        );
        assert_eq!(output.status.code(), Some(1), "{flag} accepted");
        assert!(text(&output).contains(flag), "{flag}: {}", text(&output));
    }
}

#[test]
fn native_objects_are_refused() {
    let dir = work_dir("bad");
    let object = dir.join("native.o");
    let status = Command::new("clang-19")
        .args(["-c", "-x", "c", "-o"])
        .arg(&object)
        .arg(bad_source("trap_divide.c"))
        .status();
    if !status.is_ok_and(|s| s.success()) {
        panic!("clang-19 could not make a native object");
    }
    let output = Command::new(xisa_cc())
        .arg(&object)
        .arg("-o")
        .arg(dir.join("native.xisa"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).contains("native x86-64 ELF object"),
        "{}",
        text(&output)
    );
}

fn run_image(image: &Path, args: &[&str]) -> Output {
    Command::new(xisa())
        .arg("run")
        .args(args)
        .arg(image)
        .output()
        .expect("run xisa")
}

#[test]
fn broken_and_foreign_images_are_refused() {
    let image = build_bad("trap_divide");
    let bytes = std::fs::read(&image).unwrap();
    let dir = work_dir("bad");
    let truncated = dir.join("truncated.xisa");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let message = text(&run_image(&truncated, &[]));
    assert!(message.contains("truncated image"), "{message}");

    let flipped = dir.join("flipped.xisa");
    let mut damaged = bytes.clone();
    let at = damaged.len() - 100;
    damaged[at] ^= 1;
    std::fs::write(&flipped, &damaged).unwrap();
    let message = text(&run_image(&flipped, &[]));
    assert!(message.contains("checksum mismatch"), "{message}");

    let output = run_image(Path::new("/bin/true"), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).contains("not an xisa image: it is an ELF file"),
        "{}",
        text(&output)
    );

    let output = run_image(&dir.join("does-not-exist.xisa"), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).contains("does-not-exist.xisa") && text(&output).contains("No such file"),
        "{}",
        text(&output)
    );

    for command in ["verify", "info"] {
        let output = Command::new(xisa())
            .arg(command)
            .arg(&truncated)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{command}");
        assert!(
            text(&output).contains("truncated image"),
            "{command}: {}",
            text(&output)
        );
    }
}

#[test]
fn wrong_targets_are_refused() {
    let image = build_bad("trap_divide");
    let output = run_image(&image, &["--target", "riscv64"]);
    assert_ne!(output.status.code(), Some(0));
    assert!(
        text(&output).contains("unknown target `riscv64`"),
        "{}",
        text(&output)
    );
}

#[test]
fn guest_traps_name_the_trap_and_the_function() {
    let output = run_image(&build_bad("trap_divide"), &["--target", "wasm64"]);
    let message = text(&output);
    assert_eq!(output.status.code(), Some(128 + 8), "{message}");
    assert!(
        message.contains("integer divide by zero") && message.contains("in function `divide`"),
        "{message}"
    );

    let output = run_image(&build_bad("trap_stack_overflow"), &["--target", "wasm64"]);
    let message = text(&output);
    assert_eq!(output.status.code(), Some(128 + 11), "{message}");
    assert!(
        message.contains("stack overflow") && message.contains("`descend`"),
        "{message}"
    );
}

#[test]
fn sandbox_escapes_are_refused() {
    let image = build_bad("sandbox_escape");
    let dir = work_dir("bad/escape");
    let _ = std::fs::remove_dir_all(&dir);
    let sandbox = dir.join("sandbox");
    std::fs::create_dir_all(sandbox.join("sub")).unwrap();
    std::fs::write(dir.join("secret.txt"), "TOP-SECRET").unwrap();
    std::fs::write(sandbox.join("inside.txt"), "visible").unwrap();
    std::os::unix::fs::symlink(dir.join("secret.txt"), sandbox.join("escape_absolute")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", sandbox.join("escape_relative")).unwrap();
    let output = Command::new(xisa())
        .args(["run", "--target", "wasm64", "--dir"])
        .arg(&sandbox)
        .arg(&image)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        stdout.contains("inside.txt: OPENED (7 bytes: visible)"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("TOP-SECRET"),
        "the sandbox leaked: {stdout}"
    );
    for attempt in [
        "../secret.txt",
        "/../secret.txt",
        "escape_absolute",
        "escape_relative",
        "sub/../../secret.txt",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{attempt}:")))
            .unwrap_or_default();
        assert!(
            line.ends_with("EACCES") || line.ends_with("ENOENT"),
            "{attempt}: {line}"
        );
    }
}

#[test]
fn unknown_syscalls_are_enosys_with_one_warning() {
    let output = run_image(&build_bad("unknown_syscall"), &["--target", "wasm64"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(stdout, "socket: -1 ENOSYS\nsocket: -1 ENOSYS\n");
    assert_eq!(
        stderr.matches("unsupported syscall 'socket' (198)").count(),
        1,
        "{stderr}"
    );
}

/// Each guest fault stops the guest with the target, the kind, the address, the pc and the
/// function, and an exit status like a signal death, on every native executor here.
#[test]
fn native_guest_faults_are_reported() {
    let image = build_bad("faults");
    let mut executors: Vec<Executor> = executors()
        .into_iter()
        .filter(|e| e.target != "wasm64")
        .collect();
    executors.retain(|e| e.name != "wasm64");
    if executors.is_empty() {
        println!("SKIPPED native guest faults: no native executor can run here");
        return;
    }
    let cases: [(&str, &str, &str, i32); 4] = [
        (
            "null",
            "bad memory access at address 0x0",
            "null_store",
            139,
        ),
        (
            "wild",
            "bad memory access at address 0x7fff00000000",
            "wild_load",
            139,
        ),
        ("illegal", "illegal instruction", "illegal", 132),
        ("stack", "stack overflow", "recurse", 139),
    ];
    for executor in &executors {
        for (what, kind, function, status) in cases {
            // `__builtin_trap` is `ud2` on x86-64 but the breakpoint `brk` on AArch64, which
            // Linux reports as SIGTRAP.
            let (kind, status) = if what == "illegal" && executor.target == "aarch64" {
                ("trap instruction", 133)
            } else {
                (kind, status)
            };
            let output = Command::new(xisa())
                .arg("run")
                .args(&executor.run_args)
                .arg(&image)
                .args(["--", what])
                .output()
                .unwrap();
            let message = text(&output);
            assert_eq!(
                output.status.code(),
                Some(status),
                "{} {what}: {message}",
                executor.name
            );
            assert!(
                message.contains(&format!("fault: {what}")),
                "{} {what}: output before the fault is lost: {message}",
                executor.name
            );
            assert!(
                message.contains(&format!("guest fault on {}: {kind}", executor.target))
                    && message.contains(&format!("in function `{function}`"))
                    && message.contains(", pc 0x"),
                "{} {what}: {message}",
                executor.name
            );
            println!("ok   {:<15} fault {what}", executor.name);
        }
    }
    // Integer division by zero traps on x86-64 only (AArch64 defines the result as 0).
    for executor in executors.iter().filter(|e| e.target == "x86_64") {
        let output = Command::new(xisa())
            .arg("run")
            .args(&executor.run_args)
            .arg(&image)
            .args(["--", "divide"])
            .output()
            .unwrap();
        let message = text(&output);
        assert_eq!(
            output.status.code(),
            Some(136),
            "{}: {message}",
            executor.name
        );
        assert!(
            message.contains("integer divide error") && message.contains("in function `divide`"),
            "{}: {message}",
            executor.name
        );
    }
}

#[test]
fn a_bad_longjmp_stops_the_guest_with_a_message_on_every_executor() {
    let image = build_bad("bad_longjmp");
    let executors = executors();
    let cases = [
        (
            "returned",
            "jumping to a returned frame",
            "longjmp to a setjmp in `arm` whose call has returned",
        ),
        (
            "blank",
            "jumping through a blank buffer",
            "that no setjmp filled (it names call site 0)",
        ),
    ];
    for executor in &executors {
        for (what, before, problem) in cases {
            let output = Command::new(xisa())
                .arg("run")
                .args(&executor.run_args)
                .arg(&image)
                .args(["--", what])
                .output()
                .unwrap();
            let message = text(&output);
            assert_eq!(
                output.status.code(),
                Some(134),
                "{} {what}: {message}",
                executor.name
            );
            assert!(
                message.contains(before) && message.contains(problem),
                "{} {what}: {message}",
                executor.name
            );
            println!("ok   {:<15} bad longjmp: {what}", executor.name);
        }
    }
}
