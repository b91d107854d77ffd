//! The capture options `xisa run` and `xisa restore` share, and what they print.

use std::path::PathBuf;
use std::sync::Arc;

use xisa_native::control::{AfterCapture, CaptureReport, MigrationPolicy, Trigger};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct CaptureArgs {
    /// Capture at the N-th migration point passed (1 is the first).
    #[arg(long, value_name = "N", requires = "checkpoint_to", value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_at: Option<u64>,
    /// Where to write checkpoints. With this option, SIGUSR1 (or `xisa checkpoint --pid`)
    /// also captures at the next migration point.
    #[arg(long, value_name = "FILE")]
    pub checkpoint_to: Option<PathBuf>,
    /// What the run does after a capture: exit (status 0) or continue.
    #[arg(long, value_name = "exit|continue", value_parser = parse_then, default_value = "exit")]
    pub then: AfterCapture,
}

fn parse_then(text: &str) -> Result<AfterCapture, String> {
    match text {
        "exit" => Ok(AfterCapture::Exit),
        "continue" => Ok(AfterCapture::Continue),
        other => Err(format!("`{other}` is not exit or continue")),
    }
}

impl CaptureArgs {
    pub fn wants_capture(&self) -> bool {
        self.checkpoint_to.is_some()
    }

    /// The policy for this run; with `--checkpoint-to`, SIGUSR1 requests a capture.
    pub fn policy(&self) -> anyhow::Result<MigrationPolicy> {
        let trigger = match &self.checkpoint_to {
            Some(_) => Some(listen_for_requests()?),
            None => None,
        };
        Ok(MigrationPolicy {
            checkpoint_at: self.checkpoint_at,
            checkpoint_to: self.checkpoint_to.clone(),
            then: self.then,
            trigger,
        })
    }
}

/// Turns every SIGUSR1 into a capture request.
fn listen_for_requests() -> anyhow::Result<Arc<Trigger>> {
    let trigger = Trigger::new();
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGUSR1])
        .map_err(|e| anyhow::anyhow!("cannot listen for SIGUSR1: {e}"))?;
    let requests = Arc::clone(&trigger);
    std::thread::spawn(move || {
        for _ in signals.forever() {
            requests.request();
        }
    });
    Ok(trigger)
}

/// Prints what a run captured, and warns when `--checkpoint-at` was never reached.
pub fn report_captures(args: &CaptureArgs, captures: &[CaptureReport], points: u64, verbose: u8) {
    for capture in captures {
        eprintln!("xisa: {capture}");
    }
    if let Some(n) = args.checkpoint_at
        && !captures.iter().any(|c| c.point == n)
    {
        eprintln!(
            "warning: the program passed only {points} migration points, so --checkpoint-at {n} never captured"
        );
    }
    if verbose > 0 {
        eprintln!("xisa: {points} migration points passed");
    }
}
