//! What the controller has learned about each program: how long a run takes on a server, how
//! much slower boards run it, and how much memory it holds.
//!
//! Two measures of a program's slowdown on boards, the first preferred:
//!
//! - whole jobs: a run entirely on servers gives the program's server time `T`; a job that ran
//!   `a` seconds on servers and `b` on boards did `T − a` of server work in `b`, so its slowdown
//!   on boards is `b / (T − a)`;
//! - progress while a job runs: migration points are the same on every ISA (they are placed
//!   in the shared IR), so when a fresh run on a board has passed `p` points in `t` seconds and
//!   a fresh run on a server passed `p` points after `τ`, the slowdown so far is `t / τ`. Same
//!   points, same work, however unevenly a program spreads its points over its run (rates of
//!   points per second would not be: cg passes most of its points while building its matrix).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Figures for one program.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Program {
    /// Largest resident memory seen, KiB.
    pub rss_kb: u64,
    /// Wall seconds of whole runs that stayed on servers.
    #[serde(default)]
    pub server_runs: Vec<f64>,
    /// Jobs that ran partly or wholly on boards: (server seconds, board seconds).
    #[serde(default)]
    pub mixed_runs: Vec<(f64, f64)>,
    /// Progress of the longest fresh run seen on a server: (milliseconds, points passed).
    #[serde(default)]
    pub server_curve: Vec<(u64, u64)>,
    /// The latest slowdown read off a fresh board run against `server_curve`.
    #[serde(default)]
    pub live_slowdown: Option<f64>,
}

/// Milliseconds a curve took to pass `points`, interpolated between its samples.
fn time_to_reach(curve: &[(u64, u64)], points: u64) -> Option<f64> {
    let after = curve.iter().position(|&(_, p)| p >= points)?;
    let (t1, p1) = curve[after];
    let (t0, p0) = if after == 0 { (0, 0) } else { curve[after - 1] };
    if p1 == p0 {
        return Some(t1 as f64);
    }
    let fraction = (points - p0) as f64 / (p1 - p0) as f64;
    Some(t0 as f64 + fraction * (t1 - t0) as f64)
}

/// Board slowdown assumed while no program is measured (within the 2-40x range of published
/// ARM boards).
pub const ASSUMED_SLOWDOWN: f64 = 8.0;
/// Server seconds of a run assumed while no program is measured.
pub const ASSUMED_RUN_SECONDS: f64 = 20.0;

/// The median of some figures.
fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

impl Program {
    /// Server seconds of a whole run, from runs that stayed on servers.
    fn server_run_seconds(&self) -> Option<f64> {
        median(self.server_runs.clone())
    }

    /// Board slowdown from whole jobs, once a server-only run is known.
    fn job_slowdown(&self) -> Option<f64> {
        let whole = self.server_run_seconds()?;
        median(
            self.mixed_runs
                .iter()
                .filter(|(server, board)| *board > 0.0 && whole - server >= 0.2 * whole)
                .map(|(server, board)| board / (whole - server))
                .collect(),
        )
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Knowledge {
    pub programs: BTreeMap<String, Program>,
}

impl Knowledge {
    fn program(&mut self, name: &str) -> &mut Program {
        self.programs.entry(name.to_string()).or_default()
    }

    /// Progress of a fresh run of `program` on a server; the longest one is kept.
    pub fn offer_server_curve(&mut self, program: &str, samples: &[(u64, u64)]) {
        let entry = self.program(program);
        let reach = |curve: &[(u64, u64)]| curve.last().map_or(0, |s| s.1);
        if reach(samples) > reach(&entry.server_curve) {
            entry.server_curve = samples.to_vec();
        }
    }

    /// Progress of a fresh run of `program` on a board: where a server run passed as many
    /// points, the ratio of the times is the slowdown so far. Same points, same work, whatever
    /// their spread over the run.
    pub fn observe_board_run(&mut self, program: &str, samples: &[(u64, u64)]) -> Option<f64> {
        let entry = self.programs.get_mut(program)?;
        let &(board_ms, points) = samples.last()?;
        if points == 0 || board_ms < 1000 {
            return None;
        }
        let server_ms = time_to_reach(&entry.server_curve, points)?;
        let slowdown = board_ms as f64 / server_ms.max(1.0);
        entry.live_slowdown = Some(slowdown);
        Some(slowdown)
    }

    /// A job of `program` ended after `server` seconds on servers and `board` on boards.
    pub fn record_job(&mut self, program: &str, server: f64, board: f64) {
        let entry = self.program(program);
        if board > 0.0 {
            entry.mixed_runs.push((server, board));
        } else {
            entry.server_runs.push(server);
        }
    }

    pub fn record_rss(&mut self, program: &str, rss_kb: u64) {
        let entry = self.program(program);
        entry.rss_kb = entry.rss_kb.max(rss_kb);
    }

    /// How many times slower `program` runs on a board than on a server, once measured on both.
    pub fn slowdown(&self, program: &str) -> Option<f64> {
        let entry = self.programs.get(program)?;
        entry.job_slowdown().or(entry.live_slowdown)
    }

    /// Server seconds a whole run of `program` takes, once measured.
    pub fn run_seconds(&self, program: &str) -> Option<f64> {
        let entry = self.programs.get(program)?;
        entry.server_run_seconds()
    }

    /// Whether a fresh server run of `program` has shown its progress (what a board run of it
    /// is timed against).
    pub fn has_server_curve(&self, program: &str) -> bool {
        self.programs
            .get(program)
            .is_some_and(|p| !p.server_curve.is_empty())
    }

    /// Largest resident memory seen, KiB (0 when never seen).
    pub fn rss_kb(&self, program: &str) -> u64 {
        self.programs.get(program).map_or(0, |p| p.rss_kb)
    }

    /// The slowdown to plan with: measured, else the median of the programs measured, else
    /// [`ASSUMED_SLOWDOWN`].
    pub fn expected_slowdown(&self, program: &str) -> f64 {
        self.slowdown(program)
            .or_else(|| self.median_of(|p| self.slowdown(p)))
            .unwrap_or(ASSUMED_SLOWDOWN)
            .max(0.1)
    }

    /// Server seconds of a run to plan with: measured, else the median of the programs
    /// measured, else [`ASSUMED_RUN_SECONDS`].
    pub fn expected_run_seconds(&self, program: &str) -> f64 {
        self.run_seconds(program)
            .or_else(|| self.median_of(|p| self.run_seconds(p)))
            .unwrap_or(ASSUMED_RUN_SECONDS)
    }

    /// The median over programs of a figure, for programs not yet measured.
    pub fn median_of(&self, figure: impl Fn(&str) -> Option<f64>) -> Option<f64> {
        median(self.programs.keys().filter_map(|p| figure(p)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_jobs_measure_the_slowdown() {
        let mut k = Knowledge::default();
        assert_eq!(k.slowdown("cg"), None);
        k.record_job("cg", 4.0, 0.0);
        assert_eq!(k.run_seconds("cg"), Some(4.0));
        assert_eq!(k.slowdown("cg"), None, "no board run yet");
        // 1 s on a server, then the remaining 3 s of work took 30 s on a board.
        k.record_job("cg", 1.0, 30.0);
        assert_eq!(k.slowdown("cg"), Some(10.0));
        // A job that did nearly all its work on a server says little: ignored.
        k.record_job("cg", 3.9, 50.0);
        assert_eq!(k.slowdown("cg"), Some(10.0));
    }

    #[test]
    fn a_board_run_is_timed_against_a_server_run_at_equal_points() {
        let mut k = Knowledge::default();
        // Most points come early on the server: 900 in the first second, 100 in the next 9.
        k.offer_server_curve("cg", &[(1000, 900), (10_000, 1000)]);
        assert_eq!(k.observe_board_run("cg", &[(500, 100)]), None, "too early");
        // The board passed 450 points in 5 s; the server did in 0.5 s: 10x.
        assert_eq!(k.observe_board_run("cg", &[(5000, 450)]), Some(10.0));
        assert_eq!(k.slowdown("cg"), Some(10.0));
        // Beyond what the server curve reached: no new reading.
        assert_eq!(k.observe_board_run("cg", &[(90_000, 2000)]), None);
        // A shorter curve does not replace a longer one.
        k.offer_server_curve("cg", &[(1000, 10)]);
        assert_eq!(k.programs["cg"].server_curve.len(), 2);
        // Whole jobs, once there are some, take over.
        k.record_job("cg", 4.0, 0.0);
        k.record_job("cg", 0.0, 8.0);
        assert_eq!(k.slowdown("cg"), Some(2.0));
    }

    #[test]
    fn medians_cover_measured_programs_only() {
        let mut k = Knowledge::default();
        for (name, board_seconds) in [("a", 2.0), ("b", 8.0), ("c", 4.0)] {
            k.record_job(name, 1.0, 0.0);
            k.record_job(name, 0.0, board_seconds);
        }
        k.record_rss("d", 10);
        assert_eq!(k.median_of(|p| k.slowdown(p)), Some(4.0));
    }
}
