//! The command line follows cargo habits: `--help` everywhere, JSON for scripts, the guest's
//! exit status as ours.

use std::process::Command;

use xisa_e2e::*;

#[test]
fn every_subcommand_has_help() {
    for subcommand in [
        &["--help"][..],
        &["run", "--help"],
        &["verify", "--help"],
        &["info", "--help"],
        &["build-libc", "--help"],
        &["cc", "--help"],
        &["oci-image", "--help"],
        &["restore", "--help"],
        &["checkpoint", "--help"],
    ] {
        let output = Command::new(xisa()).args(subcommand).output().unwrap();
        assert!(output.status.success(), "{subcommand:?}");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("Usage"), "{subcommand:?}: {text}");
    }
    let output = Command::new(xisa_cc()).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("Usage: xisa-cc"));
}

#[test]
fn info_and_verify_speak_json_and_exit_status_passes_through() {
    let dir = work_dir("cli");
    let image = dir.join("primes.xisa");
    let status = Command::new(xisa_cc())
        .arg(repo_root().join("examples/primes.c"))
        .arg("-o")
        .arg(&image)
        .status()
        .unwrap();
    assert!(status.success());
    let info = Command::new(xisa())
        .args(["info", "--json"])
        .arg(&image)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        text.contains("\"targets\": [")
            && text.contains("\"wasm64\"")
            && text.contains("\"x86_64\""),
        "{text}"
    );
    let verify = Command::new(xisa())
        .args(["verify", "--json"])
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&verify.stdout).starts_with("{\"ok\":true"),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    // primes.c exits 2 on a bad limit: the guest's status is xisa run's.
    let run = Command::new(xisa())
        .arg("run")
        .arg(&image)
        .args(["--", "1"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("usage:"));
    let run = Command::new(xisa())
        .arg("run")
        .arg(&image)
        .args(["--", "100"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).lines().next(),
        Some("25 primes below 100")
    );
}

/// Build systems probe compilers with `-o /dev/null`; an image written there must not replace
/// the device with a regular file. `xisa cc` (the same compiler through `xisa`) is used so the
/// forwarding to `xisa-cc` is exercised too.
#[test]
fn output_to_dev_null_keeps_the_device() {
    use std::os::unix::fs::FileTypeExt;
    let status = Command::new(xisa())
        .args(["cc", "-O1"])
        .arg(repo_root().join("examples/primes.c"))
        .args(["-o", "/dev/null"])
        .status()
        .unwrap();
    assert!(status.success());
    // The flag probe configure scripts and build systems run: an object of an empty C input.
    let probe = Command::new(xisa_cc())
        .args(["-Werror", "-c", "-x", "c", "/dev/null", "-o", "/dev/null"])
        .output()
        .unwrap();
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let kind = std::fs::metadata("/dev/null").unwrap().file_type();
    assert!(kind.is_char_device(), "/dev/null is now {kind:?}");
}

/// `xisa-ar` and `xisa-ranlib` archive xisa-cc objects without a word on stderr (GNU ar
/// prints a plugin error per bitcode object), with a symbol index the link uses.
#[test]
fn archives_of_bitcode_objects_are_quiet_and_indexed() {
    let dir = work_dir("cli-archive");
    std::fs::write(dir.join("twice.c"), "int twice(int x) { return 2 * x; }\n").unwrap();
    std::fs::write(
        dir.join("main.c"),
        "#include <stdio.h>\nint twice(int);\nint main(void) { printf(\"%d\\n\", twice(21)); return 0; }\n",
    )
    .unwrap();
    let _ = std::fs::remove_file(dir.join("libtwice.a"));
    let steps: [(std::path::PathBuf, &[&str]); 4] = [
        (xisa_cc(), &["-O2", "-c", "twice.c", "-o", "twice.o"]),
        (xisa_tool("xisa-ar"), &["rc", "libtwice.a", "twice.o"]),
        (xisa_tool("xisa-ranlib"), &["libtwice.a"]),
        (xisa_cc(), &["main.c", "-L.", "-ltwice", "-o", "prog"]),
    ];
    for (tool, args) in steps {
        let output = Command::new(&tool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            output.status.success() && output.stderr.is_empty(),
            "{} {args:?}: {}",
            tool.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let index = Command::new(xisa_tool("xisa-ar"))
        .args(["t", "libtwice.a"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&index.stdout).trim(), "twice.o");
    let run = Command::new(xisa())
        .args(["run", "prog"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "42\n");
}

/// `xisa run --cwd DIR` starts the guest in DIR: relative paths and getcwd agree with it; a
/// DIR that is not a folder of the sandbox is refused before the program starts.
#[test]
fn run_starts_in_the_given_folder() {
    let dir = work_dir("cli-cwd");
    let sandbox = dir.join("sandbox");
    std::fs::create_dir_all(sandbox.join("jobs/7")).unwrap();
    std::fs::write(sandbox.join("jobs/7/in.txt"), "seven\n").unwrap();
    std::fs::write(
        dir.join("cwd.c"),
        r#"#include <stdio.h>
#include <unistd.h>
int main(void) {
    char here[256], line[64];
    FILE *f = fopen("in.txt", "r");
    if (!getcwd(here, sizeof here) || !f || !fgets(line, sizeof line, f)) return 3;
    printf("%s %s", here, line);
    return 0;
}
"#,
    )
    .unwrap();
    let image = dir.join("cwd.xisa");
    build_source(&dir.join("cwd.c"), &image).unwrap();
    for place in [x86_64_executor(), Executor::wasm64()] {
        let output = Command::new(xisa())
            .arg("run")
            .args(&place.run_args)
            .arg("--dir")
            .arg(&sandbox)
            .args(["--cwd", "/jobs/7"])
            .arg(&image)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "/jobs/7 seven\n",
            "{}: {}",
            place.name,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for (bad, why) in [
        ("/jobs/7/in.txt", "ENOTDIR"),
        ("/nowhere", "ENOENT"),
        ("jobs", "EINVAL"),
    ] {
        let output = Command::new(xisa())
            .arg("run")
            .arg("--dir")
            .arg(&sandbox)
            .args(["--cwd", bad])
            .arg(&image)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success()
                && stderr.contains(&format!("cannot start in {bad:?}"))
                && stderr.contains(why),
            "--cwd {bad}: {stderr}"
        );
    }
}
