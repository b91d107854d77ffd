//! The controller: a control loop that watches the nodes, collects ended jobs and carries out
//! the policy's decisions; beside it, a loop that keeps a recent snapshot of every running job;
//! and a server that takes jobs from submitters and answers status and result requests.
//!
//! Nothing is lost: the job table is on disk after every change; a job whose node stops
//! answering is restarted elsewhere from its latest snapshot (or from the start when it has
//! none); a restarted controller reads the table back, checks every running job against its
//! node, and adopts the guests its table missed (each carries its job's label).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use xisa_format::error_chain;
use xisa_node::certs::{CertError, Identity};
use xisa_node::client::{self, ClientConfig};
use xisa_node::server::{ListenError, Reply, listen, serve_forever};
use xisa_node::wire::{
    ClusterStatus, Frame, GuestInfo, JobInfo, MigrateMode, NodeInfo, NodeStatus, Placement,
    Request, Response,
};

use crate::jobs::{Job, JobState, Stay, Store, Table, guest_label, job_of_label, write_whole};
use crate::policy::{self, Action, JobPlace, JobView, NodeView, Policy, Role, View};

/// Rounds a node may miss before its jobs are restarted elsewhere.
const DEAD_AFTER: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error(transparent)]
    Certificates(#[from] CertError),
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error("cannot use the state folder: {0}")]
    State(String),
    #[error("there is no policy `{0}` (there are hexo and xisa)")]
    Policy(String),
    #[error("a cluster needs at least one server node (--server ADDR)")]
    NoServer,
}

/// How a controller is set up.
pub struct ControllerConfig {
    pub listen: String,
    pub cluster: PathBuf,
    pub member: String,
    pub state: PathBuf,
    /// Node addresses, servers then boards; a restarted controller gets the same lists.
    pub servers: Vec<String>,
    pub boards: Vec<String>,
    pub policy: String,
    /// How often running jobs are snapshotted for recovery.
    pub checkpoint_every: Duration,
    /// How often the control loop runs.
    pub tick: Duration,
}

struct NodeSlot {
    address: String,
    role: Role,
    info: Option<NodeInfo>,
    /// Rounds in a row it did not answer.
    failures: u32,
    guests: Vec<GuestInfo>,
}

impl NodeSlot {
    fn alive(&self) -> bool {
        self.info.is_some() && self.failures < DEAD_AFTER
    }
    fn name(&self) -> String {
        self.info
            .as_ref()
            .map_or_else(|| self.address.clone(), |i| i.member.clone())
    }
}

struct Controller {
    store: Store,
    table: Mutex<Table>,
    nodes: Mutex<Vec<NodeSlot>>,
    client: Arc<ClientConfig>,
    policy: String,
    checkpoint_every: Duration,
    /// Held while a job's snapshot is written or read (lock order: before `table`): a
    /// snapshot fetched while its job was parked or lost is not kept over the newer one.
    snapshots: Mutex<()>,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Runs a controller until the process ends; `ready` gets the bound address.
pub fn serve(
    config: ControllerConfig,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ControllerError> {
    if config.servers.is_empty() {
        return Err(ControllerError::NoServer);
    }
    let mut policy =
        policy::by_name(&config.policy).ok_or(ControllerError::Policy(config.policy.clone()))?;
    let identity = Identity::load(&config.cluster, &config.member)?;
    let tls = identity.server_config()?;
    let client = identity.client_config()?;
    let store = Store::new(&config.state)
        .map_err(|e| ControllerError::State(format!("{}: {e}", config.state.display())))?;
    let table = match store.load().map_err(ControllerError::State)? {
        Some(table) => {
            let live = table.jobs.values().filter(|j| j.is_live()).count();
            eprintln!(
                "xisa cluster: recovered {live} unfinished jobs from {}",
                config.state.display()
            );
            table
        }
        None => Table {
            epoch_unix_ms: unix_ms(),
            next_job: 1,
            ..Table::default()
        },
    };
    let slot = |address: &String, role| NodeSlot {
        address: address.clone(),
        role,
        info: None,
        failures: 0,
        guests: Vec::new(),
    };
    let nodes = config
        .servers
        .iter()
        .map(|a| slot(a, Role::Server))
        .chain(config.boards.iter().map(|a| slot(a, Role::Board)))
        .collect();
    let (listener, bound) = listen(&config.listen)?;
    let controller = Arc::new(Controller {
        store,
        table: Mutex::new(table),
        nodes: Mutex::new(nodes),
        client,
        policy: config.policy.clone(),
        checkpoint_every: config.checkpoint_every,
        snapshots: Mutex::new(()),
    });
    {
        let controller = Arc::clone(&controller);
        let tick = config.tick;
        std::thread::spawn(move || {
            loop {
                controller.round(policy.as_mut());
                std::thread::sleep(tick);
            }
        });
    }
    // Snapshots of jobs on boards cross slow links (seconds for tens of MB): fetched beside
    // the control loop, so that no decision waits for them.
    {
        let controller = Arc::clone(&controller);
        let tick = config.tick;
        std::thread::spawn(move || {
            loop {
                controller.fetch_snapshots();
                std::thread::sleep(tick);
            }
        });
    }
    ready(bound);
    serve_forever(listener, tls, "cluster", move |request| {
        controller.handle(request).map(Reply::Frame)
    });
    Ok(())
}

impl Controller {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn nodes(&self) -> MutexGuard<'_, Vec<NodeSlot>> {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn snapshot_store(&self) -> MutexGuard<'_, ()> {
        self.snapshots.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now_ms(&self) -> u64 {
        unix_ms().saturating_sub(self.table().epoch_unix_ms)
    }

    fn save(&self) {
        let table = self.table().clone();
        if let Err(error) = self.store.save(&table) {
            eprintln!("xisa cluster: {error}");
        }
    }

    fn call(
        &self,
        address: &str,
        request: Request,
        blobs: Vec<Vec<u8>>,
    ) -> Result<Frame<Response>, String> {
        client::call(address, &self.client, &Frame::with_blobs(request, blobs))
            .map_err(|e| error_chain(&e))
    }

    // ---- requests -------------------------------------------------------------------------

    fn handle(&self, request: Frame<Request>) -> Result<Frame<Response>, String> {
        match request.message {
            Request::Submit { name, args } => self.submit(name, args, request.blobs),
            Request::Status => Ok(Frame::new(Response::Cluster {
                status: self.status(),
            })),
            Request::Result { job } => self.result(job),
            _ => Err(
                "this is a cluster controller: it takes submit, status and result requests".into(),
            ),
        }
    }

    fn submit(
        &self,
        name: String,
        args: Vec<String>,
        blobs: Vec<Vec<u8>>,
    ) -> Result<Frame<Response>, String> {
        let (image, files) = match blobs.as_slice() {
            [image] => (image, None),
            [image, files] => (image, Some(files)),
            _ => return Err("a submit request carries the image and, optionally, a tar archive of the job's folder".into()),
        };
        if name.is_empty() || name.contains(['/', '\0']) {
            return Err(format!("`{name}` is not a job name (no slashes)"));
        }
        let now = self.now_ms();
        let mut table = self.table();
        let id = table.next_job.max(1);
        table.next_job = id + 1;
        let dir = self.store.job_dir(id);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        write_whole(&self.store.image(id), image)?;
        if let Some(files) = files {
            write_whole(&self.store.files(id), files)?;
        }
        table.jobs.insert(
            id,
            Job {
                id,
                name,
                args,
                state: JobState::Pending,
                submitted_ms: now,
                finished_ms: None,
                stays: Vec::new(),
                migrations: 0,
                bytes_moved: 0,
                restarts: 0,
                snapshot_ms: None,
                has_files: files.is_some(),
                rss_kb: 0,
            },
        );
        let copy = table.clone();
        drop(table);
        self.store.save(&copy)?;
        Ok(Frame::new(Response::Submitted { job: id }))
    }

    fn result(&self, id: u64) -> Result<Frame<Response>, String> {
        loop {
            let state = {
                let table = self.table();
                table
                    .jobs
                    .get(&id)
                    .ok_or(format!("no job {id}"))?
                    .state
                    .clone()
            };
            match state {
                JobState::Finished { status } => {
                    let read = |name: &str| {
                        std::fs::read(self.store.output(id).join(name)).unwrap_or_default()
                    };
                    return Ok(Frame::with_blobs(
                        Response::Finished { guest: id, status },
                        vec![read("stdout"), read("stderr")],
                    ));
                }
                JobState::Failed { reason } => return Err(format!("job {id} failed: {reason}")),
                JobState::Pending | JobState::Running { .. } => {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    fn status(&self) -> ClusterStatus {
        let now_ms = self.now_ms();
        let nodes = self.nodes();
        let table = self.table();
        let node_status = nodes
            .iter()
            .enumerate()
            .map(|(index, slot)| NodeStatus {
                address: slot.address.clone(),
                info: slot.info.clone(),
                alive: slot.alive(),
                running: table.running_on(index),
            })
            .collect();
        let jobs = table
            .jobs
            .values()
            .map(|job| {
                let (state, status, reason) = match &job.state {
                    JobState::Pending => ("pending", None, None),
                    JobState::Running { .. } => ("running", None, None),
                    JobState::Finished { status } => ("finished", Some(*status), None),
                    JobState::Failed { reason } => ("failed", None, Some(reason.clone())),
                };
                JobInfo {
                    job: job.id,
                    name: job.name.clone(),
                    args: job.args.clone(),
                    state: state.into(),
                    submitted_ms: job.submitted_ms,
                    finished_ms: job.finished_ms,
                    status,
                    placements: job
                        .stays
                        .iter()
                        .map(|stay| {
                            let slot = nodes.get(stay.node);
                            Placement {
                                node: slot.map_or_else(|| format!("#{}", stay.node), |s| s.name()),
                                target: slot
                                    .and_then(|s| s.info.as_ref())
                                    .map_or_else(String::new, |i| i.target.clone()),
                                from_ms: stay.from_ms,
                                to_ms: stay.to_ms,
                                points: stay.points,
                                run_us: stay.run_us,
                            }
                        })
                        .collect(),
                    migrations: job.migrations,
                    bytes_moved: job.bytes_moved,
                    restarts: job.restarts,
                    reason,
                }
            })
            .collect();
        ClusterStatus {
            policy: self.policy.clone(),
            epoch_unix_ms: table.epoch_unix_ms,
            now_ms,
            nodes: node_status,
            jobs,
        }
    }

    // ---- the control loop -----------------------------------------------------------------

    fn round(&self, policy: &mut dyn Policy) {
        self.poll_nodes();
        self.adopt();
        self.reconcile();
        let actions = {
            let view_parts = self.view();
            let table = self.table();
            let view = View {
                now_ms: view_parts.0,
                nodes: view_parts.1,
                jobs: view_parts.2,
                knowledge: &table.knowledge,
                move_cost_s: if table.moves > 0 {
                    table.move_seconds
                } else {
                    1.0
                },
            };
            policy.decide(&view)
        };
        for action in actions {
            self.carry_out(action);
        }
        self.save();
    }

    /// Asks every node for its guests (and, once, what it is).
    fn poll_nodes(&self) {
        let addresses: Vec<(String, bool)> = self
            .nodes()
            .iter()
            .map(|n| (n.address.clone(), n.info.is_none()))
            .collect();
        for (index, (address, needs_info)) in addresses.into_iter().enumerate() {
            let info = if needs_info {
                match self.call(&address, Request::Info, Vec::new()) {
                    Ok(Frame {
                        message: Response::Node { info },
                        ..
                    }) => Some(info),
                    _ => None,
                }
            } else {
                None
            };
            let guests = match self.call(&address, Request::List, Vec::new()) {
                Ok(Frame {
                    message: Response::Guests { guests },
                    ..
                }) => Some(guests),
                _ => None,
            };
            let mut nodes = self.nodes();
            let slot = &mut nodes[index];
            if info.is_some() {
                slot.info = info;
            }
            match guests {
                Some(guests) => {
                    if slot.failures >= DEAD_AFTER {
                        eprintln!("xisa cluster: node {address} answers again");
                    }
                    slot.failures = 0;
                    slot.guests = guests;
                }
                None => {
                    slot.failures += 1;
                    if slot.failures == DEAD_AFTER {
                        eprintln!(
                            "xisa cluster: node {address} stopped answering; its jobs restart elsewhere"
                        );
                    }
                }
            }
        }
    }

    /// Squares the table with the guests the nodes run. A guest labelled with one of this
    /// table's jobs where the table does not place it was started or moved by this controller
    /// just before it stopped, the change never written down: a waiting job (or one whose
    /// recorded guest has moved away) is adopted where it runs, and a guest that duplicates a
    /// job that ended or runs elsewhere is killed, so that no job runs twice.
    fn adopt(&self) {
        let epoch = self.table().epoch_unix_ms;
        // The nodes' guests as listed this round, and whether each node answered.
        let listed: Vec<(String, Role, Vec<GuestInfo>, bool)> = self
            .nodes()
            .iter()
            .map(|slot| {
                let answered = slot.info.is_some() && slot.failures == 0;
                (
                    slot.address.clone(),
                    slot.role,
                    slot.guests.clone(),
                    answered,
                )
            })
            .collect();
        let state_of = |node: usize, guest: u64| -> Option<Option<&str>> {
            let (_, _, guests, answered) = listed.get(node)?;
            answered.then(|| {
                guests
                    .iter()
                    .find(|g| g.guest == guest)
                    .map(|g| g.state.as_str())
            })
        };
        for (node, (address, role, guests, answered)) in listed.iter().enumerate() {
            if !answered {
                continue;
            }
            for info in guests {
                if !matches!(info.state.as_str(), "running" | "exited") {
                    continue;
                }
                let Some(id) = info.job.as_deref().and_then(|l| job_of_label(l, epoch)) else {
                    continue;
                };
                let now = self.now_ms();
                let mut table = self.table();
                let Some(job) = table.jobs.get_mut(&id) else {
                    continue;
                };
                let adopt = match job.state {
                    JobState::Running { node: n, guest } if (n, guest) == (node, info.guest) => {
                        continue;
                    }
                    JobState::Pending => true,
                    // Its recorded guest moved away or is gone from a node that answers.
                    JobState::Running { node: n, guest } => {
                        matches!(state_of(n, guest), Some(None | Some("moved")))
                    }
                    JobState::Finished { .. } | JobState::Failed { .. } => false,
                };
                if adopt {
                    let moved = matches!(job.state, JobState::Running { .. });
                    job.end_stay(now);
                    if moved {
                        job.migrations += 1;
                    }
                    job.state = JobState::Running {
                        node,
                        guest: info.guest,
                    };
                    job.rss_kb = 0;
                    job.stays.push(Stay {
                        node,
                        role: *role,
                        from_ms: now,
                        to_ms: None,
                        points: None,
                        run_us: None,
                        lost: false,
                        fresh: !info.restored,
                        samples: Vec::new(),
                    });
                    eprintln!(
                        "xisa cluster: job {id} ({}) found {} on {address} as guest {}, \
                         unrecorded; adopted",
                        job.name,
                        if moved { "moved" } else { "started" },
                        info.guest
                    );
                } else {
                    drop(table);
                    eprintln!(
                        "xisa cluster: guest {} on {address} duplicates job {id}; killed",
                        info.guest
                    );
                    let _ = self.call(address, Request::Kill { guest: info.guest }, Vec::new());
                }
            }
        }
    }

    /// Checks every running job against what its node says.
    fn reconcile(&self) {
        let running: Vec<(u64, usize, u64)> = self
            .table()
            .jobs
            .values()
            .filter_map(|j| match j.state {
                JobState::Running { node, guest } => Some((j.id, node, guest)),
                _ => None,
            })
            .collect();
        for (id, node, guest) in running {
            let seen = {
                let nodes = self.nodes();
                let Some(slot) = nodes.get(node) else {
                    drop(nodes);
                    self.lose(id, "its node is not in this controller's node list");
                    continue;
                };
                if slot.failures >= DEAD_AFTER {
                    None
                } else if slot.failures > 0 {
                    continue;
                } else {
                    Some((
                        slot.address.clone(),
                        slot.role,
                        slot.guests.iter().find(|g| g.guest == guest).cloned(),
                    ))
                }
            };
            match seen {
                None => self.lose(id, "its node stopped answering"),
                Some((_, _, None)) => self.lose(id, "its node no longer knows its guest"),
                Some((address, role, Some(info))) => match info.state.as_str() {
                    "exited" => self.collect(id, &address, &info),
                    "failed" => {
                        let reason = info.reason.unwrap_or_else(|| "the guest failed".into());
                        let now = self.now_ms();
                        let mut table = self.table();
                        if let Some(job) = table.jobs.get_mut(&id) {
                            job.end_stay(now);
                            job.state = JobState::Failed { reason };
                            job.finished_ms = Some(now);
                        }
                    }
                    "running" => self.observe(id, role, &info),
                    // Moved, but not by this controller (a move whose answer was lost).
                    "moved" => self.lose(id, "its guest moved away unannounced"),
                    _ => {}
                },
            }
        }
    }

    /// Notes a running job's memory and progress, and what its progress says about its
    /// program on this kind of node.
    fn observe(&self, id: u64, role: Role, info: &GuestInfo) {
        let mut table = self.table();
        let Some(job) = table.jobs.get_mut(&id) else {
            return;
        };
        job.rss_kb = info.rss_kb;
        let name = job.name.clone();
        let mut fresh_samples = None;
        if let (Some(progress), Some(stay)) = (info.progress, job.current_stay()) {
            stay.sample(progress);
            if stay.fresh {
                fresh_samples = Some(stay.samples.clone());
            }
        }
        table.knowledge.record_rss(&name, info.rss_kb);
        if let Some(samples) = fresh_samples {
            match role {
                Role::Server => table.knowledge.offer_server_curve(&name, &samples),
                Role::Board => {
                    table.knowledge.observe_board_run(&name, &samples);
                }
            }
        }
    }

    /// A job's node was lost: restart it from its snapshot, or from the start.
    fn lose(&self, id: u64, why: &str) {
        let now = self.now_ms();
        let mut table = self.table();
        let Some(job) = table.jobs.get_mut(&id) else {
            return;
        };
        job.end_stay(now);
        let snapshot = job.snapshot_ms;
        for stay in &mut job.stays {
            // Stays begun after the snapshot (all of them, without one) are gone.
            stay.lost |= snapshot.is_none_or(|at| stay.from_ms >= at);
        }
        job.restarts += 1;
        job.state = JobState::Pending;
        job.rss_kb = 0;
        eprintln!(
            "xisa cluster: job {id} ({}) lost ({why}); it restarts {}",
            job.name,
            if snapshot.is_some() {
                "from its latest snapshot"
            } else {
                "from the start"
            }
        );
    }

    /// A job's guest exited: take its output and learn from its run.
    fn collect(&self, id: u64, address: &str, info: &GuestInfo) {
        let answer = self.call(address, Request::Wait { guest: info.guest }, Vec::new());
        let Ok(Frame {
            message: Response::Finished { status, .. },
            blobs,
        }) = answer
        else {
            return;
        };
        let output = self.store.output(id);
        let written = std::fs::create_dir_all(&output)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                for (name, bytes) in ["stdout", "stderr"].iter().zip(&blobs) {
                    write_whole(&output.join(name), bytes)?;
                }
                Ok(())
            });
        if let Err(error) = written {
            eprintln!("xisa cluster: cannot keep job {id}'s output: {error}");
            return;
        }
        let now = self.now_ms();
        {
            let mut table = self.table();
            let Some(job) = table.jobs.get_mut(&id) else {
                return;
            };
            if let Some(stay) = job.current_stay() {
                stay.points = info.points;
                stay.run_us = info.run_us;
            }
            job.end_stay(now);
            job.state = JobState::Finished { status };
            job.finished_ms = Some(now);
            let name = job.name.clone();
            let whole = job.restarts == 0;
            let (server, board) = job.seconds_by_role(now);
            if whole {
                table.knowledge.record_job(&name, server, board);
            }
        }
        let _ = self.call(address, Request::Kill { guest: info.guest }, Vec::new());
    }

    /// Keeps a recent snapshot of every running job, for restarts after a node is lost.
    fn fetch_snapshots(&self) {
        let now = self.now_ms();
        let every = self.checkpoint_every.as_millis() as u64;
        // A guest writes its first checkpoint one period after it starts: ask a little later.
        let first = every + every / 2;
        let due: Vec<(u64, usize, u64)> = self
            .table()
            .jobs
            .values()
            .filter_map(|j| match j.state {
                JobState::Running { node, guest }
                    if j.snapshot_ms
                        .is_none_or(|at| now.saturating_sub(at) >= every)
                        && j.stays
                            .last()
                            .is_some_and(|s| now.saturating_sub(s.from_ms) >= first) =>
                {
                    Some((j.id, node, guest))
                }
                _ => None,
            })
            .collect();
        for (id, node, guest) in due {
            let Some(address) = self
                .nodes()
                .get(node)
                .filter(|n| n.alive())
                .map(|n| n.address.clone())
            else {
                continue;
            };
            let Ok(Frame {
                message: Response::Snapshot { .. },
                blobs,
            }) = self.call(&address, Request::Fetch { guest }, Vec::new())
            else {
                continue;
            };
            let [checkpoint, stdout, stderr, files] = blobs.as_slice() else {
                continue;
            };
            let _store = self.snapshot_store();
            // Parked, moved or lost while the snapshot crossed the link: it is out of date.
            let still_there = self
                .table()
                .jobs
                .get(&id)
                .is_some_and(|j| j.state == JobState::Running { node, guest });
            if !still_there {
                continue;
            }
            match self.keep_snapshot(id, checkpoint, stdout, stderr, files) {
                Ok(()) => {
                    if let Some(job) = self.table().jobs.get_mut(&id) {
                        job.snapshot_ms = Some(now);
                    }
                }
                Err(error) => eprintln!("xisa cluster: cannot keep job {id}'s snapshot: {error}"),
            }
        }
    }

    /// Stores a job's snapshot: written beside, then swapped in whole, so a crash leaves the old
    /// snapshot or the new.
    fn keep_snapshot(
        &self,
        id: u64,
        checkpoint: &[u8],
        stdout: &[u8],
        stderr: &[u8],
        files: &[u8],
    ) -> Result<(), String> {
        let target = self.store.snapshot(id);
        let fresh = target.with_extension("new");
        let _ = std::fs::remove_dir_all(&fresh);
        std::fs::create_dir_all(&fresh).map_err(|e| e.to_string())?;
        for (name, bytes) in [
            ("guest.ckpt", checkpoint),
            ("stdout", stdout),
            ("stderr", stderr),
            ("files.tar", files),
        ] {
            std::fs::write(fresh.join(name), bytes).map_err(|e| e.to_string())?;
        }
        let _ = std::fs::remove_dir_all(&target);
        std::fs::rename(&fresh, &target).map_err(|e| e.to_string())
    }

    /// The migration points passed and run time of a stay that just ended on `address` (the
    /// node lists the guest it moved away with its final figures).
    fn ended_stay_figures(&self, address: &str, guest: u64) -> Option<(Option<u64>, Option<u64>)> {
        match self.call(address, Request::List, Vec::new()) {
            Ok(Frame {
                message: Response::Guests { guests },
                ..
            }) => guests
                .into_iter()
                .find(|g| g.guest == guest)
                .map(|g| (g.points, g.run_us)),
            _ => None,
        }
    }

    /// Captures a running job and keeps it waiting here, its snapshot ready to resume.
    fn park(&self, id: u64) -> Result<(), String> {
        let (node, guest) = match self.table().jobs.get(&id).map(|j| j.state.clone()) {
            Some(JobState::Running { node, guest }) => (node, guest),
            _ => return Err(format!("job {id} is not running")),
        };
        let (address, _, _) = self.node_target(node)?;
        let answer = self.call(&address, Request::Stop { guest }, Vec::new())?;
        let (Response::Snapshot { .. }, [checkpoint, stdout, stderr, files]) =
            (&answer.message, answer.blobs.as_slice())
        else {
            return Err(format!("node {address} answered {:?}", answer.message));
        };
        let figures = self.ended_stay_figures(&address, guest);
        let _store = self.snapshot_store();
        self.keep_snapshot(id, checkpoint, stdout, stderr, files)?;
        let now = self.now_ms();
        let mut table = self.table();
        if let Some(job) = table.jobs.get_mut(&id) {
            if let Some(stay) = job.current_stay()
                && let Some((points, run_us)) = figures
            {
                stay.points = points;
                stay.run_us = run_us;
            }
            job.end_stay(now);
            job.state = JobState::Pending;
            job.snapshot_ms = Some(now);
            job.migrations += 1;
            job.bytes_moved += checkpoint.len() as u64;
            job.rss_kb = 0;
            eprintln!(
                "xisa cluster: job {id} ({}) parked from {address}",
                job.name
            );
        }
        Ok(())
    }

    /// The cluster as the policy sees it.
    fn view(&self) -> (u64, Vec<NodeView>, Vec<JobView>) {
        let now = self.now_ms();
        let nodes = self.nodes();
        let table = self.table();
        let node_views = nodes
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.alive())
            .map(|(index, slot)| {
                let cores = slot.info.as_ref().map_or(0, |i| i.cores);
                NodeView {
                    index,
                    role: slot.role,
                    cores,
                    free: cores.saturating_sub(table.running_on(index)),
                }
            })
            .collect();
        let knowledge = &table.knowledge;
        let jobs = table
            .jobs
            .values()
            .filter(|j| j.is_live())
            .map(|job| {
                let (server, board) = job.seconds_by_role(now);
                let done_s = server + board / knowledge.expected_slowdown(&job.name);
                let place = match (&job.state, job.stays.last()) {
                    (JobState::Running { node, .. }, Some(stay)) => JobPlace::Running {
                        node: *node,
                        since_ms: stay.from_ms,
                    },
                    _ => JobPlace::Pending,
                };
                let left_board = place == JobPlace::Pending
                    && job.snapshot_ms.is_some()
                    && job
                        .stays
                        .last()
                        .is_some_and(|s| s.role == Role::Board && !s.lost);
                JobView {
                    job: job.id,
                    program: job.name.clone(),
                    place,
                    submitted_ms: job.submitted_ms,
                    done_s,
                    rss_kb: job.rss_kb,
                    left_board,
                }
            })
            .collect();
        (now, node_views, jobs)
    }

    fn carry_out(&self, action: Action) {
        let result = match action {
            Action::Start { job, node } => self.start(job, node),
            Action::Move { job, to } => self.move_job(job, to),
            Action::Park { job } => self.park(job),
        };
        if let Err(error) = result {
            eprintln!("xisa cluster: {action:?} failed: {error}");
        }
    }

    fn node_target(&self, node: usize) -> Result<(String, Role, NodeInfo), String> {
        let nodes = self.nodes();
        let slot = nodes
            .get(node)
            .filter(|s| s.alive())
            .ok_or(format!("node #{node} is not available"))?;
        let info = slot
            .info
            .clone()
            .ok_or(format!("node {} has not said what it is", slot.address))?;
        Ok((slot.address.clone(), slot.role, info))
    }

    fn start(&self, id: u64, node: usize) -> Result<(), String> {
        let (address, role, info) = self.node_target(node)?;
        let job = self
            .table()
            .jobs
            .get(&id)
            .cloned()
            .ok_or(format!("no job {id}"))?;
        if job.state != JobState::Pending {
            return Err(format!("job {id} is not waiting"));
        }
        let read =
            |path: PathBuf| std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()));
        let label = Some(guest_label(self.table().epoch_unix_ms, id));
        let every = Some(self.checkpoint_every.as_millis() as u64);
        let fresh = job.snapshot_ms.is_none();
        let answer = if !fresh {
            let snapshot = self.store.snapshot(id);
            let blobs = {
                let _store = self.snapshot_store();
                vec![
                    read(self.store.image(id))?,
                    read(snapshot.join("guest.ckpt"))?,
                    read(snapshot.join("stdout"))?,
                    read(snapshot.join("stderr"))?,
                    read(snapshot.join("files.tar"))?,
                ]
            };
            let request = Request::Receive {
                target: info.target.clone(),
                backend: info.backend.clone(),
                origin: "cluster controller".into(),
                job: label,
                checkpoint_every_ms: every,
                stage: None,
                pages_from: None,
            };
            self.call(&address, request, blobs)?
        } else {
            let mut blobs = vec![read(self.store.image(id))?];
            if job.has_files {
                blobs.push(read(self.store.files(id))?);
            }
            let request = Request::Run {
                target: info.target.clone(),
                backend: info.backend.clone(),
                args: job.args.clone(),
                job: label,
                checkpoint_every_ms: every,
            };
            self.call(&address, request, blobs)?
        };
        let guest = match answer.message {
            Response::Started { guest } | Response::Received { guest, .. } => guest,
            other => return Err(format!("node {address} answered {other:?}")),
        };
        let now = self.now_ms();
        let mut table = self.table();
        if let Some(job) = table.jobs.get_mut(&id) {
            job.state = JobState::Running { node, guest };
            job.stays.push(Stay {
                node,
                role,
                from_ms: now,
                to_ms: None,
                points: None,
                run_us: None,
                lost: false,
                fresh,
                samples: Vec::new(),
            });
        }
        Ok(())
    }

    fn move_job(&self, id: u64, to: usize) -> Result<(), String> {
        let (destination, to_role, info) = self.node_target(to)?;
        let (from, guest) = match self.table().jobs.get(&id).map(|j| j.state.clone()) {
            Some(JobState::Running { node, guest }) => (node, guest),
            _ => return Err(format!("job {id} is not running")),
        };
        let (source, _, _) = self.node_target(from)?;
        let request = Request::Migrate {
            guest,
            to: destination.clone(),
            target: info.target.clone(),
            backend: info.backend.clone(),
            mode: MigrateMode::StopCopy,
            safe: false,
        };
        let answer = self.call(&source, request, Vec::new())?;
        let Response::Migrated { timeline } = answer.message else {
            return Err(format!("node {source} answered {:?}", answer.message));
        };
        let Some(new_guest) = timeline.remote_guest else {
            return Err(format!(
                "the job stays on {source}: {}",
                timeline.kept_on_source.unwrap_or_default()
            ));
        };
        let figures = self.ended_stay_figures(&source, guest);
        let now = self.now_ms();
        let mut table = self.table();
        let moves = f64::from(table.moves);
        table.move_seconds =
            (table.move_seconds * moves + timeline.downtime_ms / 1e3) / (moves + 1.0);
        table.moves += 1;
        let Some(job) = table.jobs.get_mut(&id) else {
            return Ok(());
        };
        let name = job.name.clone();
        if let Some(stay) = job.current_stay()
            && let Some((points, run_us)) = figures
        {
            stay.points = points;
            stay.run_us = run_us;
        }
        job.end_stay(now);
        job.state = JobState::Running {
            node: to,
            guest: new_guest,
        };
        job.migrations += 1;
        job.bytes_moved += timeline.checkpoint_bytes + timeline.image_bytes;
        job.rss_kb = 0;
        job.stays.push(Stay {
            node: to,
            role: to_role,
            from_ms: now,
            to_ms: None,
            points: None,
            run_us: None,
            lost: false,
            fresh: false,
            samples: Vec::new(),
        });
        eprintln!(
            "xisa cluster: job {id} ({name}) moved {source} -> {destination} in {:.0} ms",
            timeline.downtime_ms
        );
        Ok(())
    }
}
