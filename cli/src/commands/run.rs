//! `xisa run`: run an image on one of its targets. The guest's exit status is ours; a guest
//! that faults exits like a process killed by a signal (128 + N).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use xisa_format::image::Image;
use xisa_format::memory_map::DEFAULT_MEM_TOP;
use xisa_format::target::Target;
use xisa_runtime::{GuestSetup, Outcome, RunSummary, Session, setup};

use crate::commands::capture::{CaptureArgs, report_run};
pub use crate::machines::{BackendChoice, Executor, parse_backend, parse_target};
use crate::report::with_hint;

#[derive(clap::Args)]
pub struct Args {
    /// The image to run.
    image: PathBuf,
    /// Target to run: x86_64, aarch64 or wasm64 (default: the host's ISA).
    #[arg(long, value_parser = parse_target)]
    target: Option<Target>,
    /// How to run a native target: kvm, emu (CPU emulation) or process (an ordinary Linux
    /// process of the program's ISA, under qemu-user for a foreign one). Default: kvm when
    /// /dev/kvm opens and the target is the host's, else emu.
    #[arg(long, value_parser = parse_backend)]
    backend: Option<BackendChoice>,
    /// Make a host folder visible to the guest: HOST[:GUEST] (GUEST defaults to /).
    #[arg(long = "dir", value_name = "HOST[:GUEST]")]
    dirs: Vec<String>,
    /// Set a guest environment variable (the guest environment is otherwise empty).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// The guest's working directory at start: an absolute guest path naming a folder.
    #[arg(long, value_name = "GUEST_DIR", default_value = "/")]
    cwd: String,
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

impl ExecArgs {
    /// `xisa exec IMAGE ARGS...` as a `#!` line makes it: everything after the image is the
    /// guest's, even `-v` or `--help` (clap would take those as xisa's own flags).
    pub fn from_shebang(command_line: &[std::ffi::OsString]) -> Option<ExecArgs> {
        let [_, exec, image, args @ ..] = command_line else {
            return None;
        };
        if exec != "exec" || image.to_string_lossy().starts_with('-') {
            return None;
        }
        Some(ExecArgs {
            image: PathBuf::from(image),
            args: args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
        })
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
    let config = GuestSetup {
        args: guest_args,
        env: args.env,
        mounts,
        mem_top: args.mem.unwrap_or(DEFAULT_MEM_TOP),
        cwd: args.cwd,
    };
    let executor = Executor::choose(args.target, args.backend)?;
    launch(&args.image, executor, &config, &args.capture, verbose)
}

pub fn exec(args: ExecArgs, verbose: u8) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let mut guest_args = vec![args.image.display().to_string()];
    guest_args.extend(args.args);
    let env = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let config = GuestSetup {
        args: guest_args,
        env,
        mounts: vec![(cwd, "/".into())],
        mem_top: DEFAULT_MEM_TOP,
        cwd: "/".into(),
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
    config: &GuestSetup,
    capture: &CaptureArgs,
    verbose: u8,
) -> anyhow::Result<ExitCode> {
    let target = executor.target;
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
    let context = || format!("cannot run {}", path.display());
    let map = setup::memory_map(&image, config.mem_top).with_context(context)?;
    if verbose > 0 {
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
    let guest = setup::fresh_guest(&image, config, map, policy).with_context(context)?;
    let machine = executor.machine(&image, map, guest).with_context(context)?;
    let summary = Session::start(&image, machine, config)
        .and_then(Session::run)
        .with_context(context)?;
    let status = finish(summary, capture, verbose);
    if verbose > 0 {
        eprintln!("xisa: guest exited with status {status}");
    }
    Ok(ExitCode::from(status as u8))
}

/// The exit status of a finished run, after reporting its fault and captures.
pub fn finish(summary: RunSummary, capture: &CaptureArgs, verbose: u8) -> i32 {
    if let Outcome::Faulted(fault) = &summary.outcome {
        eprintln!("error: {fault}");
        if !fault.backtrace.is_empty() {
            eprintln!("  guest backtrace (innermost first):");
            let shown = if verbose > 0 {
                fault.backtrace.len()
            } else {
                fault.backtrace.len().min(8)
            };
            for frame in &fault.backtrace[..shown] {
                eprintln!("    {frame}");
            }
        }
    }
    let status = summary.outcome.status();
    report_run(capture, &summary, status, verbose);
    status
}
