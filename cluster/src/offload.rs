//! The `xisa` policy: offload when it shortens the work, by measured slowdowns, and bring jobs
//! back when server cores free up. The model is written up in `cluster/POLICY.md`.
//!
//! For each job it estimates the remaining work `R` (server seconds of a whole run of its
//! program, less what the job has done) and its slowdown `s` on a board (see
//! [`crate::knowledge`]). A free server core goes to the job that gains most from it: a waiting
//! job gains the wait it is spared, a board job the time it would lose there (`s·R − R − move
//! cost`), the latter only after a minimum stay on its board and by a margin: no thrashing.
//! A waiting job goes to a board only if it would finish there sooner than by waiting for the
//! servers: `s·R < (W + R)·(1 − margin)`, with `W` the servers' backlog per core; the first
//! waiting job of a program never measured on a board goes there too, to measure it. A board
//! job that comes back is parked rather than moved when a waiting job can use the server core
//! while its state crosses the board's link; it then waits for a server core.

use crate::policy::{Action, JobPlace, JobView, Plan, Policy, Role, View};

pub struct Offload {
    /// A job stays on a board at least this long before it may come back.
    pub min_residency_ms: u64,
    /// Relative gain a decision must promise (hysteresis).
    pub margin: f64,
}

impl Default for Offload {
    fn default() -> Self {
        Offload {
            min_residency_ms: 3000,
            margin: 0.2,
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
        let slowdown = view.knowledge.expected_slowdown(&job.program);
        let run = view.knowledge.expected_run_seconds(&job.program);
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
        let mut waiting: Vec<Estimate> = view.pending().map(|j| self.estimate(view, j)).collect();
        waiting.sort_by_key(|e| (e.job.submitted_ms, e.job.job));
        // The servers' backlog per core: what runs there and everything waiting.
        let mut backlog = view
            .running_on(Role::Server)
            .map(|j| self.estimate(view, j).remaining)
            .chain(waiting.iter().map(|e| e.remaining))
            .sum::<f64>()
            / server_cores;
        let mut returning: Vec<Estimate> = view
            .running_on(Role::Board)
            .filter(|j| view.residency_ms(j) >= self.min_residency_ms)
            .map(|j| self.estimate(view, j))
            .collect();

        // 1. Each free server core goes to the job that gains most from it. A waiting job
        //    gains the wait it is spared (or its loss on a board, if smaller); a board job the
        //    time it loses there, less the move, and only by the margin.
        let on_boards: Vec<&str> = view
            .running_on(Role::Board)
            .map(|j| j.program.as_str())
            .collect();
        while let Some(server) = plan.free_node(Role::Server) {
            // A program being tried on a board is measured against a server run of it: one
            // that waits gets the core first.
            let gain = |e: &Estimate| {
                let program = e.job.program.as_str();
                if on_boards.contains(&program) && !view.knowledge.has_server_curve(program) {
                    f64::INFINITY
                } else {
                    backlog.min((e.slowdown - 1.0).max(0.0) * e.remaining)
                }
            };
            let best_waiting = waiting
                .iter()
                .enumerate()
                .map(|(i, e)| (gain(e), i))
                .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
            let best_returning = returning
                .iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    let on_board = e.slowdown * e.remaining;
                    let back = e.remaining + view.move_cost_s;
                    (back < on_board * (1.0 - self.margin)).then_some((on_board - back, i))
                })
                .max_by(|a, b| a.0.total_cmp(&b.0));
            match (best_waiting, best_returning) {
                (Some((gain, w)), Some((back_gain, i))) if back_gain > gain => {
                    let estimate = returning.remove(i);
                    // A move leaves the core idle while the job's state crosses the board's
                    // link. Where a waiting job can use the core meanwhile and the board job
                    // loses less waiting for the next core than staying, the waiting job
                    // starts and the board job is parked: it then waits for a server core,
                    // ranked by its gain like any waiting job.
                    let next = &waiting[w];
                    let on_board = estimate.slowdown * estimate.remaining;
                    if next.remaining + estimate.remaining < on_board * (1.0 - self.margin) {
                        let next = waiting.remove(w);
                        backlog -= next.remaining / server_cores;
                        plan.start(next.job.job, server);
                        plan.park(estimate.job);
                    } else {
                        plan.move_job(estimate.job, server);
                    }
                }
                (Some((_, i)), _) => {
                    let estimate = waiting.remove(i);
                    backlog -= estimate.remaining / server_cores;
                    plan.start(estimate.job.job, server);
                }
                (None, Some((_, i))) => {
                    let estimate = returning.remove(i);
                    plan.move_job(estimate.job, server);
                }
                (None, None) => break,
            }
        }

        // 2. Free board cores take the waiting jobs that finish sooner there than by waiting
        //    for the servers, `s·R < (W + R)·(1 − margin)`, those boards are best at first. A
        //    program never run on a board is tried there while it would wait anyway: the stay
        //    measures its slowdown, and the job comes back if the board is slow for it.
        waiting.sort_by(|a, b| a.slowdown.total_cmp(&b.slowdown));
        let mut on_boards = on_boards;
        let mut left = Vec::new();
        let waiting_of =
            |program: &str| waiting.iter().filter(|e| e.job.program == program).count();
        let counts: Vec<usize> = waiting.iter().map(|e| waiting_of(&e.job.program)).collect();
        for (estimate, of_program) in waiting.into_iter().zip(counts) {
            if estimate.job.left_board {
                continue;
            }
            let program = estimate.job.program.as_str();
            // Measuring pays only if another job of the program waits to use the figure.
            let unmeasured = view.knowledge.slowdown(program).is_none()
                && !on_boards.contains(&program)
                && of_program > 1;
            let on_board = estimate.slowdown * estimate.remaining;
            let by_waiting = backlog + estimate.remaining;
            let pays = on_board < by_waiting * (1.0 - self.margin);
            match plan.free_node(Role::Board) {
                Some(board) if unmeasured || pays => {
                    plan.start(estimate.job.job, board);
                    backlog -= estimate.remaining / server_cores;
                    on_boards.push(program);
                }
                _ if pays => left.push(estimate),
                _ => {}
            }
        }

        // 3. A board busy with a job it is bad at (measured) makes room for a waiting job it
        //    suits far better: the board job is parked (captured and kept here) to wait for a
        //    server core, and the waiting job takes the board.
        let mut misplaced: Vec<Estimate> = view
            .running_on(Role::Board)
            .filter(|j| view.residency_ms(j) >= self.min_residency_ms)
            .filter(|j| view.knowledge.slowdown(&j.program).is_some())
            .map(|j| self.estimate(view, j))
            .collect();
        misplaced.sort_by(|a, b| b.slowdown.total_cmp(&a.slowdown));
        for estimate in left {
            if view.knowledge.slowdown(&estimate.job.program).is_none() {
                continue;
            }
            let Some(worst) = misplaced.first() else {
                break;
            };
            let JobPlace::Running { node, .. } = worst.job.place else {
                break;
            };
            if worst.slowdown > 2.0 * estimate.slowdown {
                let worst = misplaced.remove(0);
                plan.park(worst.job);
                plan.start(estimate.job.job, node);
            }
        }
        plan.actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::Knowledge;
    use crate::policy::test_views::{job, nodes, running, view};

    /// `is` loses 3x on a board, `cg` 20x; a run of either is 10 server seconds.
    fn measured() -> Knowledge {
        let mut k = Knowledge::default();
        for (program, slowdown) in [("is", 3.0), ("cg", 20.0)] {
            k.record_job(program, 10.0, 0.0);
            k.record_job(program, 0.0, 10.0 * slowdown);
        }
        k
    }

    #[test]
    fn offloads_the_job_boards_are_good_at_and_keeps_the_other_waiting() {
        let knowledge = measured();
        let mut jobs = vec![running(1, "cg", 0, 0), running(2, "cg", 0, 0)];
        jobs.extend([
            job(3, "cg", JobPlace::Pending),
            job(4, "is", JobPlace::Pending),
        ]);
        let view = view(0, nodes(2, 2), jobs, &knowledge);
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
        let on_board = |since_ms| vec![running(1, "cg", 1, since_ms)];
        let early = view(10_000, nodes(1, 1), on_board(9_000), &knowledge);
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
    fn a_slow_board_job_is_parked_while_a_waiting_job_uses_the_server_core() {
        let knowledge = measured();
        let mut on_board = running(1, "cg", 1, 0);
        on_board.done_s = 5.0;
        // `is` waits: 10 s on the server; cg's 5 s left take 100 s on the board.
        let jobs = vec![on_board, job(2, "is", JobPlace::Pending)];
        let comes_back = view(60_000, nodes(1, 1), jobs, &knowledge);
        assert_eq!(
            Offload::default().decide(&comes_back),
            vec![Action::Start { job: 2, node: 0 }, Action::Park { job: 1 }]
        );
        // Parked, cg waits for the server, not for a board.
        let mut parked = job(1, "cg", JobPlace::Pending);
        parked.left_board = true;
        let running = running(2, "is", 0, 60_000);
        let waits = view(61_000, nodes(1, 1), vec![running, parked], &knowledge);
        assert!(Offload::default().decide(&waits).is_empty());
    }

    #[test]
    fn a_board_job_comes_back_by_a_move_when_the_waiting_job_is_too_long_to_go_first() {
        let mut knowledge = measured();
        knowledge.record_job("long", 17.0, 0.0);
        let mut on_board = running(1, "cg", 1, 0);
        on_board.done_s = 9.0;
        // cg's last second takes 20 s on the board; run after the waiting 17 s job, it would
        // end at 18 s, more than 20 s less the margin: it moves, and the long job waits.
        let jobs = vec![on_board, job(2, "long", JobPlace::Pending)];
        let view = View {
            move_cost_s: 0.5,
            ..view(60_000, nodes(1, 1), jobs, &knowledge)
        };
        let actions = Offload::default().decide(&view);
        assert_eq!(actions, vec![Action::Move { job: 1, to: 0 }]);
    }

    #[test]
    fn a_job_about_to_end_stays_on_its_board() {
        let knowledge = measured();
        let mut almost = running(1, "is", 1, 0);
        almost.done_s = 9.9;
        let view = View {
            move_cost_s: 2.0,
            ..view(60_000, nodes(1, 1), vec![almost], &knowledge)
        };
        assert!(Offload::default().decide(&view).is_empty());
    }

    #[test]
    fn a_program_never_run_on_a_board_is_tried_there_once() {
        let knowledge = Knowledge::default();
        let running = running(1, "new", 0, 0);
        let jobs = vec![
            running,
            job(2, "new", JobPlace::Pending),
            job(3, "new", JobPlace::Pending),
        ];
        let view = view(0, nodes(1, 2), jobs, &knowledge);
        // One job measures the program; the other waits (8x assumed is too slow to pay).
        assert_eq!(
            Offload::default().decide(&view),
            vec![Action::Start { job: 2, node: 1 }]
        );
    }

    #[test]
    fn a_board_busy_with_a_job_it_is_bad_at_makes_room_for_one_it_suits() {
        let knowledge = measured();
        let on_server = running(1, "cg", 0, 0);
        let on_board = running(2, "cg", 1, 0);
        let mut jobs = vec![on_server, on_board];
        for id in 3..8 {
            jobs.push(job(id, "is", JobPlace::Pending));
        }
        let view = view(10_000, nodes(1, 1), jobs, &knowledge);
        assert_eq!(
            Offload::default().decide(&view),
            vec![Action::Park { job: 2 }, Action::Start { job: 3, node: 1 }]
        );
    }
}
