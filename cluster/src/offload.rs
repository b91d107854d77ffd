//! The `xisa` policy: offload when it shortens the work, by measured slowdowns, and bring jobs
//! back when server cores free up. The model is written up in `cluster/POLICY.md`.
//!
//! For each job it estimates the remaining work `R` (server seconds: a whole run of its
//! program, measured in migration points, less what the job has done) and its slowdown `s` on
//! a board (the ratio of its program's point rates, measured on both kinds of node). A
//! waiting job goes to a board only if it would finish there sooner than by waiting for the
//! servers: `s·R < (W + R)·(1 − margin)`, with `W` the servers' backlog per core; the first
//! waiting job of a program never measured on a board goes there too, to measure it. Servers take
//! the waiting jobs that boards are worst at first. When a server core is free and nothing
//! waits, the board job that gains most by coming back (`s·R − R − move cost`) comes back,
//! but only after a minimum stay on its board, and only by a margin: no thrashing.

use crate::policy::{Action, JobPlace, JobView, Plan, Policy, Role, View};

pub struct Offload {
    /// A job stays on a board at least this long before it may come back.
    pub min_residency_ms: u64,
    /// Relative gain a decision must promise (hysteresis).
    pub margin: f64,
    /// Slowdown assumed for a program never measured, when no program is.
    pub default_slowdown: f64,
    /// Server seconds assumed for a run of a program never measured, when no program is.
    pub default_run_seconds: f64,
}

impl Default for Offload {
    fn default() -> Self {
        Offload {
            min_residency_ms: 3000,
            margin: 0.2,
            default_slowdown: 8.0,
            default_run_seconds: 20.0,
        }
    }
}

/// A job with its estimates.
struct Estimate<'a> {
    job: &'a JobView,
    /// Remaining server seconds.
    remaining: f64,
    slowdown: f64,
}

impl Offload {
    fn estimate<'a>(&self, view: &View, job: &'a JobView) -> Estimate<'a> {
        let knowledge = view.knowledge;
        let slowdown = knowledge
            .slowdown(&job.program)
            .or_else(|| knowledge.median_of(|p| knowledge.slowdown(p)))
            .unwrap_or(self.default_slowdown)
            .max(0.1);
        let run = knowledge
            .run_seconds(&job.program)
            .or_else(|| knowledge.median_of(|p| knowledge.run_seconds(p)))
            .unwrap_or(self.default_run_seconds);
        // A job past its estimate still has some work left.
        let remaining = (run - job.done_s).max(0.05 * run);
        Estimate {
            job,
            remaining,
            slowdown,
        }
    }
}

impl Policy for Offload {
    fn name(&self) -> &'static str {
        "xisa"
    }

    fn decide(&mut self, view: &View) -> Vec<Action> {
        let mut plan = Plan::new(view);
        let server_cores = f64::from(view.cores(Role::Server).max(1));
        let mut pending: Vec<Estimate> = view.pending().map(|j| self.estimate(view, j)).collect();
        // The servers take first the jobs that lose most on a board.
        pending.sort_by(|a, b| {
            b.slowdown
                .total_cmp(&a.slowdown)
                .then(a.job.submitted_ms.cmp(&b.job.submitted_ms))
        });
        let mut waiting = Vec::new();
        for estimate in pending {
            match plan.free_node(Role::Server) {
                Some(node) => plan.start(estimate.job.job, node),
                None => waiting.push(estimate),
            }
        }
        if !waiting.is_empty() {
            // The servers' backlog per core: what runs there and everything waiting.
            let mut backlog = view
                .running_on(Role::Server)
                .map(|j| self.estimate(view, j).remaining)
                .chain(waiting.iter().map(|e| e.remaining))
                .sum::<f64>()
                / server_cores;
            // The jobs boards are best at go first.
            waiting.sort_by(|a, b| a.slowdown.total_cmp(&b.slowdown));
            let mut calibrating: Vec<&str> = view
                .running_on(Role::Board)
                .map(|j| j.program.as_str())
                .collect();
            for estimate in waiting {
                let Some(board) = plan.free_node(Role::Board) else {
                    break;
                };
                let on_board = estimate.slowdown * estimate.remaining;
                let by_waiting = backlog + estimate.remaining;
                // A program never run on a board is tried there while it would wait anyway:
                // the stay measures its slowdown, and the job comes back when a server core
                // frees up if the board turns out slow for it.
                let program = estimate.job.program.as_str();
                let unmeasured = view.knowledge.rate(program, Role::Board).is_none()
                    && !calibrating.contains(&program);
                if unmeasured || on_board < by_waiting * (1.0 - self.margin) {
                    plan.start(estimate.job.job, board);
                    backlog -= estimate.remaining / server_cores;
                    calibrating.push(program);
                }
            }
            return plan.actions;
        }
        // Nothing waits: free server cores take back the board jobs that gain most.
        let mut returning: Vec<(f64, &JobView)> = view
            .running_on(Role::Board)
            .filter(|j| view.residency_ms(j) >= self.min_residency_ms)
            .filter_map(|j| {
                let e = self.estimate(view, j);
                let on_board = e.slowdown * e.remaining;
                let back = e.remaining + view.move_cost_s;
                (back < on_board * (1.0 - self.margin)).then_some((on_board - back, j))
            })
            .collect();
        returning.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (_, job) in returning {
            let Some(server) = plan.free_node(Role::Server) else {
                break;
            };
            if matches!(job.place, JobPlace::Running { .. }) {
                plan.move_job(job, server);
            }
        }
        plan.actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::Knowledge;
    use crate::policy::test_views::{job, nodes, occupy};

    /// `is` loses 3x on a board, `cg` 20x; a run of either is 10 server seconds.
    fn measured() -> Knowledge {
        let mut k = Knowledge::default();
        for (program, slowdown) in [("is", 3.0), ("cg", 20.0)] {
            k.record_stay(program, Role::Server, 1000, 1_000_000);
            k.record_stay(program, Role::Board, 1000, (slowdown * 1e6) as u64);
            k.record_run(program, 10_000);
        }
        k
    }

    #[test]
    fn offloads_the_job_boards_are_good_at_and_keeps_the_other_waiting() {
        let knowledge = measured();
        let running = |id, p| {
            job(
                id,
                p,
                JobPlace::Running {
                    node: 0,
                    since_ms: 0,
                },
            )
        };
        let mut jobs = vec![running(1, "cg"), running(2, "cg")];
        jobs.extend([
            job(3, "cg", JobPlace::Pending),
            job(4, "is", JobPlace::Pending),
        ]);
        let mut cluster = nodes(2, 2);
        occupy(&mut cluster, &jobs);
        let view = View {
            now_ms: 0,
            nodes: cluster,
            jobs,
            knowledge: &knowledge,
            move_cost_s: 1.0,
        };
        // Backlog 40 s over 2 cores = 20 s: `is` on a board takes 30 s < (20 + 10)·0.8? No:
        // 30 > 24, so nothing yet; with more waiting the board pays off.
        assert!(Offload::default().decide(&view).is_empty());
        let mut more = view.jobs.clone();
        for id in 5..9 {
            more.push(job(id, "cg", JobPlace::Pending));
        }
        let view = View { jobs: more, ..view };
        let actions = Offload::default().decide(&view);
        assert_eq!(actions, vec![Action::Start { job: 4, node: 1 }]);
    }

    #[test]
    fn brings_a_slow_board_job_back_after_its_minimum_stay() {
        let knowledge = measured();
        let on_board = |since_ms| vec![job(1, "cg", JobPlace::Running { node: 1, since_ms })];
        let mut cluster = nodes(1, 1);
        let jobs = on_board(9_000);
        occupy(&mut cluster, &jobs);
        let early = View {
            now_ms: 10_000,
            nodes: cluster.clone(),
            jobs,
            knowledge: &knowledge,
            move_cost_s: 1.0,
        };
        assert!(
            Offload::default().decide(&early).is_empty(),
            "one second on the board is below the minimum stay"
        );
        let late = View {
            jobs: on_board(0),
            ..early
        };
        assert_eq!(
            Offload::default().decide(&late),
            vec![Action::Move { job: 1, to: 0 }]
        );
    }

    #[test]
    fn a_job_about_to_end_stays_on_its_board() {
        let knowledge = measured();
        let mut almost = job(
            1,
            "is",
            JobPlace::Running {
                node: 1,
                since_ms: 0,
            },
        );
        almost.done_s = 9.9;
        let jobs = vec![almost];
        let mut cluster = nodes(1, 1);
        occupy(&mut cluster, &jobs);
        let view = View {
            now_ms: 60_000,
            nodes: cluster,
            jobs,
            knowledge: &knowledge,
            move_cost_s: 2.0,
        };
        assert!(Offload::default().decide(&view).is_empty());
    }

    #[test]
    fn a_program_never_run_on_a_board_is_tried_there_once() {
        let knowledge = Knowledge::default();
        let running = job(
            1,
            "new",
            JobPlace::Running {
                node: 0,
                since_ms: 0,
            },
        );
        let jobs = vec![
            running,
            job(2, "new", JobPlace::Pending),
            job(3, "new", JobPlace::Pending),
        ];
        let mut cluster = nodes(1, 2);
        occupy(&mut cluster, &jobs);
        let view = View {
            now_ms: 0,
            nodes: cluster,
            jobs,
            knowledge: &knowledge,
            move_cost_s: 1.0,
        };
        // One job measures the program; the other waits (8x assumed is too slow to pay).
        assert_eq!(
            Offload::default().decide(&view),
            vec![Action::Start { job: 2, node: 1 }]
        );
    }
}
