//! What the controller has learned about each program: how fast it passes migration points on
//! servers and on boards, how many it passes in a whole run, and how much memory it holds.
//!
//! Migration points are the same on every ISA (they are placed in the shared IR), so points
//! per second of guest time compare a program's speed on two kinds of node directly: their
//! ratio is the program's slowdown on the board, measured rather than guessed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::policy::Role;

/// Figures for one program.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Program {
    /// Points and guest seconds summed over stays on servers and on boards.
    pub server_points: u64,
    pub server_seconds: f64,
    pub board_points: u64,
    pub board_seconds: f64,
    /// Points of whole runs, summed, and how many runs.
    pub run_points: u64,
    pub runs: u32,
    /// Largest resident memory seen, KiB.
    pub rss_kb: u64,
}

/// Stays shorter than this carry too little signal to measure a rate.
const MIN_STAY_SECONDS: f64 = 0.2;

impl Program {
    fn rate(&self, role: Role) -> Option<f64> {
        let (points, seconds) = match role {
            Role::Server => (self.server_points, self.server_seconds),
            Role::Board => (self.board_points, self.board_seconds),
        };
        (points > 0 && seconds >= MIN_STAY_SECONDS).then(|| points as f64 / seconds)
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

    /// A stay of `program` on a node of `role` ended after passing `points` in `run_us`.
    pub fn record_stay(&mut self, program: &str, role: Role, points: u64, run_us: u64) {
        let seconds = run_us as f64 / 1e6;
        let entry = self.program(program);
        match role {
            Role::Server => {
                entry.server_points += points;
                entry.server_seconds += seconds;
            }
            Role::Board => {
                entry.board_points += points;
                entry.board_seconds += seconds;
            }
        }
    }

    /// A whole run of `program` passed `points`.
    pub fn record_run(&mut self, program: &str, points: u64) {
        let entry = self.program(program);
        entry.run_points += points;
        entry.runs += 1;
    }

    pub fn record_rss(&mut self, program: &str, rss_kb: u64) {
        let entry = self.program(program);
        entry.rss_kb = entry.rss_kb.max(rss_kb);
    }

    /// Points per second of `program` on a node of `role`, once measured.
    pub fn rate(&self, program: &str, role: Role) -> Option<f64> {
        self.programs.get(program)?.rate(role)
    }

    /// How many times slower `program` runs on a board than on a server, once measured on both.
    pub fn slowdown(&self, program: &str) -> Option<f64> {
        Some(self.rate(program, Role::Server)? / self.rate(program, Role::Board)?)
    }

    /// Server seconds a whole run of `program` takes, once a run and a server rate are known.
    pub fn run_seconds(&self, program: &str) -> Option<f64> {
        let entry = self.programs.get(program)?;
        let points = entry.run_points as f64 / f64::from(entry.runs.max(1));
        (entry.runs > 0).then_some(points / self.rate(program, Role::Server)?)
    }

    /// Server seconds of work in `points` of `program`, if its server rate is known.
    pub fn work_seconds(&self, program: &str, points: u64) -> Option<f64> {
        Some(points as f64 / self.rate(program, Role::Server)?)
    }

    /// Largest resident memory seen, KiB (0 when never seen).
    pub fn rss_kb(&self, program: &str) -> u64 {
        self.programs.get(program).map_or(0, |p| p.rss_kb)
    }

    /// The median over programs of a figure, for programs not yet measured.
    pub fn median_of(&self, figure: impl Fn(&str) -> Option<f64>) -> Option<f64> {
        let mut values: Vec<f64> = self.programs.keys().filter_map(|p| figure(p)).collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        Some(values[values.len() / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slowdown_is_the_ratio_of_point_rates() {
        let mut k = Knowledge::default();
        assert_eq!(k.slowdown("cg"), None);
        k.record_stay("cg", Role::Server, 1000, 1_000_000);
        assert_eq!(k.slowdown("cg"), None, "no board stay yet");
        k.record_stay("cg", Role::Board, 500, 2_000_000);
        assert_eq!(k.slowdown("cg"), Some(4.0));
        k.record_run("cg", 3000);
        assert_eq!(k.run_seconds("cg"), Some(3.0));
        assert_eq!(k.work_seconds("cg", 500), Some(0.5));
    }

    #[test]
    fn short_stays_do_not_set_a_rate() {
        let mut k = Knowledge::default();
        k.record_stay("ep", Role::Server, 10, 1000);
        assert_eq!(k.rate("ep", Role::Server), None);
    }

    #[test]
    fn medians_cover_measured_programs_only() {
        let mut k = Knowledge::default();
        for (name, board_seconds) in [("a", 2.0), ("b", 8.0), ("c", 4.0)] {
            k.record_stay(name, Role::Server, 100, 1_000_000);
            k.record_stay(name, Role::Board, 100, (board_seconds * 1e6) as u64);
        }
        k.record_rss("d", 10);
        assert_eq!(k.median_of(|p| k.slowdown(p)), Some(4.0));
    }
}
