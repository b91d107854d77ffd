//! The capture options `xisa run` and `xisa restore` share, and what they print.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use xisa_format::checkpoint::PageCompression;
use xisa_runtime::{
    AfterCapture, ChangedPagesBy, MigrationPolicy, RestoredMemory, RunSummary, Trigger,
};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct CaptureArgs {
    /// Capture at the N-th migration point passed (1 is the first).
    #[arg(long, value_name = "N", requires = "checkpoint_to", value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_at: Option<u64>,
    /// Where to write checkpoints. With this option, SIGUSR1 (or `xisa checkpoint --pid`)
    /// also captures at the next migration point, and SIGUSR2 (`xisa checkpoint --pid
    /// --stop`) captures there and ends the run.
    #[arg(long, value_name = "FILE")]
    pub checkpoint_to: Option<PathBuf>,
    /// What the run does after a capture: exit (status 0) or continue (default: exit, or
    /// continue with --checkpoint-every).
    #[arg(long, value_name = "exit|continue", value_parser = parse_then)]
    pub then: Option<AfterCapture>,
    /// Also capture every DURATION while the program runs (e.g. 500ms, 30s, 10m, 1h), each
    /// checkpoint replacing the last: a long job can be resumed from its latest one.
    #[arg(long, value_name = "DURATION", requires = "checkpoint_to", value_parser = parse_duration)]
    pub checkpoint_every: Option<Duration>,
    /// Store only the pages that differ from the checkpoint FILE (an incremental
    /// checkpoint; restoring it needs FILE, found again beside it by its digest).
    #[arg(long, value_name = "FILE", requires = "checkpoint_to")]
    pub parent: Option<PathBuf>,
    /// Like --parent, but a capture made while FILE does not exist is complete (nodes
    /// stage a pre-copy this way).
    #[arg(
        long,
        value_name = "FILE",
        requires = "checkpoint_to",
        conflicts_with = "parent",
        hide = true
    )]
    pub parent_when_present: Option<PathBuf>,
    /// A capture that ends the run while FILE exists hands the guest over to a post-copy
    /// move: a checkpoint without pages, then the pages on the local socket FILE names.
    #[arg(long, value_name = "FILE", requires = "checkpoint_to", hide = true)]
    pub hand_over_when_present: Option<PathBuf>,
    /// How a capture against a parent finds the pages changed since: dirty-log (the pages
    /// the program and the monitor wrote since this run captured the parent, on KVM; else
    /// compare), compare (every page with the parent's), or check (both, failing if the log
    /// missed a change).
    #[arg(long, value_name = "dirty-log|compare|check", value_parser = parse_changed_pages)]
    pub changed_pages: Option<ChangedPagesBy>,
    /// How captures store pages: zstd (smaller files) or none (raw pages: a faster capture
    /// where the program is held and the disk or link is fast).
    #[arg(long, value_name = "zstd|none", value_parser = parse_compression)]
    pub compress: Option<PageCompression>,
    /// Write the run's figures (migration points passed, run and resume times, every
    /// capture with its timings and size) to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
    /// Keep FILE updated with the run's progress, `MILLISECONDS POINTS` (time since start-up
    /// and migration points passed), four times a second (needs --checkpoint-to).
    #[arg(long, value_name = "FILE", requires = "checkpoint_to", hide = true)]
    pub progress: Option<PathBuf>,
}

fn parse_compression(text: &str) -> Result<PageCompression, String> {
    match text {
        "zstd" => Ok(PageCompression::Zstd),
        "none" => Ok(PageCompression::None),
        other => Err(format!("`{other}` is not zstd or none")),
    }
}

fn parse_changed_pages(text: &str) -> Result<ChangedPagesBy, String> {
    match text {
        "dirty-log" => Ok(ChangedPagesBy::DirtyLog),
        "compare" => Ok(ChangedPagesBy::Compare),
        "check" => Ok(ChangedPagesBy::Check),
        other => Err(format!("`{other}` is not dirty-log, compare or check")),
    }
}

fn parse_then(text: &str) -> Result<AfterCapture, String> {
    match text {
        "exit" => Ok(AfterCapture::Exit),
        "continue" => Ok(AfterCapture::Continue),
        other => Err(format!("`{other}` is not exit or continue")),
    }
}

/// Durations like `250ms`, `30s`, `10m`, `2h` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "ms" => 1e-3,
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "`{text}` is not a duration (examples: 500ms, 30s, 10m, 1h)"
            ));
        }
    };
    let seconds = number
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n > 0.0)
        .map(|n| n * scale)
        .ok_or_else(|| {
            format!("`{text}` is not a positive duration (examples: 500ms, 30s, 10m)")
        })?;
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
}

impl CaptureArgs {
    pub fn wants_capture(&self) -> bool {
        self.checkpoint_to.is_some()
    }

    /// What the run does after a capture.
    pub fn then(&self) -> AfterCapture {
        self.then.unwrap_or(if self.checkpoint_every.is_some() {
            AfterCapture::Continue
        } else {
            AfterCapture::Exit
        })
    }

    /// The policy for this run; with `--checkpoint-to`, SIGUSR1 requests a capture, and with
    /// `--checkpoint-every` so does a timer.
    pub fn policy(&self) -> anyhow::Result<MigrationPolicy> {
        if self.checkpoint_every.is_some() && self.then() == AfterCapture::Exit {
            return Err(crate::report::with_hint(
                anyhow::anyhow!(
                    "--checkpoint-every with --then exit would stop at the first capture"
                ),
                "drop --then exit (periodic captures continue the run)",
            ));
        }
        if let Some(parent) = &self.parent {
            if !parent.is_file() {
                return Err(crate::report::with_hint(
                    anyhow::anyhow!("the parent checkpoint {} does not exist", parent.display()),
                    "give --parent a checkpoint this program wrote earlier (with --then continue)",
                ));
            }
            let same = |a: &std::path::Path, b: &std::path::Path| {
                std::path::absolute(a).ok() == std::path::absolute(b).ok()
            };
            if self
                .checkpoint_to
                .as_deref()
                .is_some_and(|to| same(to, parent))
            {
                return Err(crate::report::with_hint(
                    anyhow::anyhow!(
                        "--parent and --checkpoint-to name the same file {}: the capture would replace its own parent",
                        parent.display()
                    ),
                    "write the incremental checkpoint to another file",
                ));
            }
        }
        let trigger = match &self.checkpoint_to {
            Some(_) => Some(listen_for_requests()?),
            None => None,
        };
        if let (Some(path), Some(trigger)) = (&self.progress, &trigger) {
            let (path, trigger) = (path.clone(), Arc::clone(trigger));
            let started = std::time::Instant::now();
            std::thread::spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_millis(250));
                    if let Some(points) = trigger.points_passed() {
                        let line = format!("{} {points}\n", started.elapsed().as_millis());
                        let _ = xisa_format::output::write_whole(&path, line.as_bytes(), false);
                    }
                }
            });
        }
        if let (Some(every), Some(trigger)) = (self.checkpoint_every, &trigger) {
            let requests = Arc::clone(trigger);
            std::thread::spawn(move || {
                loop {
                    std::thread::sleep(every);
                    requests.request();
                }
            });
        }
        Ok(MigrationPolicy {
            checkpoint_at: self.checkpoint_at,
            checkpoint_to: self.checkpoint_to.clone(),
            then: self.then(),
            parent: self.parent.clone().or(self.parent_when_present.clone()),
            compression: self.compress.unwrap_or_default(),
            changed_pages: self.changed_pages.unwrap_or_default(),
            hand_over: self.hand_over_when_present.clone(),
            trigger,
        })
    }
}

/// Turns every SIGUSR1 into a capture request, and every SIGUSR2 into a capture request that
/// ends the run.
fn listen_for_requests() -> anyhow::Result<Arc<Trigger>> {
    use signal_hook::consts::{SIGUSR1, SIGUSR2};
    let trigger = Trigger::new();
    let mut signals = signal_hook::iterator::Signals::new([SIGUSR1, SIGUSR2])
        .map_err(|e| anyhow::anyhow!("cannot listen for SIGUSR1 and SIGUSR2: {e}"))?;
    let requests = Arc::clone(&trigger);
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if signal == SIGUSR2 {
                requests.request_last();
            } else {
                requests.request();
            }
        }
    });
    Ok(trigger)
}

/// Prints what a run captured, warns when `--checkpoint-at` was never reached and writes
/// `--stats`.
pub fn report_run(args: &CaptureArgs, facts: &RunSummary, status: i32, verbose: u8) {
    // Periodic captures are detail (shown with -v); a capture that ended the run is its
    // result.
    let ended_by_capture = matches!(facts.outcome, xisa_runtime::Outcome::Checkpointed);
    let shown = if verbose > 0 || args.checkpoint_every.is_none() {
        facts.captures.len()
    } else {
        usize::from(ended_by_capture)
    };
    for capture in &facts.captures[facts.captures.len() - shown.min(facts.captures.len())..] {
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
        match &facts.restored_memory {
            Some(RestoredMemory::Lazy {
                mapped,
                stats: lazy,
            }) => eprintln!(
                "xisa: lazy restore: {mapped} pages mapped from the checkpoint, {} filled on first touch, {} in the background{}",
                lazy.on_demand,
                lazy.prefetched,
                match lazy.complete_after {
                    Some(after) => format!(", complete after {:.1} ms", after.as_secs_f64() * 1e3),
                    None => ", not complete when the run ended".into(),
                }
            ),
            Some(RestoredMemory::Eager {
                instead_of_lazy: Some(reason),
            }) => eprintln!("xisa: restored eagerly: a lazy restore was not possible ({reason})"),
            _ => {}
        }
    }
    if let Some(path) = &args.stats {
        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        let value = serde_json::json!({
            "status": status,
            "points": facts.points,
            "run_us": micros(facts.run_time),
            "resume_us": facts.resume_time.map(micros),
            "restore_memory": facts.restored_memory.as_ref().map(|m| match m {
                RestoredMemory::Eager { .. } => serde_json::json!({ "mode": "eager" }),
                RestoredMemory::Lazy { mapped, stats: lazy } => serde_json::json!({
                    "mode": "lazy",
                    "pages_mapped": mapped,
                    "pages_on_demand": lazy.on_demand,
                    "pages_prefetched": lazy.prefetched,
                    "complete_us": lazy.complete_after.map(micros),
                }),
            }),
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
                "background": c.background,
                "changed_pages": c.changed_pages,
            })).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        if let Err(error) = std::fs::write(path, text + "\n") {
            eprintln!("warning: cannot write {}: {error}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 weeks").is_err());
        assert!(parse_duration("-3s").is_err());
    }
}
