//! An interpreter with computed-goto dispatch and setjmp/longjmp error handling: Debian's lua5.4
//! source package (upstream tree with Debian's patches, whose build-system patch compiles every
//! object through libtool), built by its own build files exactly as `debian/rules` drives them
//! (`autoreconf` of debian/configure.ac for the libtool script, then `make PLATFORM MYLIBS=
//! LIBTOOL=... CC='$(CC) -std=gnu99' CXX=...`) with `CC=xisa-cc`, and natively with clang-19
//! for the expected output. `lvm.c` keeps its default `LUA_USE_JUMPTABLE` (the `goto *disptab[op]`
//! dispatch of ljumptab.h) and `ldo.c` its `_setjmp`/`_longjmp` `LUAI_TRY`/`LUAI_THROW`; both are
//! checked on the compiler's own preprocessed output.
//!
//! Two deviations from `debian/rules`, both forced by what xisa-cc is:
//! - `linux` instead of `linux-readline`: the xisa sysroot (musl) has no readline, so lua.c
//!   stops at `#include <readline/readline.h>`; readline only serves the interactive prompt.
//! - `CXX=clang++-19`: Debian's Makefile also compiles every `.c` file as C++ into a second
//!   library, liblua5.4-c++ (which throws C++ exceptions instead of longjmp); xisa-cc refuses C++
//!   ("C++ is not supported"), and with `CXX=xisa-cc` libtool's C++ probes fail, so its
//!   C++ configuration compiles without `-o` and moves the C objects away. The `lua5.4` program
//!   links only liblua5.4 (C), which xisa-cc builds; the native C++ library is a by-product.
//!
//! The interpreter runs tests/debian/lua/workload.lua, whose output (stdout and exit status) must
//! equal the native build's on every executor, and whose run is captured mid-way on x86-64 and
//! resumed on the other ISAs: strictly inside its outer pcall (between a setjmp and its longjmp)
//! and at the bottom of dozens of nested pcalls. The captured run's stdout followed by the
//! resumed run's must be the native output.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use xisa_e2e::debian::*;
use xisa_e2e::*;

/// The script, copied into the folder the interpreter runs in so that its chunk name (part of
/// some error messages) is the same everywhere.
const SCRIPT: &str = "workload.lua";

/// How the line the script prints on arrival at the bottom of its nested pcalls ends.
const AT_THE_BOTTOM: &str = "nested pcalls";

/// The xisa build of lua5.4 and what the native build of the same tree does with the script.
struct Lua {
    dir: PathBuf,
    tree: PathBuf,
    image: PathBuf,
    expected_stdout: Vec<u8>,
    expected_status: i32,
}

/// Builds both trees once per test run (the tests share it); `Err` is why it cannot run here.
fn lua() -> Result<&'static Lua, String> {
    static LUA: OnceLock<Result<Lua, String>> = OnceLock::new();
    LUA.get_or_init(build).as_ref().map_err(Clone::clone)
}

/// A fresh folder holding only the script: the guest's `--dir`, or the native run's cwd.
fn script_folder(folder: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(folder);
    std::fs::create_dir_all(folder).unwrap();
    std::fs::copy(
        repo_root().join("tests/debian/lua").join(SCRIPT),
        folder.join(SCRIPT),
    )
    .unwrap();
    folder.to_path_buf()
}

/// Runs `script` in `dir` with xisa on PATH, its output saved to `log`; returns the output, or
/// the end of it when the script fails.
fn sh_logged(dir: &Path, script: &str, log: &Path) -> Result<String, String> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("exec 2>&1\n{script}"))
        .current_dir(dir)
        .env("PATH", path_with_xisa())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    std::fs::write(log, &text).unwrap();
    if output.status.success() {
        return Ok(text);
    }
    let lines: Vec<&str> = text.lines().collect();
    Err(format!(
        "`{script}` failed in {} (whole log in {}):\n...\n{}",
        dir.display(),
        log.display(),
        lines[lines.len().saturating_sub(60)..].join("\n")
    ))
}

/// `override_dh_auto_configure` and `override_dh_auto_build` of lua5.4's debian/rules, with
/// dh_auto_configure's `./configure` given the compilers and `tools`, and `linux` for
/// `linux-readline` (see the file comment). Returns the build log.
fn debian_rules_build(tree: &Path, cc: &str, cxx: &str, tools: &str) -> Result<String, String> {
    let script = format!(
        r##"set -ex
mkdir debian/libtool
cp debian/configure.ac debian/libtool/
cd debian/libtool && LIBTOOLIZE='libtoolize -i' autoreconf -f -i && cd ../..
cd debian/libtool && ./configure CC={cc} CXX={cxx} {tools} && cd ../..
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
echo "#ifndef _LUA_DEB_MULTIARCH_" > src/lua5.4-deb-multiarch.h
echo "#define _LUA_DEB_MULTIARCH_" >> src/lua5.4-deb-multiarch.h
echo "#define DEB_HOST_MULTIARCH \"$MULTIARCH\"" >> src/lua5.4-deb-multiarch.h
echo "#endif" >> src/lua5.4-deb-multiarch.h
make linux MYLIBS= LIBTOOL="$PWD/debian/libtool/libtool" CC='{cc} -std=gnu99' CXX='{cxx}'
"##
    );
    sh_logged(tree, &script, &tree.join("build.log"))
}

/// The command libtool ran to compile `file` with xisa-cc, turned into `-E` (preprocess only)
/// with the same flags; returns the preprocessed source.
fn preprocessed_as_built(log: &str, src: &Path, file: &str) -> String {
    let command = log
        .lines()
        .filter_map(|line| line.strip_prefix("libtool: compile:"))
        .find(|line| {
            line.split_whitespace().next() == Some("xisa-cc")
                && line.contains(&format!(" -c {file} "))
        })
        .unwrap_or_else(|| panic!("the build log shows no xisa-cc compile of {file}"));
    let mut args = Vec::new();
    let mut words = command.split_whitespace().skip(1);
    while let Some(word) = words.next() {
        match word {
            "-c" | ">/dev/null" | "2>&1" => {}
            "-o" => {
                words.next();
            }
            _ => args.push(word),
        }
    }
    let output = Command::new(xisa_cc())
        .args(&args)
        .arg("-E")
        .current_dir(src)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "xisa-cc {} -E failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Is `file` an xisa image for all three targets? (`xisa info` says so.)
fn is_image(file: &Path) -> bool {
    let Ok(output) = Command::new(xisa()).arg("info").arg(file).output() else {
        return false;
    };
    let info = String::from_utf8_lossy(&output.stdout);
    output.status.success()
        && info
            .lines()
            .any(|l| l.starts_with("targets:") && l.contains("x86_64, aarch64, wasm64"))
}

fn build() -> Result<Lua, String> {
    let tools = [
        "libtoolize",
        "autoreconf",
        "clang-19",
        "clang++-19",
        "dpkg-architecture",
    ];
    let missing: Vec<&str> = tools
        .into_iter()
        .filter(|tool| which(tool).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{missing:?} not installed: lua5.4's debian/rules makes its libtool script with \
             `autoreconf -f -i` (packages libtool, autoconf, automake)"
        ));
    }
    let dir = work_dir("debian/lua5.4");
    let tree = debian_tree("lua5.4", &dir.join("xisa"));
    let native_tree = debian_tree("lua5.4", &dir.join("native"));
    let started = Instant::now();
    let native_build = std::thread::spawn({
        let native_tree = native_tree.clone();
        move || debian_rules_build(&native_tree, "clang-19", "clang++-19", "")
    });
    let log = debian_rules_build(
        &tree,
        "xisa-cc",
        "clang++-19",
        "AR=xisa-ar RANLIB=xisa-ranlib",
    );
    let native_log = native_build.join().expect("the native build thread");
    let log = log.unwrap_or_else(|e| panic!("the xisa-cc build of lua5.4 failed: {e}"));
    native_log.unwrap_or_else(|e| panic!("the native build of lua5.4 failed: {e}"));
    println!(
        "ok   built lua5.4 (Debian tree, libtool) with xisa-cc and natively in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    // The build files did what they do natively: libtool compiled every object with xisa-cc,
    // made liblua5.4.so (a bitcode library) and liblua5.4.a, and linked lua5.4 statically.
    let src = tree.join("src");
    for file in ["lvm.c", "ldo.c", "lua.c"] {
        assert!(
            log.lines()
                .any(|l| l.starts_with("libtool: compile:  xisa-cc")
                    && l.contains(&format!(" -c {file} "))),
            "libtool did not compile {file} with xisa-cc"
        );
    }
    for library in ["liblua5.4.so.0.0.0", "liblua5.4.a"] {
        assert!(
            src.join(".libs").join(library).is_file(),
            "libtool did not build src/.libs/{library}"
        );
    }
    // The interpreter's dispatch is the jump table of computed gotos ...
    let lvm = preprocessed_as_built(&log, &src, "lvm.c");
    for needle in [
        "static const void *const disptab[",
        "&&L_OP_MOVE",
        "goto *disptab[",
    ] {
        assert!(
            lvm.contains(needle),
            "lvm.c as built does not use the jump table (LUA_USE_JUMPTABLE): no `{needle}`"
        );
    }
    // ... and its errors are setjmp/longjmp (LUAI_TRY/LUAI_THROW for C on POSIX).
    let ldo = preprocessed_as_built(&log, &src, "ldo.c");
    for needle in ["_setjmp(", "_longjmp("] {
        assert!(
            ldo.contains(needle),
            "ldo.c as built does not handle errors with {needle}...)"
        );
    }
    println!(
        "ok   lvm.c dispatches through ljumptab.h (goto *disptab[...]), ldo.c uses _setjmp/_longjmp"
    );

    // libtool may leave a wrapper script and put the program under .libs; pick the image.
    let image = [src.join(".libs/lua5.4"), src.join("lua5.4")]
        .into_iter()
        .find(|f| is_image(f))
        .expect("the build produced no xisa image of lua5.4 (src/lua5.4 or src/.libs/lua5.4)");

    let native = native_tree.join("src/lua5.4");
    let output = Command::new(&native)
        .arg(SCRIPT)
        .current_dir(script_folder(&dir.join("native-run")))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success() && output.stdout.ends_with(b"\ndone\n"),
        "the native lua5.4 does not run {SCRIPT} to its end ({:?}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(Lua {
        dir,
        tree,
        image,
        expected_stdout: output.stdout,
        expected_status: output.status.code().unwrap(),
    })
}

/// Compares a run's stdout and status with the native ones.
fn compare(lua: &Lua, stdout: &[u8], status: Option<i32>, stderr: &[u8]) -> Result<(), String> {
    if stdout != lua.expected_stdout {
        return Err(format!(
            "stdout differs from native: {} (stderr: {})",
            first_difference(&lua.expected_stdout, stdout),
            String::from_utf8_lossy(stderr).trim()
        ));
    }
    if status != Some(lua.expected_status) {
        return Err(format!(
            "exit status {status:?}, native {} (stderr: {})",
            lua.expected_status,
            String::from_utf8_lossy(stderr).trim()
        ));
    }
    Ok(())
}

#[test]
fn debian_lua_matches_native_on_every_executor() {
    let lua = match lua() {
        Ok(lua) => lua,
        Err(reason) => return println!("SKIPPED lua5.4: {reason}"),
    };
    let executors = executors();
    let results = parallel_map(&executors, threads(), |executor| {
        let sandbox = script_folder(&lua.dir.join("run").join(executor.name.replace('/', "-")));
        let started = Instant::now();
        let output = Command::new(xisa())
            .arg("run")
            .args(&executor.run_args)
            .arg("--dir")
            .arg(&sandbox)
            .arg(&lua.image)
            .arg("--")
            .arg(SCRIPT)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        compare(lua, &output.stdout, output.status.code(), &output.stderr)
            .map(|()| started.elapsed().as_secs_f64())
    });
    let mut failures = Vec::new();
    for (executor, result) in executors.iter().zip(results) {
        match result {
            Ok(seconds) => println!(
                "ok   {:<16} lua5.4 {SCRIPT}: {} bytes and status {} as native ({seconds:.1} s)",
                executor.name,
                lua.expected_stdout.len(),
                lua.expected_status
            ),
            Err(problem) => failures.push(format!("{}: {problem}", executor.name)),
        }
    }
    assert!(failures.is_empty(), "lua5.4: {failures:#?}");
}

/// A checkpoint of the interpreter taken on x86-64, with what it printed before.
struct Capture {
    label: String,
    at: u64,
    file: PathBuf,
    stdout: Vec<u8>,
}

/// Runs the image (or restores `from`) on `place` in `sandbox`, capturing at point `at`
/// (counted from the start of this run) into `file`; returns the run's stdout.
fn capture(
    lua: &Lua,
    place: &Executor,
    from: Option<&Path>,
    sandbox: &Path,
    at: u64,
    file: &Path,
) -> Result<Vec<u8>, String> {
    let _ = std::fs::remove_file(file);
    let mut command = Command::new(xisa());
    match from {
        None => command.arg("run"),
        Some(checkpoint) => command
            .arg("restore")
            .arg(checkpoint)
            .arg("--image")
            .arg(&lua.image),
    };
    command
        .args(&place.run_args)
        .arg("--dir")
        .arg(sandbox)
        .arg("--checkpoint-at")
        .arg(at.to_string())
        .arg("--checkpoint-to")
        .arg(file);
    if from.is_none() {
        command.arg(&lua.image).arg("--").arg(SCRIPT);
    }
    let output = command.stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() || !file.is_file() || !stderr.contains("checkpoint written") {
        return Err(format!(
            "capturing at point {at} on {} failed ({:?}): {}",
            place.name,
            output.status.code(),
            stderr.trim()
        ));
    }
    Ok(output.stdout)
}

/// Restores `checkpoint` on `place` (in the capture's sandbox) and runs it to the end.
fn restore(
    lua: &Lua,
    checkpoint: &Path,
    place: &Executor,
    sandbox: &Path,
    poison: bool,
) -> (Vec<u8>, Option<i32>, Vec<u8>) {
    let mut command = Command::new(xisa());
    command
        .arg("restore")
        .arg(checkpoint)
        .arg("--image")
        .arg(&lua.image)
        .args(&place.run_args)
        .arg("--dir")
        .arg(sandbox);
    if poison {
        command.arg("--poison");
    }
    let output = command.stdin(Stdio::null()).output().unwrap();
    (output.stdout, output.status.code(), output.stderr)
}

/// The last line `stdout` holds.
fn last_line(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_string()
}

type Job<'a> = Box<dyn Fn() -> Result<String, String> + Sync + 'a>;

#[test]
fn debian_lua_migrates_mid_run_across_isas() {
    let lua = match lua() {
        Ok(lua) => lua,
        Err(reason) => return println!("SKIPPED lua5.4 migration: {reason}"),
    };
    let x86 = x86_64_executor();
    let sandbox = script_folder(&lua.dir.join("migrate/sandbox"));
    let checkpoints = lua.dir.join("migrate/checkpoints");
    let _ = std::fs::remove_dir_all(&checkpoints);
    std::fs::create_dir_all(&checkpoints).unwrap();
    // Lua seeds its string hashes from an address and the time, so the count varies a little
    // from run to run (hash chains); the fractions below stay well inside the run.
    let total = migration_points(&lua.image, &x86, &sandbox, &[SCRIPT], None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        total > 1_000_000,
        "lua5.4 {SCRIPT} passed only {total} migration points: the dispatch loop is not instrumented?"
    );
    println!(
        "ok   lua5.4 {SCRIPT} passes {total} migration points on {}",
        x86.name
    );

    let mut failures = Vec::new();
    let mut captures = Vec::new();
    let take = |label: &str, at: u64| -> Result<Capture, String> {
        let file = checkpoints.join(format!("{label}.ckpt"));
        let stdout = capture(lua, &x86, None, &sandbox, at, &file)?;
        Ok(Capture {
            label: label.to_string(),
            at,
            file,
            stdout,
        })
    };
    // A third and two thirds of the way: inside the outer pcall, whose setjmp has run and
    // whose longjmp (the error thrown from deep recursion at its end) has not.
    for (label, at) in [("third", total / 3), ("two-thirds", total * 2 / 3)] {
        match take(label, at) {
            Ok(c) => {
                let text = String::from_utf8_lossy(&c.stdout);
                if text.contains("phase 2: protected section begins\n")
                    && !text.contains("phase 2: pcall returned")
                {
                    println!(
                        "ok   captured at {at}/{total} inside the outer pcall (after \"{}\")",
                        last_line(&c.stdout).trim()
                    );
                    captures.push(c);
                } else {
                    failures.push(format!(
                        "the capture at {at}/{total} is not inside the outer pcall: it printed up to \"{}\"",
                        last_line(&c.stdout)
                    ));
                }
            }
            Err(problem) => failures.push(problem),
        }
    }
    // At the bottom of the nested pcalls: try sixteenths until a capture's output ends with
    // the line printed on arrival there (the work there is a good part of every round).
    let mut nested = None;
    for k in [8, 5, 11, 3, 13, 7, 9, 2, 14, 4, 12, 6, 10, 1, 15] {
        match take("nested", total * k / 16) {
            Ok(c) if last_line(&c.stdout).ends_with(AT_THE_BOTTOM) => {
                nested = Some(c);
                break;
            }
            Ok(_) => {}
            Err(problem) => {
                failures.push(problem);
                break;
            }
        }
    }
    match nested {
        Some(c) => {
            println!(
                "ok   captured at {}/{total} at the bottom of the nested pcalls (\"{}\")",
                c.at,
                last_line(&c.stdout).trim()
            );
            captures.push(c);
        }
        None => failures.push(format!(
            "no capture at a sixteenth of the run landed at the bottom of the nested pcalls \
             (a line ending with \"{AT_THE_BOTTOM}\")"
        )),
    }

    // Every capture resumes on wasm64 and both AArch64 executors; the nested one also on the
    // capturing executor with every non-neutral register and stack byte poisoned; and one
    // chain moves on from wasm64 (captured again a third of the way through the rest) to
    // AArch64.
    let mut places = vec![Executor::wasm64(), Executor::emu_aarch64()];
    match which("qemu-aarch64") {
        Some(_) => places.push(Executor::process_aarch64()),
        None => {
            println!("SKIPPED process/aarch64: qemu-aarch64 is not installed (package qemu-user)")
        }
    }
    let mut jobs: Vec<Job> = Vec::new();
    for c in &captures {
        let mut targets: Vec<(Executor, bool)> =
            places.iter().map(|p| (p.clone(), false)).collect();
        if c.label == "nested" {
            targets.push((x86.clone(), true));
        }
        for (place, poison) in targets {
            let (sandbox, x86) = (&sandbox, &x86);
            jobs.push(Box::new(move || {
                let started = Instant::now();
                let (stdout, status, stderr) = restore(lua, &c.file, &place, sandbox, poison);
                let combined = [c.stdout.as_slice(), &stdout].concat();
                let route = format!(
                    "{} -> {}{}",
                    x86.name,
                    place.name,
                    if poison { " (--poison)" } else { "" }
                );
                compare(lua, &combined, status, &stderr)
                    .map(|()| {
                        format!(
                            "{:<10} capture at {}, {route} in {:.1} s",
                            c.label,
                            c.at,
                            started.elapsed().as_secs_f64()
                        )
                    })
                    .map_err(|e| format!("{} capture at {}, {route}: {e}", c.label, c.at))
            }));
        }
    }
    if let Some(first) = captures.first() {
        let (sandbox, checkpoints, x86) = (&sandbox, &checkpoints, &x86);
        jobs.push(Box::new(move || {
            let started = Instant::now();
            let (wasm, arm) = (Executor::wasm64(), Executor::emu_aarch64());
            let route = format!("{} -> {} -> {}", x86.name, wasm.name, arm.name);
            let second = checkpoints.join("chain.ckpt");
            let at = total / 3;
            let hop = capture(lua, &wasm, Some(&first.file), sandbox, at, &second)
                .map_err(|e| format!("chain {route}: {e}"))?;
            let (stdout, status, stderr) = restore(lua, &second, &arm, sandbox, false);
            let combined = [first.stdout.as_slice(), &hop, &stdout].concat();
            compare(lua, &combined, status, &stderr)
                .map(|()| {
                    format!(
                        "chain      captures at {} and {at} more, {route} in {:.1} s",
                        first.at,
                        started.elapsed().as_secs_f64()
                    )
                })
                .map_err(|e| format!("chain {route}: {e}"))
        }));
    }
    for result in parallel_map(&jobs, threads(), |job| job()) {
        match result {
            Ok(line) => println!("ok   {line}: output as native"),
            Err(problem) => failures.push(problem),
        }
    }
    assert!(failures.is_empty(), "lua5.4 migration: {failures:#?}");
}

/// Debian's Makefile has a `test` target: `libtool --mode=execute ./lua5.4 -v`, which runs the
/// image through its `#!` line (`xisa exec`) and must print Lua's version banner.
#[test]
fn debian_lua_make_test_target_runs_the_image() {
    let lua = match lua() {
        Ok(lua) => lua,
        Err(reason) => return println!("SKIPPED lua5.4 make test: {reason}"),
    };
    let log = lua.dir.join("make-test.log");
    let output = sh_logged(
        &lua.tree,
        "make test LIBTOOL=\"$PWD/debian/libtool/libtool\"",
        &log,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // `#!/usr/bin/env -S xisa exec` makes this `xisa exec ./lua5.4 -v`: the `-v` is the guest's.
    let hint = if output.contains("xisa: running") {
        "\n(xisa exec took the guest's `-v` for its own --verbose: the guest got no argument)"
    } else {
        ""
    };
    assert!(
        output.contains("Lua 5.4.4  Copyright (C) 1994-2022 Lua.org, PUC-Rio"),
        "`make test` (./lua5.4 -v through the image's #! line) did not print Lua's banner:\n{output}{hint}"
    );
    println!("ok   make test: ./lua5.4 -v prints the Lua 5.4.4 banner");
}
