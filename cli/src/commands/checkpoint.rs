//! `xisa checkpoint --pid P`: ask a running `xisa run` or `xisa restore` to capture at its
//! program's next migration point (what SIGUSR1 does).

use std::process::ExitCode;

use crate::report::with_hint;

#[derive(clap::Args)]
pub struct Args {
    /// Process id of the `xisa run` (or `xisa restore`) to checkpoint.
    #[arg(long)]
    pid: i32,
    /// End the run after this capture, even one started with `--then continue` or
    /// `--checkpoint-every` (SIGUSR2 instead of SIGUSR1).
    #[arg(long)]
    stop: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", args.pid)).map_err(|e| {
        with_hint(
            anyhow::anyhow!("no process {} ({e})", args.pid),
            "give the pid of a running `xisa run`",
        )
    })?;
    let words: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    let is_xisa = words
        .first()
        .and_then(|w| std::path::Path::new(w).file_name())
        .is_some_and(|name| name.to_string_lossy().starts_with("xisa"));
    let running = words.iter().any(|w| w == "run" || w == "restore");
    if !is_xisa || !running {
        return Err(with_hint(
            anyhow::anyhow!(
                "process {} is not an `xisa run` or `xisa restore`",
                args.pid
            ),
            "give the pid of a running `xisa run`",
        ));
    }
    if !words
        .iter()
        .any(|w| w == "--checkpoint-to" || w.starts_with("--checkpoint-to="))
    {
        return Err(with_hint(
            anyhow::anyhow!(
                "process {} was started without --checkpoint-to, so it has nowhere to write a checkpoint",
                args.pid
            ),
            "start the run with --checkpoint-to FILE (add --then continue to keep it running)",
        ));
    }
    let signal = if args.stop {
        libc::SIGUSR2
    } else {
        libc::SIGUSR1
    };
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(args.pid, signal) } != 0 {
        let error = std::io::Error::last_os_error();
        anyhow::bail!("cannot signal process {}: {error}", args.pid);
    }
    eprintln!(
        "xisa: asked process {} to checkpoint at its next migration point{}",
        args.pid,
        if args.stop { " and stop" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}
