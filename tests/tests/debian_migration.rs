//! Real projects migrate: bzip2, zlib and lzo2 from Debian source, built by their own build files
//! with xisa-cc, run real workloads in a sandbox while being moved across ISAs mid-run:
//! captured about halfway on x86_64, resumed on aarch64 and captured again about halfway
//! through the rest, finished on wasm64 (or the reverse). Standard output and every file of
//! the sandbox must equal those of uninterrupted runs on x86_64.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use xisa_e2e::debian::*;
use xisa_e2e::*;

/// One program run of a workload: the image and its arguments.
struct Workload {
    image: PathBuf,
    args: Vec<&'static str>,
}

/// The outcome of one workload: stdout, and the migration points of the whole run.
struct Ran {
    stdout: Vec<u8>,
    points: u64,
}

fn uninterrupted(work: &Workload, place: &Executor, sandbox: &Path) -> Ran {
    let output = Command::new(xisa())
        .arg("run")
        .arg("-v")
        .args(&place.run_args)
        .arg("--dir")
        .arg(sandbox)
        .arg(&work.image)
        .arg("--")
        .args(&work.args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{:?} on {} failed: {stderr}",
        work.args,
        place.name
    );
    let points = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("xisa: ")?
                .strip_suffix(" migration points passed")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no migration point count: {stderr}"));
    Ran {
        stdout: output.stdout,
        points,
    }
}

/// Runs `work` across `chain`: starts on the first place, captures halfway through what is
/// left at each hop, resumes on the next place, finishes on the last. Returns the combined
/// stdout.
fn migrated(
    work: &Workload,
    chain: &[Executor],
    total: u64,
    sandbox: &Path,
    checkpoints: &Path,
    label: &str,
) -> Result<Vec<u8>, String> {
    let mut stdout = Vec::new();
    let mut left = total;
    let mut previous: Option<PathBuf> = None;
    for (hop, place) in chain.iter().enumerate() {
        let mut command = Command::new(xisa());
        match &previous {
            None => command.arg("run"),
            Some(checkpoint) => command
                .arg("restore")
                .arg(checkpoint)
                .arg("--image")
                .arg(&work.image),
        };
        command.args(&place.run_args).arg("--dir").arg(sandbox);
        let capture = (hop + 1 < chain.len()).then(|| {
            let at = (left / 2).max(1);
            left -= at;
            (at, checkpoints.join(format!("{label}.{hop}.ckpt")))
        });
        if let Some((at, file)) = &capture {
            let _ = std::fs::remove_file(file);
            command
                .arg("--checkpoint-at")
                .arg(at.to_string())
                .arg("--checkpoint-to")
                .arg(file);
        }
        if previous.is_none() {
            command.arg(&work.image).arg("--").args(&work.args);
        }
        let output = command.stdin(Stdio::null()).output().unwrap();
        stdout.extend_from_slice(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            return Err(format!(
                "hop {hop} on {} failed ({:?}): {stderr}",
                place.name,
                output.status.code()
            ));
        }
        if let Some((at, file)) = capture {
            if !file.exists() || !stderr.contains("checkpoint written") {
                return Err(format!(
                    "hop {hop} on {} did not capture at point {at}: {stderr}",
                    place.name
                ));
            }
            previous = Some(file);
        }
    }
    Ok(stdout)
}

/// Runs the workloads one after another twice, in two sandboxes seeded alike: uninterrupted
/// on x86_64, and migrated along the chains (forward for even workloads, reversed for odd
/// ones). Compares each stdout and, at the end, every file.
fn migrate_project(name: &str, dir: &Path, workloads: &[Workload], seed: &dyn Fn(&Path)) {
    let x86 = x86_64_executor();
    let forward = [x86.clone(), Executor::emu_aarch64(), Executor::wasm64()];
    let reverse = [Executor::wasm64(), Executor::emu_aarch64(), x86.clone()];
    let reference = dir.join("reference");
    let moved = dir.join("migrated");
    let checkpoints = dir.join("checkpoints");
    for folder in [&reference, &moved, &checkpoints] {
        let _ = std::fs::remove_dir_all(folder);
        std::fs::create_dir_all(folder).unwrap();
    }
    seed(&reference);
    seed(&moved);
    let mut failures = Vec::new();
    for (i, work) in workloads.iter().enumerate() {
        let mut command = work
            .image
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for arg in &work.args {
            command = format!("{command} {arg}");
        }
        let expected = uninterrupted(work, &x86, &reference);
        let chain = if i % 2 == 0 { &forward } else { &reverse };
        let names: Vec<&str> = chain.iter().map(|p| p.name).collect();
        let started = std::time::Instant::now();
        match migrated(
            work,
            chain,
            expected.points,
            &moved,
            &checkpoints,
            &format!("{name}.{i}"),
        ) {
            Ok(stdout) if stdout == expected.stdout => println!(
                "ok   `{command}` ({} points) migrated {} in {:.1} s",
                expected.points,
                names.join(" -> "),
                started.elapsed().as_secs_f64()
            ),
            Ok(stdout) => failures.push(format!(
                "`{command}` via {}: stdout {}",
                names.join(" -> "),
                first_difference(&expected.stdout, &stdout)
            )),
            Err(problem) => failures.push(format!("`{command}`: {problem}")),
        }
    }
    let listed = |root: &Path| -> Vec<PathBuf> {
        files_under(root)
            .into_iter()
            .map(|f| f.strip_prefix(root).unwrap().to_path_buf())
            .collect()
    };
    let (want, have) = (listed(&reference), listed(&moved));
    if want != have {
        failures.push(format!("the sandboxes hold {have:?}, expected {want:?}"));
    }
    for file in &want {
        let (a, b) = (
            std::fs::read(reference.join(file)).unwrap(),
            std::fs::read(moved.join(file)).unwrap_or_default(),
        );
        if a != b {
            failures.push(format!(
                "{} differs: {}",
                file.display(),
                first_difference(&a, &b)
            ));
        } else {
            println!("ok   {} ({} bytes) identical", file.display(), a.len());
        }
    }
    assert!(failures.is_empty(), "{name}: {failures:#?}");
}

/// Compress a file (bzip2 writes input.dat.bz2 and keeps the input), then decompress it to
/// stdout, which must give the input back.
fn bzip2_workloads(image: &Path) -> [Workload; 2] {
    [
        vec!["-k", "-9", "input.dat"],
        vec!["-d", "-c", "input.dat.bz2"],
    ]
    .map(|args| Workload {
        image: image.to_path_buf(),
        args,
    })
}

#[test]
fn bzip2_migrates_across_isas_mid_run() {
    let tarball = fetch("bzip2");
    let dir = work_dir("debian-migration/bzip2");
    let tree = extract(&tarball, &dir.join("src"));
    sh(
        &tree,
        "make CC=xisa-cc AR=llvm-ar-19 RANLIB=llvm-ranlib-19 bzip2",
    );
    let image = tree.join("bzip2");
    let workloads = bzip2_workloads(&image);
    migrate_project("bzip2", &dir, &workloads, &|sandbox| {
        test_input(sandbox);
    });
    let input = std::fs::read(dir.join("migrated/input.dat")).unwrap();
    let restored = Command::new(xisa())
        .arg("run")
        .arg("--dir")
        .arg(dir.join("migrated"))
        .arg(&image)
        .args(["--", "-d", "-c", "input.dat.bz2"])
        .output()
        .unwrap();
    assert!(
        restored.stdout == input,
        "the migrated input.dat.bz2 does not decompress to the input"
    );
}

/// The Debian tree's Makefile links bzip2 against its own `libbz2.so` (a bitcode library
/// under xisa-cc); the program it builds migrates like the upstream one.
#[test]
fn debian_bzip2_linked_to_libbz2_so_migrates_across_isas_mid_run() {
    let dir = work_dir("debian-migration/bzip2-debian");
    let tree = debian_tree("bzip2", &dir.join("src"));
    sh(&tree, "make CC=xisa-cc AR=xisa-ar RANLIB=xisa-ranlib bzip2");
    migrate_project(
        "bzip2-debian",
        &dir,
        &bzip2_workloads(&tree.join("bzip2")),
        &|sandbox| {
            test_input(sandbox);
        },
    );
}

#[test]
fn zlib_migrates_across_isas_mid_run() {
    let tarball = fetch("zlib");
    let dir = work_dir("debian-migration/zlib");
    let tree = extract(&tarball, &dir.join("src"));
    sh(
        &tree,
        "CC=xisa-cc AR=llvm-ar-19 ./configure --static && make minigzip example",
    );
    let workloads = [
        // minigzip replaces input.dat with input.dat.gz ...
        Workload {
            image: tree.join("minigzip"),
            args: vec!["-9", "input.dat"],
        },
        // ... whose decompression to stdout is the input ...
        Workload {
            image: tree.join("minigzip"),
            args: vec!["-d", "-c", "input.dat.gz"],
        },
        // ... and zlib's own test program, which prints its checks and writes foo.gz.
        Workload {
            image: tree.join("example"),
            args: vec![],
        },
    ];
    let original = dir.join("original.dat");
    migrate_project("zlib", &dir, &workloads, &|sandbox| {
        let input = test_input(sandbox);
        std::fs::copy(&input, &original).unwrap();
    });
    let stdout = uninterrupted(&workloads[1], &Executor::wasm64(), &dir.join("migrated")).stdout;
    assert!(
        stdout == std::fs::read(&original).unwrap(),
        "the migrated input.dat.gz does not decompress to the input"
    );
}

/// lzopack's messages start with its argv[0], which differs between builds: drop it.
fn messages(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| l.split_once(": ").map_or(l, |(_, rest)| rest).to_string())
        .collect()
}

/// Debian's lzo2 (autoconf + libtool, configured like Debian's rules with `--enable-shared`)
/// builds unchanged with `./configure CC=xisa-cc && make`: libtool's checks get answers from
/// xisa-cc, liblzo2.so becomes a bitcode library and the example `lzopack` links it through
/// libtool. lzopack compresses, tests and decompresses identically to the native build on
/// every executor, and migrates across ISAs mid-run.
#[test]
fn debian_lzo2_autotools_libtool_build_matches_native_and_migrates() {
    let dir = work_dir("debian-migration/lzo2");
    let tree = debian_tree("lzo2", &dir.join("xisa"));
    let native_tree = debian_tree("lzo2", &dir.join("native"));
    // The native reference builds alongside (configure is mostly one process at a time).
    let native_build = std::thread::spawn({
        let native_tree = native_tree.clone();
        move || {
            sh(
                &native_tree,
                "./configure CC=clang-19 --enable-shared >/dev/null && make examples/lzopack >/dev/null",
            )
        }
    });
    let configured = sh(
        &tree,
        "./configure CC=xisa-cc AR=xisa-ar RANLIB=xisa-ranlib --enable-shared",
    );
    for line in configured.lines() {
        assert!(
            !line.contains("error:") && !line.contains("unknown option"),
            "configure met an xisa-cc error: {line}"
        );
    }
    assert!(
        configured.contains("whether to build shared libraries... yes"),
        "libtool did not enable shared libraries:\n{configured}"
    );
    sh(&tree, "make -j2");
    assert!(
        tree.join("src/.libs/liblzo2.so.2.0.0").is_file(),
        "libtool did not build src/.libs/liblzo2.so.2.0.0"
    );
    native_build
        .join()
        .expect("the native build of lzo2 failed");
    // libtool leaves a wrapper script at examples/lzopack; the program is in .libs.
    let image = tree.join("examples/.libs/lzopack");
    let native = native_tree.join("examples/lzopack");

    // Native reference: compress, test, decompress in a folder of its own.
    let native_data = dir.join("native-data");
    let _ = std::fs::remove_dir_all(&native_data);
    std::fs::create_dir_all(&native_data).unwrap();
    let input = std::fs::read(test_input(&native_data)).unwrap();
    let native_run = |args: &[&str]| -> Vec<u8> {
        let output = Command::new(&native)
            .args(args)
            .current_dir(&native_data)
            .output()
            .unwrap();
        assert!(output.status.success(), "native lzopack {args:?} failed");
        output.stdout
    };
    // The default level (LZO1X-1) here; the slower -9 (LZO1X-999) runs in the migrations.
    let steps: [&[&str]; 3] = [
        &["input.dat", "input.lzo"],
        &["-t", "input.lzo"],
        &["-d", "input.lzo", "output.dat"],
    ];
    let expected: Vec<Vec<String>> = steps.iter().map(|a| messages(&native_run(a))).collect();
    let expected_lzo = std::fs::read(native_data.join("input.lzo")).unwrap();
    assert!(std::fs::read(native_data.join("output.dat")).unwrap() == input);

    for executor in executors() {
        let sandbox = dir.join("run").join(executor.name.replace('/', "-"));
        let _ = std::fs::remove_dir_all(&sandbox);
        std::fs::create_dir_all(&sandbox).unwrap();
        test_input(&sandbox);
        for (args, want) in steps.iter().zip(&expected) {
            let output = Command::new(xisa())
                .arg("run")
                .args(&executor.run_args)
                .arg("--dir")
                .arg(&sandbox)
                .arg(&image)
                .arg("--")
                .args(*args)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "lzopack {args:?} on {} failed: {}",
                executor.name,
                String::from_utf8_lossy(&output.stderr)
            );
            assert_eq!(
                &messages(&output.stdout),
                want,
                "lzopack {args:?} on {} says something else than native",
                executor.name
            );
        }
        let lzo = std::fs::read(sandbox.join("input.lzo")).unwrap();
        assert!(
            lzo == expected_lzo,
            "lzopack on {} differs from native: {}",
            executor.name,
            first_difference(&expected_lzo, &lzo)
        );
        assert!(
            std::fs::read(sandbox.join("output.dat")).unwrap() == input,
            "lzopack -d on {} does not restore the input",
            executor.name
        );
        println!("ok   {:<16} lzopack / -t / -d match native", executor.name);
    }

    let work = |args: Vec<&'static str>| Workload {
        image: image.clone(),
        args,
    };
    let workloads = [
        work(vec!["-9", "input.dat", "input.lzo"]),
        work(vec!["-t", "input.lzo"]),
        work(vec!["-d", "input.lzo", "output.dat"]),
    ];
    migrate_project("lzo2", &dir, &workloads, &|sandbox| {
        test_input(sandbox);
    });
    assert!(
        std::fs::read(dir.join("migrated/output.dat")).unwrap() == input,
        "the migrated round trip does not restore the input"
    );
}
