//! The `hexo` policy: the published HEXO rules (HPDC'19), reproduced. At most one job per
//! physical core; fill the servers first, in arrival order; when they are full, offload to
//! the boards the jobs with the lowest expected slowdown, which HEXO estimates from memory
//! intensity (memory-bound jobs lose least on a slower core). Here memory intensity is the
//! job's resident memory (measured while it runs, or remembered for its program). An offloaded
//! job stays on its board until it ends.

use crate::policy::{Action, JobPlace, JobView, Plan, Policy, Role, View};

pub struct Hexo;

fn memory_intensity(view: &View, job: &JobView) -> u64 {
    job.rss_kb.max(view.knowledge.rss_kb(&job.program))
}

impl Policy for Hexo {
    fn name(&self) -> &'static str {
        "hexo"
    }

    fn decide(&mut self, view: &View) -> Vec<Action> {
        let mut plan = Plan::new(view);
        let mut pending: Vec<&JobView> = view.pending().collect();
        pending.sort_by_key(|j| (j.submitted_ms, j.job));
        let mut waiting = Vec::new();
        for job in pending {
            match plan.free_node(Role::Server) {
                Some(node) => plan.start(job.job, node),
                None => waiting.push(job),
            }
        }
        if waiting.is_empty() {
            return plan.actions;
        }
        // Overloaded: the board cores go to the most memory-intensive jobs, waiting or on a
        // server; a server job that leaves makes room for the next waiting one.
        let mut candidates: Vec<&JobView> = waiting
            .iter()
            .copied()
            .chain(view.running_on(Role::Server))
            .collect();
        candidates.sort_by_key(|j| (std::cmp::Reverse(memory_intensity(view, j)), j.job));
        let started = |plan: &Plan, id: u64| {
            plan.actions
                .iter()
                .any(|a| matches!(a, Action::Start { job, .. } if *job == id))
        };
        for job in candidates {
            let Some(board) = plan.free_node(Role::Board) else {
                break;
            };
            match job.place {
                JobPlace::Pending if !started(&plan, job.job) => plan.start(job.job, board),
                JobPlace::Pending => {}
                JobPlace::Running { node, .. } => {
                    // Only worth it when a waiting job takes the freed core.
                    let Some(next) = waiting.iter().find(|w| !started(&plan, w.job)) else {
                        continue;
                    };
                    plan.move_job(job, board);
                    plan.start(next.job, node);
                }
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

    #[test]
    fn fills_the_server_then_offloads_the_most_memory_intensive() {
        let mut knowledge = Knowledge::default();
        knowledge.record_rss("is", 70_000);
        knowledge.record_rss("ep", 100);
        let jobs = vec![
            job(1, "ep", JobPlace::Pending),
            job(2, "ep", JobPlace::Pending),
            job(3, "is", JobPlace::Pending),
        ];
        let view = view(0, nodes(1, 1), jobs, &knowledge);
        let actions = Hexo.decide(&view);
        assert_eq!(
            actions,
            vec![
                Action::Start { job: 1, node: 0 },
                Action::Start { job: 3, node: 1 }
            ]
        );
    }

    #[test]
    fn never_brings_a_job_back() {
        let knowledge = Knowledge::default();
        let jobs = vec![running(1, "cg", 1, 0)];
        let view = view(60_000, nodes(1, 1), jobs, &knowledge);
        assert!(Hexo.decide(&view).is_empty());
    }

    #[test]
    fn moves_a_memory_bound_server_job_out_for_a_waiting_one_which_is_not_also_offloaded() {
        let knowledge = Knowledge::default();
        let mut running = running(1, "is", 0, 0);
        running.rss_kb = 70_000;
        // With a second board free, the waiting job that takes the server core must not
        // start there as well.
        for boards in [1, 2] {
            let jobs = vec![running.clone(), job(2, "ep", JobPlace::Pending)];
            let view = view(1000, nodes(1, boards), jobs, &knowledge);
            assert_eq!(
                Hexo.decide(&view),
                vec![
                    Action::Move { job: 1, to: 1 },
                    Action::Start { job: 2, node: 0 }
                ],
                "{boards} boards"
            );
        }
    }
}
