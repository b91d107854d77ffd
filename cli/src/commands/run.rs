//! `xisa run`: run an image on one of its targets. The guest's exit status is ours; a guest
//! that faults exits like a process killed by a signal (128 + N).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use xisa_format::image::Image;
use xisa_format::memory_map::DEFAULT_MEM_TOP;
use xisa_format::target::Target;
use xisa_wasm::{RunConfig, RunOutcome};

use crate::report::with_hint;

#[derive(clap::Args)]
pub struct Args {
    /// The image to run.
    image: PathBuf,
    /// Target to run (default: wasm64, the reference executor).
    #[arg(long, value_parser = parse_target)]
    target: Option<Target>,
    /// Make a host folder visible to the guest: HOST[:GUEST] (GUEST defaults to /).
    #[arg(long = "dir", value_name = "HOST[:GUEST]")]
    dirs: Vec<String>,
    /// Set a guest environment variable (the guest environment is otherwise empty).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Guest memory size, e.g. 512M or 4G.
    #[arg(long, value_parser = parse_size)]
    mem: Option<u64>,
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

fn parse_target(text: &str) -> Result<Target, String> {
    text.parse()
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

fn parse_mount(text: &str) -> anyhow::Result<(PathBuf, String)> {
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
    launch(
        &args.image,
        args.target.unwrap_or(Target::Wasm64),
        &config,
        verbose,
    )
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
    launch(&args.image, Target::Wasm64, &config, verbose)
}

fn launch(
    path: &Path,
    target: Target,
    config: &RunConfig,
    verbose: u8,
) -> anyhow::Result<ExitCode> {
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
    if target != Target::Wasm64 {
        return Err(with_hint(
            anyhow::anyhow!(
                "running {target} programs needs the native monitor, which this xisa does not include yet"
            ),
            "run the reference build with --target wasm64",
        ));
    }
    if verbose > 0 {
        eprintln!(
            "xisa: running {} on {target} (Wasmtime reference executor), memory top {:#x}",
            path.display(),
            config.mem_top
        );
    }
    let outcome =
        xisa_wasm::run(&image, config).with_context(|| format!("cannot run {}", path.display()))?;
    match outcome {
        RunOutcome::Exited(code) => {
            if verbose > 0 {
                eprintln!("xisa: guest exited with status {code}");
            }
            Ok(ExitCode::from(code as u8))
        }
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
            Ok(ExitCode::from(trap.status as u8))
        }
    }
}
