//! `xisa run`: run an image on one of its targets. The guest's exit status is ours; a guest
//! that faults exits like a process killed by a signal (128 + N).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use xisa_format::image::Image;
use xisa_format::memory_map::DEFAULT_MEM_TOP;
use xisa_format::target::Target;
use xisa_native::{Backend, NativeConfig, NativeOutcome};
use xisa_wasm::{RunConfig, RunOutcome};

use crate::commands::capture::{CaptureArgs, RunFacts, report_run};
use crate::report::with_hint;

#[derive(clap::Args)]
pub struct Args {
    /// The image to run.
    image: PathBuf,
    /// Target to run: x86_64, aarch64 or wasm64 (default: the host's ISA).
    #[arg(long, value_parser = parse_target)]
    target: Option<Target>,
    /// How to run a native target: kvm, emu (CPU emulation) or process (an ordinary Linux
    /// process; no sandbox). Default: kvm when /dev/kvm opens and the target is the host's,
    /// else emu.
    #[arg(long, value_parser = parse_backend)]
    backend: Option<BackendChoice>,
    /// Make a host folder visible to the guest: HOST[:GUEST] (GUEST defaults to /).
    #[arg(long = "dir", value_name = "HOST[:GUEST]")]
    dirs: Vec<String>,
    /// Set a guest environment variable (the guest environment is otherwise empty).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Guest memory size, e.g. 512M or 4G.
    #[arg(long, value_parser = parse_size)]
    mem: Option<u64>,
    #[command(flatten)]
    capture: CaptureArgs,
    /// Arguments for the guest program (after --).
    #[arg(last = true)]
    args: Vec<String>,
}

#[derive(clap::Args)]
pub struct ExecArgs {
    /// The image to run; the current folder is the guest's `/` and the host environment is
    /// passed through.
    image: PathBuf,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn parse_target(text: &str) -> Result<Target, String> {
    text.parse()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    Kvm,
    Emu,
    Process,
}

pub fn parse_backend(text: &str) -> Result<BackendChoice, String> {
    match text {
        "kvm" => Ok(BackendChoice::Kvm),
        "emu" => Ok(BackendChoice::Emu),
        "process" => Ok(BackendChoice::Process),
        other => Err(format!(
            "unknown backend `{other}` (expected kvm, emu or process)"
        )),
    }
}

/// The executor a run uses, after defaults are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Executor {
    pub target: Target,
    pub backend: Option<BackendChoice>,
}

impl Executor {
    pub fn choose(
        target: Option<Target>,
        backend: Option<BackendChoice>,
    ) -> anyhow::Result<Executor> {
        let host = Target::host();
        let target = target.or(host).unwrap_or(Target::Wasm64);
        if target == Target::Wasm64 {
            if let Some(backend) = backend {
                return Err(with_hint(
                    anyhow::anyhow!("--backend {backend:?} does not apply to wasm64"),
                    "wasm64 always runs on the Wasmtime reference executor; drop --backend",
                ));
            }
            return Ok(Executor {
                target,
                backend: None,
            });
        }
        let backend = backend.unwrap_or(
            if Some(target) == host && xisa_native::backend::kvm::availability().is_ok() {
                BackendChoice::Kvm
            } else {
                BackendChoice::Emu
            },
        );
        Ok(Executor {
            target,
            backend: Some(backend),
        })
    }

    pub fn describe(&self) -> String {
        match self.backend {
            None => format!("{} (Wasmtime reference executor)", self.target),
            Some(BackendChoice::Kvm) => format!("{} on KVM", self.target),
            Some(BackendChoice::Emu) => format!("{} on CPU emulation (Unicorn)", self.target),
            Some(BackendChoice::Process) => format!("{} as a Linux process", self.target),
        }
    }
}

/// Sizes like `4096`, `512K`, `64M`, `4G`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, scale) = match text.chars().last() {
        Some('k' | 'K') => (&text[..text.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&text[..text.len() - 1], 1 << 20),
        Some('g' | 'G') => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("`{text}` is not a size (examples: 512M, 4G)"))
}

pub fn parse_mount(text: &str) -> anyhow::Result<(PathBuf, String)> {
    let (host, guest) = match text.split_once(':') {
        Some((host, guest)) => (host, guest.to_string()),
        None => (text, "/".to_string()),
    };
    if host.is_empty() {
        anyhow::bail!("--dir {text}: the host folder is empty");
    }
    Ok((PathBuf::from(host), guest))
}

pub fn run(args: Args, verbose: u8) -> anyhow::Result<ExitCode> {
    let mounts = args
        .dirs
        .iter()
        .map(|d| parse_mount(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for entry in &args.env {
        if !entry.contains('=') {
            anyhow::bail!("--env {entry}: expected KEY=VALUE");
        }
    }
    let mut guest_args = vec![args.image.display().to_string()];
    guest_args.extend(args.args);
    let config = RunConfig {
        args: guest_args,
        env: args.env,
        mounts,
        mem_top: args.mem.unwrap_or(DEFAULT_MEM_TOP),
    };
    let executor = Executor::choose(args.target, args.backend)?;
    launch(&args.image, executor, &config, &args.capture, verbose)
}

pub fn exec(args: ExecArgs, verbose: u8) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let mut guest_args = vec![args.image.display().to_string()];
    guest_args.extend(args.args);
    let env = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let config = RunConfig {
        args: guest_args,
        env,
        mounts: vec![(cwd, "/".into())],
        mem_top: DEFAULT_MEM_TOP,
    };
    launch(
        &args.image,
        Executor::choose(None, None)?,
        &config,
        &CaptureArgs::default(),
        verbose,
    )
}

fn launch(
    path: &Path,
    executor: Executor,
    config: &RunConfig,
    capture: &CaptureArgs,
    verbose: u8,
) -> anyhow::Result<ExitCode> {
    let target = executor.target;
    if capture.wants_capture() && executor.backend == Some(BackendChoice::Process) {
        return Err(with_hint(
            anyhow::anyhow!("a program running as a Linux process cannot be checkpointed"),
            "use --backend kvm or emu to capture a native program",
        ));
    }
    // Listen for capture requests before the slow part of start-up: until then SIGUSR1 would
    // still end the process.
    let policy = capture.policy()?;
    let image = Image::open(path).with_context(|| format!("cannot run {}", path.display()))?;
    if !image.targets().contains(&target) {
        let have: Vec<String> = image.targets().iter().map(|t| t.to_string()).collect();
        return Err(with_hint(
            anyhow::anyhow!("{} has no {target} program", path.display()),
            format!(
                "choose one of its targets with --target: {}",
                have.join(", ")
            ),
        ));
    }
    if verbose > 0 {
        let map = xisa_format::memory_map::MemoryMap {
            image: image.manifest().layout(),
            mem_top: config.mem_top,
        };
        eprintln!(
            "xisa: running {} on {}",
            path.display(),
            executor.describe()
        );
        eprintln!(
            "xisa: memory map: image {:#x}..{:#x}, heap from {:#x}, top {:#x}",
            map.image.rodata().start,
            map.image.end(),
            map.brk_base(),
            map.mem_top
        );
    }
    let status = match executor.backend {
        None => {
            let run = xisa_wasm::run(&image, config, policy)
                .with_context(|| format!("cannot run {}", path.display()))?;
            wasm_status(run, capture, verbose)
        }
        Some(BackendChoice::Process) => {
            // A process sees the host's file system: run it in the one folder it was given.
            let cwd = match config.mounts.as_slice() {
                [] => std::env::current_dir().context("cannot read the current folder")?,
                [(host, _)] => host.clone(),
                _ => {
                    return Err(with_hint(
                        anyhow::anyhow!(
                            "process mode runs in one folder, but several --dir were given"
                        ),
                        "give one --dir (it becomes the working directory; a process has no sandbox)",
                    ));
                }
            };
            let outcome =
                xisa_native::process::run_process(&image, target, &config.args, &config.env, &cwd)
                    .with_context(|| format!("cannot run {} as a process", path.display()))?;
            outcome.status()
        }
        Some(choice) => {
            let backend = if choice == BackendChoice::Kvm {
                Backend::Kvm
            } else {
                Backend::Emu
            };
            let native = NativeConfig {
                target,
                backend,
                args: config.args.clone(),
                env: config.env.clone(),
                mounts: config.mounts.clone(),
                mem_top: config.mem_top,
            };
            let run = xisa_native::run(&image, &native, policy)
                .with_context(|| format!("cannot run {}", path.display()))?;
            native_status(run, capture, verbose)
        }
    };
    if verbose > 0 {
        eprintln!("xisa: guest exited with status {status}");
    }
    Ok(ExitCode::from(status as u8))
}

/// The exit status of a wasm64 run, after reporting its captures.
pub fn wasm_status(run: xisa_wasm::WasmRun, capture: &CaptureArgs, verbose: u8) -> i32 {
    let status = match &run.outcome {
        RunOutcome::Exited(code) => *code,
        RunOutcome::Checkpointed => 0,
        RunOutcome::Trapped(trap) => {
            eprintln!("error: {trap}");
            if !trap.backtrace.is_empty() {
                eprintln!("  guest backtrace (innermost first):");
                let shown = if verbose > 0 {
                    trap.backtrace.len()
                } else {
                    trap.backtrace.len().min(8)
                };
                for frame in &trap.backtrace[..shown] {
                    eprintln!("    {frame}");
                }
            }
            trap.status
        }
    };
    let facts = RunFacts {
        captures: &run.captures,
        points: run.points,
        resume_time: run.resume_time,
        run_time: run.run_time,
        status,
    };
    report_run(capture, &facts, verbose);
    status
}

/// The exit status of a native run, after reporting its captures.
pub fn native_status(run: xisa_native::NativeRun, capture: &CaptureArgs, verbose: u8) -> i32 {
    let status = match &run.outcome {
        NativeOutcome::Exited(code) => *code,
        NativeOutcome::Checkpointed => 0,
        NativeOutcome::Faulted(fault) => {
            eprintln!("error: {fault}");
            fault.status()
        }
    };
    let facts = RunFacts {
        captures: &run.captures,
        points: run.points,
        resume_time: run.resume_time,
        run_time: run.run_time,
        status,
    };
    report_run(capture, &facts, verbose);
    status
}
