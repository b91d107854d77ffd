//! What a placement policy sees and what it may do.
//!
//! Each control-loop round builds a [`View`] of the cluster (nodes with their free cores, jobs
//! with where they are and how long they have been there) and asks the policy for
//! [`Action`]s. The controller carries them out in order, skipping any that no longer fit.

use crate::knowledge::Knowledge;

/// Which part of the cluster a node belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Where jobs belong: fast, and where they start.
    Server,
    /// Where jobs may be offloaded: slower, cheaper.
    Board,
}

/// A live node.
#[derive(Clone, Debug)]
pub struct NodeView {
    pub index: usize,
    pub role: Role,
    pub cores: u32,
    /// Cores without a job.
    pub free: u32,
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobPlace {
    /// Waiting for a core.
    Pending,
    /// Running on node `node` since `since_ms`.
    Running { node: usize, since_ms: u64 },
}

/// A job that has not ended.
#[derive(Clone, Debug)]
pub struct JobView {
    pub job: u64,
    /// The program (what knowledge is kept by).
    pub program: String,
    pub place: JobPlace,
    pub submitted_ms: u64,
    /// Work already done, in seconds of server time (estimated from the stays so far).
    pub done_s: f64,
    /// Resident memory of its process on its current node, KiB (0 when not known).
    pub rss_kb: u64,
    /// Waiting with a snapshot taken on a board (parked there, or its board was lost): it
    /// waits for a server core and does not go back to a board.
    pub left_board: bool,
}

/// The cluster as a policy sees it.
pub struct View<'a> {
    pub now_ms: u64,
    pub nodes: Vec<NodeView>,
    pub jobs: Vec<JobView>,
    pub knowledge: &'a Knowledge,
    /// Seconds a move costs (checkpoint, transfer, restore), estimated.
    pub move_cost_s: f64,
}

impl View<'_> {
    pub fn node(&self, index: usize) -> Option<&NodeView> {
        self.nodes.iter().find(|n| n.index == index)
    }

    pub fn role_of(&self, job: &JobView) -> Option<Role> {
        match job.place {
            JobPlace::Running { node, .. } => self.node(node).map(|n| n.role),
            JobPlace::Pending => None,
        }
    }

    pub fn cores(&self, role: Role) -> u32 {
        self.nodes
            .iter()
            .filter(|n| n.role == role)
            .map(|n| n.cores)
            .sum()
    }

    pub fn pending(&self) -> impl Iterator<Item = &JobView> {
        self.jobs.iter().filter(|j| j.place == JobPlace::Pending)
    }

    pub fn running_on(&self, role: Role) -> impl Iterator<Item = &JobView> {
        self.jobs
            .iter()
            .filter(move |j| self.role_of(j) == Some(role))
    }

    /// Milliseconds the job has been on its current node.
    pub fn residency_ms(&self, job: &JobView) -> u64 {
        match job.place {
            JobPlace::Running { since_ms, .. } => self.now_ms.saturating_sub(since_ms),
            JobPlace::Pending => 0,
        }
    }
}

/// What a policy asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Start a pending job on a node.
    Start { job: u64, node: usize },
    /// Move a running job to another node.
    Move { job: u64, to: usize },
    /// Capture a running job and keep it waiting (its snapshot here) for a better place.
    Park { job: u64 },
}

/// A placement policy.
pub trait Policy: Send {
    fn name(&self) -> &'static str;
    /// The actions for this round; each must fit the view after the ones before it.
    fn decide(&mut self, view: &View) -> Vec<Action>;
}

/// The policy called `name`.
pub fn by_name(name: &str) -> Option<Box<dyn Policy>> {
    match name {
        "hexo" => Some(Box::new(crate::hexo::Hexo)),
        "xisa" => Some(Box::new(crate::offload::Offload::default())),
        _ => None,
    }
}

/// Tracks free cores while a policy plans several actions in one round.
pub struct Plan {
    free: Vec<(usize, Role, u32)>,
    pub actions: Vec<Action>,
}

impl Plan {
    pub fn new(view: &View) -> Self {
        Plan {
            free: view
                .nodes
                .iter()
                .map(|n| (n.index, n.role, n.free))
                .collect(),
            actions: Vec::new(),
        }
    }

    /// A node of `role` with a free core in this plan.
    pub fn free_node(&self, role: Role) -> Option<usize> {
        self.free
            .iter()
            .filter(|(_, r, free)| *r == role && *free > 0)
            .max_by_key(|(index, _, free)| (*free, std::cmp::Reverse(*index)))
            .map(|(index, _, _)| *index)
    }

    fn adjust(&mut self, node: usize, by: i64) {
        if let Some(entry) = self.free.iter_mut().find(|(index, _, _)| *index == node) {
            entry.2 = (entry.2 as i64 + by).max(0) as u32;
        }
    }

    pub fn start(&mut self, job: u64, node: usize) {
        self.adjust(node, -1);
        self.actions.push(Action::Start { job, node });
    }

    pub fn park(&mut self, job: &JobView) {
        if let JobPlace::Running { node, .. } = job.place {
            self.adjust(node, 1);
        }
        self.actions.push(Action::Park { job: job.job });
    }

    pub fn move_job(&mut self, job: &JobView, to: usize) {
        if let JobPlace::Running { node, .. } = job.place {
            self.adjust(node, 1);
        }
        self.adjust(to, -1);
        self.actions.push(Action::Move { job: job.job, to });
    }
}

#[cfg(test)]
pub(crate) mod test_views {
    use super::*;
    use crate::knowledge::Knowledge;

    /// One server node (index 0, `server_cores`) and `boards` one-core boards (1..).
    pub fn nodes(server_cores: u32, boards: usize) -> Vec<NodeView> {
        let mut nodes = vec![NodeView {
            index: 0,
            role: Role::Server,
            cores: server_cores,
            free: server_cores,
        }];
        for b in 0..boards {
            nodes.push(NodeView {
                index: b + 1,
                role: Role::Board,
                cores: 1,
                free: 1,
            });
        }
        nodes
    }

    pub fn job(job: u64, program: &str, place: JobPlace) -> JobView {
        JobView {
            job,
            program: program.into(),
            place,
            submitted_ms: 0,
            done_s: 0.0,
            rss_kb: 0,
            left_board: false,
        }
    }

    /// A job running on `node` since `since_ms`.
    pub fn running(job_id: u64, program: &str, node: usize, since_ms: u64) -> JobView {
        job(job_id, program, JobPlace::Running { node, since_ms })
    }

    /// A view of `nodes` running `jobs` at `now_ms`, moves costing 1 s.
    pub fn view(
        now_ms: u64,
        mut nodes: Vec<NodeView>,
        jobs: Vec<JobView>,
        knowledge: &Knowledge,
    ) -> View<'_> {
        for job in &jobs {
            if let JobPlace::Running { node, .. } = job.place {
                nodes[node].free = nodes[node].free.saturating_sub(1);
            }
        }
        View {
            now_ms,
            nodes,
            jobs,
            knowledge,
            move_cost_s: 1.0,
        }
    }
}
