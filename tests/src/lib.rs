//! Helpers for the end-to-end tests: locating the built binaries, reading the corpus and its
//! expected outputs, building images, running them and comparing results byte for byte.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `target/<profile>`, derived from the running test binary (`target/<profile>/deps/...`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_path_buf()
}

fn binary(name: &str) -> PathBuf {
    let path = profile_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace binaries first (scripts/test does: cargo build --release --workspace --bins)",
        path.display()
    );
    path
}

pub fn xisa() -> PathBuf {
    binary("xisa")
}

pub fn xisa_cc() -> PathBuf {
    binary("xisa-cc")
}

/// `xisa-ar` or `xisa-ranlib`.
pub fn xisa_tool(name: &str) -> PathBuf {
    binary(name)
}

/// A scratch folder for this test run's artefacts, kept under target/ for inspection.
pub fn work_dir(name: &str) -> PathBuf {
    let dir = profile_dir().join("xisa-tests").join(name);
    std::fs::create_dir_all(&dir).expect("create work dir");
    dir
}

/// One corpus program with its metadata and expected results.
#[derive(Clone, Debug)]
pub struct CorpusProgram {
    pub name: String,
    pub source: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub stdin: Option<PathBuf>,
    pub input_dir: Option<PathBuf>,
    pub expected_stdout: Vec<u8>,
    pub expected_stderr: Vec<u8>,
    pub expected_status: i32,
    pub expected_files: Option<PathBuf>,
    /// Targets the program is built for (`// xisa-targets:`); None means all.
    pub targets: Option<Vec<String>>,
}

pub fn programs_dir() -> PathBuf {
    repo_root().join("tests/programs")
}

/// Every `tests/programs/*.c`, sorted by name (only those named in XISA_TEST_PROGRAMS,
/// comma-separated, when it is set).
pub fn corpus() -> Vec<CorpusProgram> {
    let only: Option<Vec<String>> = std::env::var("XISA_TEST_PROGRAMS")
        .ok()
        .map(|names| names.split(',').map(String::from).collect());
    let dir = programs_dir();
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/programs exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    sources.sort();
    let programs: Vec<CorpusProgram> = sources
        .into_iter()
        .map(|source| load_program(&dir, source))
        .filter(|p| only.as_ref().is_none_or(|names| names.contains(&p.name)))
        .collect();
    // A mistyped name must not leave a test with nothing to check.
    for name in only.iter().flatten() {
        assert!(
            programs.iter().any(|p| &p.name == name),
            "XISA_TEST_PROGRAMS names `{name}`, which is not in tests/programs"
        );
    }
    assert!(!programs.is_empty(), "no corpus programs selected");
    programs
}

fn load_program(dir: &Path, source: PathBuf) -> CorpusProgram {
    let name = source
        .file_stem()
        .expect("stem")
        .to_string_lossy()
        .into_owned();
    let text = std::fs::read_to_string(&source).expect("read source");
    let mut program = CorpusProgram {
        name: name.clone(),
        source: source.clone(),
        args: Vec::new(),
        env: Vec::new(),
        stdin: None,
        input_dir: Some(dir.join(format!("{name}.d"))).filter(|d| d.is_dir()),
        expected_stdout: read(&dir.join(format!("expected/{name}.stdout"))),
        expected_stderr: read(&dir.join(format!("expected/{name}.stderr"))),
        expected_status: String::from_utf8_lossy(&read(
            &dir.join(format!("expected/{name}.status")),
        ))
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{name}: bad expected status")),
        expected_files: Some(dir.join(format!("expected/{name}.files"))).filter(|d| d.is_dir()),
        targets: None,
    };
    for line in text.lines().take_while(|l| l.starts_with("// xisa-")) {
        if let Some(args) = line.strip_prefix("// xisa-args: ") {
            program.args = args.split(' ').map(String::from).collect();
        } else if let Some(env) = line.strip_prefix("// xisa-env: ") {
            program.env.push(env.to_string());
        } else if let Some(file) = line.strip_prefix("// xisa-stdin: ") {
            program.stdin = Some(dir.join(format!("{name}.d")).join(file));
        } else if let Some(targets) = line.strip_prefix("// xisa-targets: ") {
            program.targets = Some(targets.split(',').map(String::from).collect());
        }
    }
    program
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Builds a corpus program into `dir/NAME.xisa` with the same language flags as the
/// expected-output build.
pub fn build(program: &CorpusProgram, dir: &Path) -> Result<PathBuf, String> {
    let image = dir.join(format!("{}.xisa", program.name));
    let mut command = Command::new(xisa_cc());
    command.args(["-std=c11", "-O2"]);
    if let Some(targets) = &program.targets {
        command.arg(format!("--xisa-targets={}", targets.join(",")));
    }
    let output = command
        .arg(&program.source)
        .arg("-o")
        .arg(&image)
        .output()
        .map_err(|e| format!("cannot run xisa-cc: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "xisa-cc failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(image)
}

/// How an image is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Executor {
    /// Name shown in test output, e.g. `kvm/x86_64`.
    pub name: &'static str,
    pub target: &'static str,
    /// Extra `xisa run` arguments selecting it.
    pub run_args: Vec<&'static str>,
}

impl Executor {
    fn new(name: &'static str, target: &'static str, backend: Option<&'static str>) -> Self {
        let mut run_args = vec!["--target", target];
        if let Some(backend) = backend {
            run_args.extend(["--backend", backend]);
        }
        Executor {
            name,
            target,
            run_args,
        }
    }

    pub fn wasm64() -> Self {
        Executor::new("wasm64", "wasm64", None)
    }
    pub fn kvm_x86_64() -> Self {
        Executor::new("kvm/x86_64", "x86_64", Some("kvm"))
    }
    pub fn emu_aarch64() -> Self {
        Executor::new("emu/aarch64", "aarch64", Some("emu"))
    }
    pub fn emu_x86_64() -> Self {
        Executor::new("emu/x86_64", "x86_64", Some("emu"))
    }
    pub fn process_x86_64() -> Self {
        Executor::new("process/x86_64", "x86_64", Some("process"))
    }
    pub fn process_aarch64() -> Self {
        Executor::new("process/aarch64", "aarch64", Some("process"))
    }

    /// Runs native code (x86-64 or AArch64), as opposed to the wasm64 reference executor.
    pub fn is_native(&self) -> bool {
        self.target != "wasm64"
    }

    /// Does `program` build a program this executor can run?
    pub fn runs(&self, program: &CorpusProgram) -> bool {
        program
            .targets
            .as_ref()
            .is_none_or(|targets| targets.iter().any(|t| t == self.target))
    }
}

/// Whether KVM can run guests here; the reason when it cannot.
pub fn kvm_available() -> Result<(), String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map(|_| ())
        .map_err(|e| format!("/dev/kvm cannot be opened: {e}"))
}

/// The executors every test should cover on this machine, printing SKIPPED with the reason
/// for any that cannot run here.
pub fn executors() -> Vec<Executor> {
    let mut executors = vec![Executor::wasm64()];
    match kvm_available() {
        Ok(()) if cfg!(target_arch = "x86_64") => executors.push(Executor::kvm_x86_64()),
        Ok(()) => println!("SKIPPED kvm/x86_64: this host is not x86-64"),
        Err(reason) => println!("SKIPPED kvm/x86_64: {reason}"),
    }
    executors.push(Executor::emu_aarch64());
    executors.push(Executor::emu_x86_64());
    executors.push(Executor::process_x86_64());
    match which("qemu-aarch64") {
        Some(_) => executors.push(Executor::process_aarch64()),
        None => {
            println!("SKIPPED process/aarch64: qemu-aarch64 is not installed (package qemu-user)")
        }
    }
    executors
}

/// The path of `program` on PATH, if any.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| candidate.is_file())
}

/// Runs `image` for `program` in a fresh sandbox under `dir`; returns the output and the
/// sandbox folder.
pub fn run(
    program: &CorpusProgram,
    image: &Path,
    executor: &Executor,
    dir: &Path,
) -> (Output, PathBuf) {
    let sandbox = dir.join(format!("{}.{}.sandbox", program.name, executor.name));
    let _ = std::fs::remove_dir_all(&sandbox);
    std::fs::create_dir_all(&sandbox).expect("create sandbox");
    if let Some(input) = &program.input_dir {
        copy_tree(input, &sandbox);
    }
    let mut command = Command::new(xisa());
    command
        .arg("run")
        .args(&executor.run_args)
        .arg("--dir")
        .arg(&sandbox);
    for env in &program.env {
        command.arg("--env").arg(env);
    }
    command.arg(image).arg("--").args(&program.args);
    command.stdin(match &program.stdin {
        Some(file) => Stdio::from(std::fs::File::open(file).expect("stdin file")),
        None => Stdio::null(),
    });
    let output = command.output().expect("run xisa");
    (output, sandbox)
}

pub fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Compares a run with the expected results; returns what differs.
pub fn compare(program: &CorpusProgram, output: &Output, sandbox: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    if output.stdout != program.expected_stdout {
        problems.push(format!(
            "stdout differs: {}",
            first_difference(&program.expected_stdout, &output.stdout)
        ));
    }
    if output.stderr != program.expected_stderr {
        problems.push(format!(
            "stderr differs: {}",
            first_difference(&program.expected_stderr, &output.stderr)
        ));
    }
    let status = output.status.code().unwrap_or(-1);
    if status != program.expected_status {
        problems.push(format!(
            "exit status {status}, expected {}",
            program.expected_status
        ));
    }
    if let Some(expected) = &program.expected_files {
        for file in files_under(expected) {
            let relative = file.strip_prefix(expected).expect("under expected");
            match std::fs::read(sandbox.join(relative)) {
                Ok(actual) if actual == read(&file) => {}
                Ok(actual) => problems.push(format!(
                    "file {} differs: {}",
                    relative.display(),
                    first_difference(&read(&file), &actual)
                )),
                Err(_) => problems.push(format!("file {} was not written", relative.display())),
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        if entry.path().is_dir() {
            out.extend(files_under(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out.sort();
    out
}

/// Where two byte strings first differ, with a little context.
pub fn first_difference(expected: &[u8], actual: &[u8]) -> String {
    let at = expected
        .iter()
        .zip(actual)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(actual.len()));
    let line = expected[..at].iter().filter(|b| **b == b'\n').count() + 1;
    let context = |bytes: &[u8]| {
        let end = (at + 60).min(bytes.len());
        String::from_utf8_lossy(&bytes[at.min(bytes.len())..end])
            .escape_debug()
            .to_string()
    };
    format!(
        "at byte {at} (line {line}) expected \"{}\" got \"{}\" (lengths {} and {})",
        context(expected),
        context(actual),
        expected.len(),
        actual.len()
    )
}

/// Runs `work` on every item using `threads` threads; returns results in item order.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().expect("lock");
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(item) = items.get(i) else { break };
                    let result = work(item);
                    results.lock().expect("lock")[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("lock")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// Threads to use for independent work: the machine's cores.
pub fn threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// The x86-64 executor for migration tests: KVM where `/dev/kvm` opens on an x86-64 host,
/// else CPU emulation (saying SKIPPED for KVM with the reason).
/// The pages a lazy restore reports under `xisa restore -v`: (mapped from the checkpoint,
/// filled on first touch, filled in the background).
pub fn lazy_restore_pages(stderr: &str) -> Option<(u64, u64, u64)> {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("xisa: lazy restore: "))?;
    let mut numbers = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok());
    Some((numbers.next()?, numbers.next()?, numbers.next()?))
}

pub fn x86_64_executor() -> Executor {
    match kvm_available() {
        Ok(()) if cfg!(target_arch = "x86_64") => Executor::kvm_x86_64(),
        Ok(()) => {
            println!("SKIPPED kvm/x86_64: this host is not x86-64; using emu/x86_64");
            Executor::emu_x86_64()
        }
        Err(reason) => {
            println!("SKIPPED kvm/x86_64: {reason}; using emu/x86_64");
            Executor::emu_x86_64()
        }
    }
}

/// Builds a C file (not necessarily from the corpus) into `image` with `xisa-cc -O2`.
pub fn build_source(source: &Path, image: &Path) -> Result<(), String> {
    let output = Command::new(xisa_cc())
        .args(["-std=c11", "-O2"])
        .arg(source)
        .arg("-o")
        .arg(image)
        .output()
        .map_err(|e| format!("cannot run xisa-cc: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "xisa-cc {} failed:\n{}",
            source.display(),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Checks that `output` is a clean refusal: a non-zero exit status (not a signal), no panic,
/// and an `error:` message on stderr containing every one of `words`. Returns the message.
pub fn refused(output: &Output, words: &[&str]) -> Result<String, String> {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let message = stderr.trim().to_string();
    match output.status.code() {
        None => {
            return Err(format!(
                "killed by a signal ({:?}): {message}",
                output.status
            ));
        }
        Some(0) => return Err(format!("exited 0 instead of refusing: {message}")),
        Some(101) => return Err(format!("exited 101 (a Rust panic?): {message}")),
        Some(_) => {}
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        return Err(format!("panicked: {message}"));
    }
    if !stderr.contains("error:") {
        return Err(format!("no `error:` message: {message}"));
    }
    let missing: Vec<&&str> = words.iter().filter(|w| !stderr.contains(**w)).collect();
    if !missing.is_empty() {
        return Err(format!("message lacks {missing:?}: {message}"));
    }
    Ok(message)
}

/// Migration points an uninterrupted `xisa run -v` of `image` passes in `sandbox`.
pub fn migration_points(
    image: &Path,
    executor: &Executor,
    sandbox: &Path,
    args: &[&str],
    stdin: Option<&Path>,
) -> Result<u64, String> {
    let output = Command::new(xisa())
        .arg("run")
        .arg("-v")
        .args(&executor.run_args)
        .arg("--dir")
        .arg(sandbox)
        .arg(image)
        .arg("--")
        .args(args)
        .stdin(match stdin {
            Some(file) => Stdio::from(std::fs::File::open(file).map_err(|e| e.to_string())?),
            None => Stdio::null(),
        })
        .output()
        .map_err(|e| format!("cannot run xisa: {e}"))?;
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .find_map(|line| {
            line.strip_prefix("xisa: ")?
                .strip_suffix(" migration points passed")?
                .parse()
                .ok()
        })
        .ok_or_else(|| {
            format!(
                "`xisa run -v` did not report its migration points:\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

/// Debian source packages built with their own build files (tests/tests/debian_*.rs).
pub mod debian {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use super::{files_under, profile_dir, programs_dir, work_dir};

    /// Downloads a Debian source package (once) and returns the path of its upstream tarball.
    pub fn fetch(package: &str) -> PathBuf {
        let dir = work_dir("debian-src").join(package);
        std::fs::create_dir_all(&dir).unwrap();
        let find = || {
            std::fs::read_dir(&dir)
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().contains(".orig.tar."))
                })
        };
        if let Some(tarball) = find() {
            return tarball;
        }
        let output = Command::new("apt-get")
            .args(["source", "--download-only", "-q", package])
            .current_dir(&dir)
            .output()
            .expect("apt-get is available on Debian");
        assert!(
            output.status.success(),
            "cannot fetch the Debian source package {package} (scripts/setup enables deb-src):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        find()
            .unwrap_or_else(|| panic!("{package}: no upstream tarball among the downloaded files"))
    }

    /// Unpacks the Debian source package (upstream tree with Debian's patches and build-file
    /// changes applied) into a fresh `dest` and returns the tree.
    pub fn debian_tree(package: &str, dest: &Path) -> PathBuf {
        let tarball = fetch(package);
        let folder = tarball.parent().unwrap();
        let dsc = std::fs::read_dir(folder)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "dsc"))
            .unwrap_or_else(|| panic!("{package}: no .dsc among the downloaded files"));
        let _ = std::fs::remove_dir_all(dest);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        let output = Command::new("dpkg-source")
            .arg("--no-check")
            .arg("-x")
            .arg(&dsc)
            .arg(dest)
            .output()
            .expect("dpkg-source (dpkg-dev) is available on Debian");
        assert!(
            output.status.success(),
            "dpkg-source -x {} failed:\n{}",
            dsc.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        dest.to_path_buf()
    }

    /// Extracts a tarball into a fresh `dest` and returns the single top folder inside it.
    pub fn extract(tarball: &Path, dest: &Path) -> PathBuf {
        let _ = std::fs::remove_dir_all(dest);
        std::fs::create_dir_all(dest).unwrap();
        let status = Command::new("tar")
            .arg("-xf")
            .arg(tarball)
            .arg("-C")
            .arg(dest)
            .status()
            .unwrap();
        assert!(status.success(), "cannot extract {}", tarball.display());
        std::fs::read_dir(dest)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.is_dir())
            .expect("one top folder")
    }

    /// PATH with the xisa binaries first, so builds find xisa-cc and images run via `xisa exec`.
    pub fn path_with_xisa() -> String {
        format!(
            "{}:{}",
            profile_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// Runs `script` in `dir` with xisa on PATH; returns stdout and stderr together.
    pub fn sh(dir: &Path, script: &str) -> String {
        let output = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .env("PATH", path_with_xisa())
            .output()
            .expect("run sh");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success(),
            "`{script}` failed in {}:\n{text}",
            dir.display()
        );
        text
    }

    /// Deterministic test data: the corpus sources and expected outputs, concatenated.
    pub fn test_input(dir: &Path) -> PathBuf {
        let mut data = Vec::new();
        for _ in 0..3 {
            for file in files_under(&programs_dir()) {
                data.extend(std::fs::read(file).unwrap());
            }
        }
        let path = dir.join("input.dat");
        std::fs::write(&path, data).unwrap();
        path
    }
}
