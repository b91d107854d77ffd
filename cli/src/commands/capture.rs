//! The capture options `xisa run` and `xisa restore` share, and what they print.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
    /// Write the run's figures (migration points passed, run and resume times, every
    /// capture with its timings and size) to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
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

/// What a finished run reports.
pub struct RunFacts<'a> {
    pub captures: &'a [CaptureReport],
    pub points: u64,
    pub resume_time: Option<Duration>,
    pub run_time: Duration,
    pub status: i32,
}

/// Prints what a run captured, warns when `--checkpoint-at` was never reached and writes
/// `--stats`.
pub fn report_run(args: &CaptureArgs, facts: &RunFacts<'_>, verbose: u8) {
    for capture in facts.captures {
        eprintln!("xisa: {capture}");
    }
    if let Some(n) = args.checkpoint_at
        && !facts.captures.iter().any(|c| c.point == n)
    {
        eprintln!(
            "warning: the program passed only {} migration points, so --checkpoint-at {n} never captured",
            facts.points
        );
    }
    if verbose > 0 {
        eprintln!("xisa: {} migration points passed", facts.points);
        if let Some(resume) = facts.resume_time {
            eprintln!("xisa: resumed in {:.3} ms", resume.as_secs_f64() * 1e3);
        }
    }
    if let Some(path) = &args.stats {
        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        let value = serde_json::json!({
            "status": facts.status,
            "points": facts.points,
            "run_us": micros(facts.run_time),
            "resume_us": facts.resume_time.map(micros),
            "captures": facts.captures.iter().map(|c| serde_json::json!({
                "path": c.path.display().to_string(),
                "point": c.point,
                "frames": c.frames,
                "pages": c.pages,
                "bytes": c.file_size,
                "state_us": micros(c.state_time),
                "memory_us": micros(c.memory_time),
                "write_us": micros(c.write_time),
                "response_us": c.response_latency.map(micros),
            })).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        if let Err(error) = std::fs::write(path, text + "\n") {
            eprintln!("warning: cannot write {}: {error}", path.display());
        }
    }
}
