//! Two real C projects from Debian source packages (fetched at test time, never committed) are
//! built unmodified by their own build files pointed at xisa-cc, pass their own test targets
//! (which run the freshly built images through their `#!` line), and produce byte-identical
//! results to the same project built natively with clang.

use std::path::Path;
use std::process::{Command, Stdio};

use xisa_e2e::debian::*;
use xisa_e2e::*;

/// Runs a program natively, stdin from `input`; returns stdout.
fn run_native(program: &Path, args: &[&str], input: &Path) -> Vec<u8> {
    let output = Command::new(program)
        .args(args)
        .stdin(std::fs::File::open(input).unwrap())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} failed: {}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Runs an image with `xisa run` on `executor`, stdin from `input`; returns stdout.
fn run_xisa(image: &Path, executor: &Executor, args: &[&str], input: &Path) -> Vec<u8> {
    let sandbox = input.parent().unwrap();
    let output = Command::new(xisa())
        .arg("run")
        .args(&executor.run_args)
        .arg("--dir")
        .arg(sandbox)
        .arg(image)
        .arg("--")
        .args(args)
        .stdin(Stdio::from(std::fs::File::open(input).unwrap()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} on {} failed: {}",
        image.display(),
        executor.name,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn bzip2_builds_with_its_makefile_and_matches_native() {
    let tarball = fetch("bzip2");
    let dir = work_dir("debian/bzip2");
    let xisa_tree = extract(&tarball, &dir.join("xisa"));
    let native_tree = extract(&tarball, &dir.join("native"));
    // `all` includes the project's own `test` target, which runs ./bzip2 (an image) on its
    // samples and compares with the reference files.
    sh(
        &xisa_tree,
        "make CC=xisa-cc AR=llvm-ar-19 RANLIB=llvm-ranlib-19",
    );
    sh(&native_tree, "make CC=clang-19 bzip2");
    let work = dir.join("data");
    std::fs::create_dir_all(&work).unwrap();
    let input = test_input(&work);
    for level in ["-1", "-9"] {
        let expected = run_native(&native_tree.join("bzip2"), &[level, "-c"], &input);
        std::fs::write(work.join("expected.bz2"), &expected).unwrap();
        for executor in executors() {
            let compressed = run_xisa(&xisa_tree.join("bzip2"), &executor, &[level, "-c"], &input);
            assert!(
                compressed == expected,
                "bzip2 {level} on {} differs from native",
                executor.name
            );
            let restored = run_xisa(
                &xisa_tree.join("bzip2"),
                &executor,
                &["-d", "-c"],
                &work.join("expected.bz2"),
            );
            assert!(
                restored == std::fs::read(&input).unwrap(),
                "bzip2 -d on {} does not restore the input",
                executor.name
            );
            println!("ok   {:<8} bzip2 {level}", executor.name);
        }
    }
}

/// Debian's bzip2 tree (patched build files) builds `libbz2.so` first and links the
/// program against it with `-L. -lbz2`; xisa-cc makes the shared library a bitcode library
/// that links statically, so the unchanged Makefile works and its own test target passes.
#[test]
fn debian_bzip2_tree_builds_its_shared_library_unchanged() {
    let dir = work_dir("debian/bzip2-debian");
    let xisa_tree = debian_tree("bzip2", &dir.join("xisa"));
    let native_tree = debian_tree("bzip2", &dir.join("native"));
    sh(
        &xisa_tree,
        "make CC=xisa-cc AR=llvm-ar-19 RANLIB=llvm-ranlib-19",
    );
    let shared = std::fs::read_dir(&xisa_tree)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("libbz2.so.1.0.")
        });
    assert!(shared, "the Makefile did not build libbz2.so.*");
    sh(&native_tree, "make CC=clang-19 bzip2");
    let work = dir.join("data");
    std::fs::create_dir_all(&work).unwrap();
    let input = test_input(&work);
    let expected = run_native(&native_tree.join("bzip2"), &["-9", "-c"], &input);
    for executor in executors() {
        let compressed = run_xisa(&xisa_tree.join("bzip2"), &executor, &["-9", "-c"], &input);
        assert!(
            compressed == expected,
            "bzip2 -9 (Debian tree) on {} differs from native",
            executor.name
        );
        println!("ok   {:<8} bzip2 (Debian tree, libbz2.so)", executor.name);
    }
}

#[test]
fn zlib_builds_with_configure_and_make_and_matches_native() {
    let tarball = fetch("zlib");
    let dir = work_dir("debian/zlib");
    let xisa_tree = extract(&tarball, &dir.join("xisa"));
    let native_tree = extract(&tarball, &dir.join("native"));
    sh(
        &xisa_tree,
        "CC=xisa-cc AR=llvm-ar-19 ./configure --static && make && make test",
    );
    sh(
        &native_tree,
        "CC=clang-19 ./configure --static && make minigzip",
    );
    let work = dir.join("data");
    std::fs::create_dir_all(&work).unwrap();
    let input = test_input(&work);
    for level in ["-1", "-9"] {
        let expected = run_native(&native_tree.join("minigzip"), &[level], &input);
        std::fs::write(work.join("expected.gz"), &expected).unwrap();
        for executor in executors() {
            let compressed = run_xisa(&xisa_tree.join("minigzip"), &executor, &[level], &input);
            assert!(
                compressed == expected,
                "minigzip {level} on {} differs from native",
                executor.name
            );
            let restored = run_xisa(
                &xisa_tree.join("minigzip"),
                &executor,
                &["-d"],
                &work.join("expected.gz"),
            );
            assert!(
                restored == std::fs::read(&input).unwrap(),
                "minigzip -d on {} does not restore the input",
                executor.name
            );
            println!("ok   {:<8} minigzip {level}", executor.name);
        }
    }
}
