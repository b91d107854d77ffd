//! `xisa node serve`: runs guests as `xisa run` processes, lists them, and moves them to
//! other nodes. Stop-and-copy: capture at the next migration point, send image, checkpoint and
//! output, resume lazily there. Pre-copy: first have the running guest write a complete
//! checkpoint copy-on-write and stage it on the destination, then capture only the pages
//! changed since (an incremental checkpoint) and send that. Post-copy: hold the guest only to
//! send a checkpoint without pages; it runs on the destination at once while its pages follow
//! from the held source. Nothing is lost: the source keeps the checkpoint (and its parents),
//! or the held guest, until the destination says its guest runs (post-copy: holds every
//! page), and resumes the guest itself when the move fails.
//!
//! A node declares what it is ([`NodeInfo`]: target, cores, power profile). A node standing in
//! for a slower machine gives each guest only a share of a host core (`cpu_share`), counted in
//! CPU time ([`crate::throttle`]).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Read;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustls::ClientConfig;

use xisa_format::error_chain;

use crate::certs::{CertError, Identity};
use crate::client;
use crate::page_relay::{Relayed, relay};
use crate::processes::Processes;
use crate::server::{ListenError, Reply, listen, serve_forever};
use crate::throttle::{self, CpuShare};
use crate::wire::{
    Frame, GuestInfo, MigrateMode, NodeInfo, PagesFrom, Request, Response, Timeline,
};

/// The descriptor a resuming `xisa restore` reports readiness on (`--ready-fd`).
const READY_FD: i32 = 3;
/// How long a guest may take to reach its next migration point after a capture request.
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(120);
/// A guest's complete checkpoint during a pre-copy move: while it exists, the guest's
/// captures store only the pages changed since (`--parent-when-present`).
const PRECOPY: &str = "precopy.ckpt";
/// While this file exists beside a guest, its next capture that ends the run hands it over
/// to a post-copy move; the file names the local socket its pages are served on.
const HAND_OVER: &str = "hand-over";
/// In a guest's folder: the complete checkpoint a `--safe` post-copy move writes first.
pub const SAFE_CHECKPOINT: &str = "safe.ckpt";
/// Pre-copy rounds at most (each sends the pages changed since the last).
const PRECOPY_ROUNDS: usize = 4;
/// A pre-copy round that sends fewer bytes than this is the last: what is left is small.
const PRECOPY_SMALL: u64 = 256 << 10;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Certificates(#[from] CertError),
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error("cannot use the state folder {path}")]
    State {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How a node is set up.
pub struct NodeConfig {
    pub listen: String,
    /// The cluster folder and this node's member name in it.
    pub cluster: PathBuf,
    pub member: String,
    /// Where guests keep their files.
    pub state: PathBuf,
    /// The `xisa` binary that runs guests.
    pub xisa: PathBuf,
    /// What the node declares (its `member` is filled in from the member name).
    pub info: NodeInfo,
}

enum GuestState {
    Running(Child),
    /// Held for a move: the capture is in progress.
    Moving,
    Exited(i32),
    Moved(String),
    Failed(String),
}

struct Guest {
    dir: PathBuf,
    target: String,
    backend: Option<String>,
    job: Option<String>,
    checkpoint_every_ms: Option<u64>,
    /// Resumed from a checkpoint rather than started.
    restored: bool,
    state: GuestState,
}

impl Guest {
    fn image(&self) -> PathBuf {
        self.dir.join("image.xisa")
    }
    fn checkpoint(&self) -> PathBuf {
        self.dir.join("guest.ckpt")
    }
    fn precopy(&self) -> PathBuf {
        self.dir.join(PRECOPY)
    }
    fn files(&self) -> PathBuf {
        self.dir.join("files")
    }
    fn stats(&self) -> PathBuf {
        self.dir.join("stats.json")
    }
    fn progress(&self) -> PathBuf {
        self.dir.join("progress")
    }

    /// The running executor's latest progress line.
    fn current_progress(&self) -> Option<(u64, u64)> {
        let text = std::fs::read_to_string(self.progress()).ok()?;
        let (ms, points) = text.trim().split_once(' ')?;
        Some((ms.parse().ok()?, points.parse().ok()?))
    }

    /// Migration points passed and guest run time of the ended run, from its `--stats`.
    fn run_figures(&self) -> (Option<u64>, Option<u64>) {
        let Ok(text) = std::fs::read_to_string(self.stats()) else {
            return (None, None);
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            return (None, None);
        };
        (
            value["points"].as_u64(),
            value["run_us"].as_f64().map(|us| us as u64),
        )
    }

    /// A copy that holds no process: for work done without the guest table's lock.
    fn detached(&self) -> Guest {
        Guest {
            dir: self.dir.clone(),
            target: self.target.clone(),
            backend: self.backend.clone(),
            job: self.job.clone(),
            checkpoint_every_ms: self.checkpoint_every_ms,
            restored: self.restored,
            state: GuestState::Moving,
        }
    }

    /// Notices a guest process that ended.
    fn refresh(&mut self) {
        if let GuestState::Running(child) = &mut self.state
            && let Ok(Some(status)) = child.try_wait()
        {
            let code = status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
            self.state = GuestState::Exited(code);
        }
    }

    fn info(&self, guest: u64, processes: &Processes) -> GuestInfo {
        let mut rss_kb = 0;
        let mut progress = None;
        let (state, status, moved_to, reason, cpu) = match &self.state {
            GuestState::Running(child) => {
                let (cpu, rss) = processes.tree_usage(child.id());
                rss_kb = rss;
                progress = self.current_progress();
                ("running", None, None, None, cpu)
            }
            GuestState::Moving => ("moving", None, None, None, 0),
            GuestState::Exited(code) => ("exited", Some(*code), None, None, 0),
            GuestState::Moved(to) => ("moved", None, Some(to.clone()), None, 0),
            GuestState::Failed(why) => ("failed", None, None, Some(why.clone()), 0),
        };
        let (points, run_us) = match &self.state {
            GuestState::Exited(_) | GuestState::Moved(_) => self.run_figures(),
            _ => (None, None),
        };
        GuestInfo {
            guest,
            state: state.into(),
            target: self.target.clone(),
            backend: self.backend.clone(),
            status,
            cpu_ms: cpu,
            moved_to,
            reason,
            job: self.job.clone(),
            rss_kb,
            points,
            run_us,
            progress,
            restored: self.restored,
        }
    }
}

struct Node {
    info: NodeInfo,
    guests: Mutex<BTreeMap<u64, Guest>>,
    next_guest: Mutex<u64>,
    state: PathBuf,
    xisa: PathBuf,
    client: Arc<ClientConfig>,
    /// This node's address as peers reach it (for `moved` answers).
    address: String,
    /// Guests being handed over (post-copy): where their pages are served, and what the
    /// relay to the destination carried once it ends.
    page_streams: Mutex<BTreeMap<u64, PageStream>>,
}

#[derive(Clone)]
struct PageStream {
    socket: PathBuf,
    /// The relay sends what it carried once the stream ends.
    relayed: SyncSender<Relayed>,
}

impl Node {
    fn guests(&self) -> MutexGuard<'_, BTreeMap<u64, Guest>> {
        self.guests.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stage_dir(&self, stage: u64) -> PathBuf {
        self.state.join(format!("stage-{stage}"))
    }

    /// A fresh folder for a pre-copy's staged files (numbered like guests).
    fn new_stage_dir(&self) -> std::io::Result<(u64, PathBuf)> {
        let mut next = self.next_guest.lock().unwrap_or_else(|e| e.into_inner());
        *next += 1;
        let dir = self.stage_dir(*next);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok((*next, dir))
    }

    fn page_streams(&self) -> MutexGuard<'_, BTreeMap<u64, PageStream>> {
        self.page_streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_state(&self, id: u64, state: GuestState) {
        if let Some(guest) = self.guests().get_mut(&id) {
            guest.state = state;
        }
    }

    fn new_guest_dir(&self) -> std::io::Result<(u64, PathBuf)> {
        let mut next = self.next_guest.lock().unwrap_or_else(|e| e.into_inner());
        *next += 1;
        let dir = self.state.join(format!("guest-{}", *next));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("files"))?;
        Ok((*next, dir))
    }
}

/// Runs a node until the process ends; `ready` gets the bound address.
pub fn serve(config: NodeConfig, ready: impl FnOnce(SocketAddr)) -> Result<(), NodeError> {
    let identity = Identity::load(&config.cluster, &config.member)?;
    let server = identity.server_config()?;
    let client = identity.client_config()?;
    std::fs::create_dir_all(&config.state).map_err(|source| NodeError::State {
        path: config.state.clone(),
        source,
    })?;
    let (listener, bound) = listen(&config.listen)?;
    let info = NodeInfo {
        member: config.member.clone(),
        ..config.info
    };
    let node = Arc::new(Node {
        info,
        guests: Mutex::new(BTreeMap::new()),
        next_guest: Mutex::new(0),
        state: config.state,
        xisa: config.xisa,
        client,
        address: bound.to_string(),
        page_streams: Mutex::new(BTreeMap::new()),
    });
    if node.info.cpu_share < 1.0 {
        let node = Arc::clone(&node);
        std::thread::spawn(move || throttle(&node));
    }
    ready(bound);
    serve_forever(listener, server, "node", move |request| {
        handle(&node, request)
    });
    Ok(())
}

/// Gives each running guest `cpu_share` of a host core, counted in CPU time ([`CpuShare`]).
fn throttle(node: &Node) {
    let mut shares = CpuShare::new(node.info.cpu_share);
    loop {
        std::thread::sleep(throttle::TICK);
        let running: Vec<(u64, u32)> = node
            .guests()
            .iter()
            .filter_map(|(&id, guest)| match &guest.state {
                GuestState::Running(child) => Some((id, child.id())),
                _ => None,
            })
            .collect();
        let orders = shares.tick(&running, Instant::now());
        if orders.is_empty() {
            continue;
        }
        let guests = node.guests();
        for order in orders {
            let Some(GuestState::Running(child)) = guests.get(&order.guest).map(|g| &g.state)
            else {
                continue;
            };
            if child.id() != order.group {
                continue;
            }
            let signal = if order.stop {
                libc::SIGSTOP
            } else {
                libc::SIGCONT
            };
            // SAFETY: kill has no memory effects; the group is our own child's (started with
            // its own process group), not yet reaped while it is in the table as running.
            unsafe {
                libc::kill(-(order.group as i32), signal);
            }
        }
    }
}

fn handle(node: &Node, request: Frame<Request>) -> Result<Reply, String> {
    if let Request::Pages { guest } = request.message {
        return serve_pages(node, guest);
    }
    answer(node, request).map(Reply::Frame)
}

fn answer(node: &Node, request: Frame<Request>) -> Result<Frame<Response>, String> {
    match request.message {
        Request::Run {
            target,
            backend,
            args,
            job,
            checkpoint_every_ms,
        } => {
            let (image, files) = match request.blobs.as_slice() {
                [image] => (image, None),
                [image, files] => (image, Some(files)),
                _ => {
                    return Err(
                        "a run request carries the image and, optionally, a tar archive of the guest's files".into(),
                    );
                }
            };
            let (id, dir) = node.new_guest_dir().map_err(|e| e.to_string())?;
            std::fs::write(dir.join("image.xisa"), image).map_err(|e| e.to_string())?;
            if let Some(files) = files {
                unpack_folder(files, &dir.join("files"))?;
            }
            let mut guest = Guest {
                dir,
                target,
                backend,
                job,
                checkpoint_every_ms,
                restored: false,
                state: GuestState::Moving,
            };
            let child = start_guest(node, &guest, &args)?;
            guest.state = GuestState::Running(child);
            node.guests().insert(id, guest);
            Ok(Frame::new(Response::Started { guest: id }))
        }
        Request::List => {
            let processes = Processes::read();
            let mut guests = node.guests();
            let list = guests
                .iter_mut()
                .map(|(id, guest)| {
                    guest.refresh();
                    guest.info(*id, &processes)
                })
                .collect();
            Ok(Frame::new(Response::Guests { guests: list }))
        }
        Request::Info => Ok(Frame::new(Response::Node {
            info: node.info.clone(),
        })),
        Request::Wait { guest } => wait(node, guest),
        Request::Fetch { guest } => fetch(node, guest),
        Request::Kill { guest } => kill(node, guest),
        Request::Stop { guest } => stop(node, guest),
        Request::Migrate {
            guest,
            to,
            target,
            backend,
            mode,
            safe,
        } => migrate(node, guest, &to, target, backend, mode, safe),
        Request::Stage {
            stage: staged,
            round,
        } => stage(node, staged, round, request.blobs),
        Request::Receive {
            target,
            backend,
            origin,
            job,
            checkpoint_every_ms,
            stage,
            pages_from,
        } => receive(
            node,
            Guest {
                dir: PathBuf::new(),
                target,
                backend,
                job,
                checkpoint_every_ms,
                restored: true,
                state: GuestState::Moving,
            },
            &origin,
            stage,
            pages_from,
            request.blobs,
        ),
        Request::Pages { .. } => Err("a page stream is not a request with an answer".into()),
        Request::Submit { .. } | Request::Status | Request::Result { .. } => {
            Err("this is a node; jobs go to a cluster controller (`xisa cluster`)".into())
        }
    }
}

/// The guest's latest periodic checkpoint, with its output and files.
fn fetch(node: &Node, id: u64) -> Result<Frame<Response>, String> {
    let dir = {
        let guests = node.guests();
        let guest = guests.get(&id).ok_or(format!("no guest {id}"))?;
        guest.dir.clone()
    };
    if dir.join(PRECOPY).exists() {
        // Its checkpoints are incremental until the move ends.
        return Err(format!(
            "guest {id} is being moved (pre-copy); fetch it later"
        ));
    }
    let checkpoint = std::fs::read(dir.join("guest.ckpt"))
        .map_err(|e| format!("guest {id} has no checkpoint yet: {e}"))?;
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_default();
    Ok(Frame::with_blobs(
        Response::Snapshot { guest: id },
        vec![
            checkpoint,
            read("stdout"),
            read("stderr"),
            pack_folder(&dir.join("files"))?,
        ],
    ))
}

/// Captures a guest and stops it; the answer carries what `fetch` does, the checkpoint being
/// the one just taken. The guest counts as moved away.
fn stop(node: &Node, id: u64) -> Result<Frame<Response>, String> {
    let dir = capture_and_stop(node, id)?;
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_default();
    let blobs = vec![
        std::fs::read(dir.join("guest.ckpt")).map_err(|e| format!("guest.ckpt: {e}"))?,
        read("stdout"),
        read("stderr"),
        pack_folder(&dir.join("files"))?,
    ];
    node.set_state(id, GuestState::Moved("a cluster controller".into()));
    Ok(Frame::with_blobs(Response::Snapshot { guest: id }, blobs))
}

/// Ends a guest's process and forgets the guest.
fn kill(node: &Node, id: u64) -> Result<Frame<Response>, String> {
    let guest = node.guests().remove(&id).ok_or(format!("no guest {id}"))?;
    if let GuestState::Running(mut child) = guest.state {
        // SAFETY: kill has no memory effects; the group is our own child's.
        unsafe {
            libc::kill(-(child.id() as i32), libc::SIGKILL);
        }
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(&guest.dir);
    Ok(Frame::new(Response::Killed { guest: id }))
}

fn output_files(dir: &Path, append: bool) -> Result<(Stdio, Stdio), String> {
    let open = |name: &str| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .open(dir.join(name))
            .map(Stdio::from)
            .map_err(|e| format!("cannot open the guest's {name}: {e}"))
    };
    Ok((open("stdout")?, open("stderr")?))
}

/// Options `xisa run` and `xisa restore` get for a guest: where it runs, its folder, where it
/// writes checkpoints and figures.
fn executor_args(guest: &Guest) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec!["--target".into(), guest.target.clone().into()];
    if let Some(backend) = &guest.backend {
        args.extend(["--backend".into(), backend.into()]);
    }
    args.extend([
        "--dir".into(),
        guest.files().into(),
        "--checkpoint-to".into(),
        guest.checkpoint().into(),
        "--stats".into(),
        guest.stats().into(),
        "--progress".into(),
        guest.progress().into(),
        // A capture request (SIGUSR1: a pre-copy round) lets the guest carry on; SIGUSR2
        // ends it.
        "--then".into(),
        "continue".into(),
        "--parent-when-present".into(),
        guest.precopy().into(),
        "--hand-over-when-present".into(),
        guest.dir.join(HAND_OVER).into(),
    ]);
    if let Some(every) = guest.checkpoint_every_ms {
        args.extend([
            "--checkpoint-every".into(),
            format!("{}ms", every.max(1)).into(),
        ]);
    }
    args
}

fn start_guest(node: &Node, guest: &Guest, args: &[String]) -> Result<Child, String> {
    let (stdout, stderr) = output_files(&guest.dir, false)?;
    Command::new(&node.xisa)
        .arg("run")
        .args(executor_args(guest))
        .arg(guest.image())
        .arg("--")
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", node.xisa.display()))
}

/// Resumes the guest's checkpoint with `xisa restore` and waits until it runs.
fn resume_guest(node: &Node, guest: &Guest, page_server: Option<&Path>) -> Result<Child, String> {
    let (stdout, stderr) = output_files(&guest.dir, true)?;
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!(
            "cannot make a pipe: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: pipe2 just returned these two descriptors; nothing else owns them.
    let (mut ready, writer) = unsafe {
        (
            std::fs::File::from(OwnedFd::from_raw_fd(fds[0])),
            OwnedFd::from_raw_fd(fds[1]),
        )
    };
    let writer_fd = writer.as_raw_fd();
    let mut command = Command::new(&node.xisa);
    command
        .arg("restore")
        .args(executor_args(guest))
        .arg("--image")
        .arg(guest.image())
        .arg("--ready-fd")
        .arg(READY_FD.to_string())
        .args(
            page_server
                .iter()
                .flat_map(|socket| [OsStr::new("--page-server"), socket.as_os_str()]),
        )
        .arg(guest.checkpoint())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0);
    // SAFETY: runs in the forked child before exec and only calls dup2, which is
    // async-signal-safe, on a descriptor this function keeps open until after the spawn.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(writer_fd, READY_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", node.xisa.display()))?;
    drop(writer);
    let mut byte = [0u8; 1];
    match ready.read(&mut byte) {
        Ok(1) => Ok(child),
        _ => {
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            let stderr = std::fs::read_to_string(guest.dir.join("stderr")).unwrap_or_default();
            let last = stderr.lines().last().unwrap_or("").to_string();
            Err(format!("the restore did not start ({status}): {last}"))
        }
    }
}

fn wait(node: &Node, id: u64) -> Result<Frame<Response>, String> {
    loop {
        {
            let mut guests = node.guests();
            let guest = guests.get_mut(&id).ok_or(format!("no guest {id}"))?;
            guest.refresh();
            match &guest.state {
                GuestState::Exited(status) => {
                    let read = |name: &str| std::fs::read(guest.dir.join(name)).unwrap_or_default();
                    return Ok(Frame::with_blobs(
                        Response::Finished {
                            guest: id,
                            status: *status,
                        },
                        vec![read("stdout"), read("stderr")],
                    ));
                }
                GuestState::Moved(to) => {
                    return Ok(Frame::new(Response::Moved {
                        guest: id,
                        to: to.clone(),
                    }));
                }
                GuestState::Failed(reason) => return Err(format!("guest {id} failed: {reason}")),
                GuestState::Running(_) | GuestState::Moving => {}
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn migrate(
    node: &Node,
    id: u64,
    to: &str,
    target: String,
    backend: Option<String>,
    mode: MigrateMode,
    safe: bool,
) -> Result<Frame<Response>, String> {
    if safe && mode != MigrateMode::PostCopy {
        return Err(format!(
            "--safe is for post-copy moves (a {} move keeps the guest on the source until the destination runs it)",
            mode.name()
        ));
    }
    let mut timeline = Timeline {
        capture_ms: 0.0,
        transfer_ms: 0.0,
        restore_ms: 0.0,
        downtime_ms: 0.0,
        checkpoint_bytes: 0,
        image_bytes: 0,
        mode,
        precopy_ms: 0.0,
        precopy_bytes: 0,
        precopy_rounds: 0,
        postcopy_ms: 0.0,
        postcopy_pages: 0,
        postcopy_bytes: 0,
        remote_guest: None,
        kept_on_source: None,
        safe_checkpoint: None,
    };
    let stage = match mode {
        MigrateMode::StopCopy => None,
        MigrateMode::PostCopy => {
            return migrate_post_copy(node, id, to, target, backend, safe, timeline);
        }
        MigrateMode::PreCopy => {
            let started = Instant::now();
            match precopy(node, id, to) {
                Ok(staged) => {
                    timeline.precopy_ms = millis(started.elapsed());
                    timeline.precopy_bytes = staged.bytes;
                    timeline.precopy_rounds = staged.rounds;
                    Some(staged.stage)
                }
                Err(Precopy::Kept(reason)) => {
                    // The guest never stopped: it simply runs on here.
                    eprintln!("xisa node: pre-copy of guest {id} to {to} failed: {reason}");
                    timeline.precopy_ms = millis(started.elapsed());
                    timeline.kept_on_source = Some(reason);
                    return Ok(Frame::new(Response::Migrated { timeline }));
                }
                Err(Precopy::Failed(reason)) => return Err(reason),
            }
        }
    };
    let requested = Instant::now();
    let dir = capture_and_stop(node, id)?;
    let checkpoint = dir.join("guest.ckpt");
    let captured = requested.elapsed();
    let sent = Instant::now();
    // A staged move's image is on the destination already.
    let receive = Receive {
        target,
        backend,
        stage,
        pages_from: None,
    };
    let request = receive_request(node, id, &dir, receive, &mut timeline)?;
    let answer = client::call(to, &node.client, &request);
    timeline.capture_ms = millis(captured);
    timeline.transfer_ms = millis(sent.elapsed());
    match answer {
        Ok(Frame {
            message: Response::Received { guest, restore_ms },
            ..
        }) => {
            timeline.downtime_ms = millis(requested.elapsed());
            timeline.restore_ms = restore_ms;
            timeline.remote_guest = Some(guest);
            node.set_state(id, GuestState::Moved(format!("{to}#{guest}")));
            let _ = std::fs::remove_file(&checkpoint);
            remove_precopies(&dir);
        }
        other => {
            let reason = match other {
                Ok(frame) => format!("unexpected answer {:?}", frame.message),
                Err(error) => error_chain(&error),
            };
            resume_here(node, id, to, &reason)?;
            timeline.downtime_ms = millis(requested.elapsed());
            timeline.kept_on_source = Some(reason);
        }
    }
    Ok(Frame::new(Response::Migrated { timeline }))
}

/// Where a moved guest resumes on the destination, and how its pages get there.
struct Receive {
    target: String,
    backend: Option<String>,
    /// Pre-copy: the stage holding the image and the checkpoint's parents.
    stage: Option<u64>,
    /// Post-copy: the page stream's source.
    pages_from: Option<PagesFrom>,
}

/// The `receive` request for the guest captured in `dir`: image (unless staged), checkpoint,
/// output so far and folder. Counts the image and checkpoint bytes in `timeline`.
fn receive_request(
    node: &Node,
    id: u64,
    dir: &Path,
    receive: Receive,
    timeline: &mut Timeline,
) -> Result<Frame<Request>, String> {
    let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"));
    let blobs = vec![
        if receive.stage.is_some() {
            Vec::new()
        } else {
            read("image.xisa")?
        },
        read("guest.ckpt")?,
        read("stdout").unwrap_or_default(),
        read("stderr").unwrap_or_default(),
        pack_folder(&dir.join("files"))?,
    ];
    timeline.image_bytes = blobs[0].len() as u64;
    timeline.checkpoint_bytes = blobs[1].len() as u64;
    let (job, checkpoint_every_ms) = {
        let guests = node.guests();
        let guest = guests.get(&id).ok_or(format!("no guest {id}"))?;
        (guest.job.clone(), guest.checkpoint_every_ms)
    };
    Ok(Frame::with_blobs(
        Request::Receive {
            target: receive.target,
            backend: receive.backend,
            origin: node.address.clone(),
            job,
            checkpoint_every_ms,
            stage: receive.stage,
            pages_from: receive.pages_from,
        },
        blobs,
    ))
}

/// After a failed move: resumes the guest here from the checkpoint in its folder. An
/// incremental checkpoint resumes with its parents beside it, which can go once the guest
/// runs (its later captures are complete again).
fn resume_here(node: &Node, id: u64, to: &str, reason: &str) -> Result<(), String> {
    eprintln!("xisa node: moving guest {id} to {to} failed, resuming it here: {reason}");
    // Not under the lock: resuming waits until the guest runs.
    let held = node
        .guests()
        .get(&id)
        .map(Guest::detached)
        .ok_or(format!("no guest {id}"))?;
    let resumed = resume_guest(node, &held, None);
    remove_precopies(&held.dir);
    match resumed {
        Ok(child) => {
            node.set_state(id, GuestState::Running(child));
            Ok(())
        }
        Err(why) => {
            node.set_state(
                id,
                GuestState::Failed(format!(
                    "the move failed ({reason}) and so did resuming here: {why}; the checkpoint is kept at {}",
                    held.checkpoint().display()
                )),
            );
            Err(why)
        }
    }
}

/// Why a pre-copy round did not stage a checkpoint.
enum Precopy {
    /// The guest runs on here: the move is off.
    Kept(String),
    /// The guest is not there to move.
    Failed(String),
}

/// What the pre-copy rounds staged on the destination.
struct Staged {
    stage: u64,
    bytes: u64,
    rounds: u32,
}

/// The pre-copy rounds. The running guest writes a complete checkpoint copy-on-write, kept
/// as its `precopy.ckpt` (so its next capture is incremental against it), and the destination
/// stages it with the image. Each further round captures the pages changed since the last
/// one, again while the guest runs on, and stages that as the new `precopy.ckpt` (the older
/// one is renamed `precopy-N.ckpt`: its child finds it by digest). The rounds stop when one
/// sends less than [`PRECOPY_SMALL`] bytes, stops shrinking, or after [`PRECOPY_ROUNDS`].
fn precopy(node: &Node, id: u64, to: &str) -> Result<Staged, Precopy> {
    let (pid, dir) = {
        let mut guests = node.guests();
        let guest = guests
            .get_mut(&id)
            .ok_or_else(|| Precopy::Failed(format!("no guest {id}")))?;
        guest.refresh();
        match &guest.state {
            GuestState::Running(child) => (child.id() as i32, guest.dir.clone()),
            _ => return Err(Precopy::Failed(format!("guest {id} is not running"))),
        }
    };
    let (checkpoint, base) = (dir.join("guest.ckpt"), dir.join(PRECOPY));
    remove_precopies(&dir);
    let _ = std::fs::remove_file(&checkpoint);
    let forget = |reason: String| {
        remove_precopies(&dir);
        Precopy::Kept(reason)
    };
    let mut staged: Option<Staged> = None;
    let mut last_bytes = u64::MAX;
    for round in 0..PRECOPY_ROUNDS {
        // SAFETY: kill has no memory effects; the pid is our own child, not yet reaped (the
        // table holds it).
        unsafe {
            libc::kill(pid, libc::SIGUSR1);
        }
        let running = || {
            node.guests().get_mut(&id).is_some_and(|guest| {
                guest.refresh();
                matches!(guest.state, GuestState::Running(_))
            })
        };
        match wait_for_checkpoint(&checkpoint, running) {
            Waited::Written => {}
            Waited::Ended => {
                return Err(Precopy::Failed(format!(
                    "guest {id} ended before its pre-copy checkpoint was written"
                )));
            }
            Waited::TimedOut => {
                return Err(forget(format!(
                    "guest {id} wrote no pre-copy checkpoint in {} s",
                    CAPTURE_TIMEOUT.as_secs()
                )));
            }
        }
        if round > 0 {
            let older = dir.join(format!("precopy-{round}.ckpt"));
            std::fs::rename(&base, &older).map_err(|e| forget(format!("{PRECOPY}: {e}")))?;
        }
        std::fs::rename(&checkpoint, &base).map_err(|e| forget(format!("{PRECOPY}: {e}")))?;
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| forget(format!("{}: {e}", path.display())))
        };
        let mut blobs = vec![read(&base)?];
        let round_bytes = blobs[0].len() as u64;
        if staged.is_none() {
            blobs.push(read(&dir.join("image.xisa"))?);
        }
        let bytes: u64 = blobs.iter().map(|b| b.len() as u64).sum();
        let request = Request::Stage {
            stage: staged.as_ref().map(|s| s.stage),
            round: round as u32,
        };
        let stage = match client::call(to, &node.client, &Frame::with_blobs(request, blobs)) {
            Ok(Frame {
                message: Response::Staged { stage },
                ..
            }) => stage,
            Ok(frame) => return Err(forget(format!("unexpected answer {:?}", frame.message))),
            Err(error) => return Err(forget(error_chain(&error))),
        };
        let total = staged.as_ref().map_or(0, |s| s.bytes) + bytes;
        staged = Some(Staged {
            stage,
            bytes: total,
            rounds: round as u32 + 1,
        });
        if round_bytes < PRECOPY_SMALL || round_bytes * 2 > last_bytes {
            break;
        }
        last_bytes = round_bytes;
    }
    staged.ok_or_else(|| forget("no pre-copy round ran".into()))
}

/// How waiting for a requested capture ended.
enum Waited {
    Written,
    /// The guest's process ended first.
    Ended,
    TimedOut,
}

/// Waits until a requested capture is written at `checkpoint` (whole, by a rename), while
/// `running` says the guest's process is still there.
fn wait_for_checkpoint(checkpoint: &Path, mut running: impl FnMut() -> bool) -> Waited {
    let deadline = Instant::now() + CAPTURE_TIMEOUT;
    while !checkpoint.exists() {
        if !running() {
            return Waited::Ended;
        }
        if Instant::now() > deadline {
            return Waited::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Waited::Written
}

/// Removes a guest's pre-copy checkpoints (`precopy.ckpt` and older rounds'): its captures
/// are complete again.
fn remove_precopies(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("precopy") && name.ends_with(".ckpt") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Keeps a pre-copy round's checkpoint (and, in the first round, the image) until the
/// move's `receive`. Round `r`'s checkpoint becomes the stage's `precopy.ckpt`; the one it
/// replaces is kept as `precopy-r.ckpt`, the name the source gave it.
fn stage(
    node: &Node,
    stage: Option<u64>,
    round: u32,
    blobs: Vec<Vec<u8>>,
) -> Result<Frame<Response>, String> {
    let (stage, dir) = match stage {
        None => node.new_stage_dir().map_err(|e| e.to_string())?,
        Some(stage) => {
            let dir = node.stage_dir(stage);
            if !dir.join(PRECOPY).exists() {
                return Err(format!("no stage {stage} here"));
            }
            (stage, dir)
        }
    };
    let base = dir.join(PRECOPY);
    match blobs.as_slice() {
        [checkpoint, image] if round == 0 => {
            std::fs::write(dir.join("image.xisa"), image).map_err(|e| format!("image: {e}"))?;
            std::fs::write(&base, checkpoint).map_err(|e| format!("{PRECOPY}: {e}"))?;
        }
        [checkpoint] if round > 0 => {
            std::fs::rename(&base, dir.join(format!("precopy-{round}.ckpt")))
                .map_err(|e| format!("{PRECOPY}: {e}"))?;
            std::fs::write(&base, checkpoint).map_err(|e| format!("{PRECOPY}: {e}"))?;
        }
        _ => {
            return Err(
                "a stage request carries a checkpoint, and in round 0 the image too".into(),
            );
        }
    }
    Ok(Frame::new(Response::Staged { stage }))
}

/// Takes a running guest out of the table and has it capture at its next migration point and
/// stop; returns its folder, which holds the checkpoint. The guest is left `moving`.
fn capture_and_stop(node: &Node, id: u64) -> Result<PathBuf, String> {
    let (mut child, dir) = take_for_move(node, id)?;
    let checkpoint = dir.join("guest.ckpt");
    let status = wait_with_timeout(&mut child, CAPTURE_TIMEOUT);
    if !checkpoint.exists() {
        let code = status.unwrap_or(-1);
        node.set_state(id, GuestState::Exited(code));
        return Err(format!(
            "guest {id} ended (status {code}) before it reached a migration point"
        ));
    }
    Ok(dir)
}

/// Takes a running guest's process out of the table (the guest is left `moving`) and asks it
/// for a last capture at its next migration point (SIGUSR2: it ends the run even when
/// periodic captures continue it); returns the process and the guest's folder.
fn take_for_move(node: &Node, id: u64) -> Result<(Child, PathBuf), String> {
    let (child, dir) = {
        let mut guests = node.guests();
        let guest = guests.get_mut(&id).ok_or(format!("no guest {id}"))?;
        guest.refresh();
        if !matches!(guest.state, GuestState::Running(_)) {
            return Err(format!("guest {id} is not running"));
        }
        let GuestState::Running(child) = std::mem::replace(&mut guest.state, GuestState::Moving)
        else {
            unreachable!("checked above");
        };
        (child, guest.dir.clone())
    };
    let _ = std::fs::remove_file(dir.join("guest.ckpt"));
    // SIGCONT undoes a throttle's stop (the guest is out of the table, so the throttle lets
    // it be).
    // SAFETY: kill has no memory effects; the pid is our own child, not yet reaped.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGUSR2);
        libc::kill(-(child.id() as i32), libc::SIGCONT);
    }
    Ok((child, dir))
}

/// A post-copy move: the guest is held at its next migration point and hands over a
/// checkpoint without pages; the destination resumes it at once and takes its pages from the
/// held source through this node ([`serve_pages`]), on demand and in the background. The
/// source lets the guest go once the destination holds every page; if the destination fails
/// first, the source writes a complete checkpoint and resumes the guest itself.
fn migrate_post_copy(
    node: &Node,
    id: u64,
    to: &str,
    target: String,
    backend: Option<String>,
    safe: bool,
    mut timeline: Timeline,
) -> Result<Frame<Response>, String> {
    let requested = Instant::now();
    let dir = node
        .guests()
        .get(&id)
        .map(|guest| guest.dir.clone())
        .ok_or(format!("no guest {id}"))?;
    let socket = std::env::temp_dir().join(format!("xisa-pages-{}-{id}.sock", std::process::id()));
    let marker = dir.join(HAND_OVER);
    // The socket, then where the held guest writes its complete checkpoint first (`safe`).
    let safe_checkpoint = safe.then(|| dir.join(SAFE_CHECKPOINT));
    let mut hand_over = socket.as_os_str().as_encoded_bytes().to_vec();
    if let Some(path) = &safe_checkpoint {
        let _ = std::fs::remove_file(path);
        hand_over.push(b'\n');
        hand_over.extend_from_slice(path.as_os_str().as_encoded_bytes());
    }
    std::fs::write(&marker, hand_over).map_err(|e| format!("{HAND_OVER}: {e}"))?;
    let (relayed, carried) = std::sync::mpsc::sync_channel(1);
    let stream = PageStream {
        socket: socket.clone(),
        relayed,
    };
    node.page_streams().insert(id, stream);
    let forget = || {
        let _ = std::fs::remove_file(&marker);
        node.page_streams().remove(&id);
    };
    let (mut child, _) = take_for_move(node, id).inspect_err(|_| forget())?;
    let checkpoint = dir.join("guest.ckpt");
    // The page-less checkpoint is written (whole) once the page socket listens.
    match wait_for_checkpoint(&checkpoint, || matches!(child.try_wait(), Ok(None))) {
        Waited::Written => {}
        Waited::Ended => {
            forget();
            let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(-1);
            node.set_state(id, GuestState::Exited(code));
            return Err(format!(
                "guest {id} ended (status {code}) before it reached a migration point"
            ));
        }
        Waited::TimedOut => {
            forget();
            let _ = child.kill();
            node.set_state(id, GuestState::Failed("no hand-over in time".into()));
            return Err(format!(
                "guest {id} did not hand over in {CAPTURE_TIMEOUT:?}"
            ));
        }
    }
    let _ = std::fs::remove_file(&marker);
    let skeleton = file_identity(&checkpoint);
    let captured = requested.elapsed();
    if let Some(path) = safe_checkpoint.as_ref().filter(|p| p.exists()) {
        timeline.safe_checkpoint = Some(path.display().to_string());
    }
    let receive = Receive {
        target,
        backend,
        stage: None,
        pages_from: Some(PagesFrom {
            node: node.address.clone(),
            guest: id,
        }),
    };
    let request = receive_request(node, id, &dir, receive, &mut timeline)?;
    let sent = Instant::now();
    let answer = client::call(to, &node.client, &request);
    timeline.capture_ms = millis(captured);
    timeline.transfer_ms = millis(sent.elapsed());
    let remote = match answer {
        Ok(Frame {
            message: Response::Received { guest, restore_ms },
            ..
        }) => {
            timeline.downtime_ms = millis(requested.elapsed());
            timeline.restore_ms = restore_ms;
            Ok(guest)
        }
        Ok(frame) => Err(format!("unexpected answer {:?}", frame.message)),
        Err(error) => Err(error_chain(&error)),
    };
    if remote.is_err() {
        // Nobody will take the pages: call the hand-over off (the held guest may also have
        // seen the destination go away already).
        if let Ok(mut local) = std::os::unix::net::UnixStream::connect(&socket) {
            use std::io::Write;
            let _ = local.write_all(&xisa_format::page_stream::ABORT.to_le_bytes());
            let mut answer = [0u8; 1];
            let _ = local.read(&mut answer);
        }
    }
    // The held guest ends once its pages are all on the destination, or once it has written
    // a complete checkpoint (a new file in place of the page-less one) because they will
    // not be. Its own account decides: the relay's figures may come a moment later.
    let running = Instant::now();
    let status = child.wait().ok().and_then(|s| s.code());
    let postcopy_ms = millis(running.elapsed());
    let replaced = file_identity(&checkpoint) != skeleton;
    node.page_streams().remove(&id);
    match remote {
        Ok(guest) if status == Some(0) && !replaced => {
            // The relay's figures come a moment after the held guest ends.
            let relayed = carried
                .recv_timeout(Duration::from_secs(5))
                .unwrap_or_default();
            timeline.postcopy_ms = postcopy_ms;
            timeline.postcopy_pages = relayed.pages;
            timeline.postcopy_bytes = relayed.bytes;
            timeline.remote_guest = Some(guest);
            node.set_state(id, GuestState::Moved(format!("{to}#{guest}")));
            let _ = std::fs::remove_file(&checkpoint);
            // The destination holds every page: the safety copy has done its job.
            if let Some(path) = &safe_checkpoint {
                let _ = std::fs::remove_file(path);
            }
        }
        remote => {
            let reason = match remote {
                Ok(_) => "the destination did not take every page".to_string(),
                Err(reason) => reason,
            };
            if !replaced {
                // No complete checkpoint to resume: the page-less one needs the pages.
                let safety = match safe_checkpoint.as_ref().filter(|p| p.exists()) {
                    Some(path) => format!("; resume it from {}", path.display()),
                    None => String::new(),
                };
                let why = format!(
                    "the held guest ended (status {status:?}) without its pages reaching {to} or a complete checkpoint{safety}"
                );
                node.set_state(
                    id,
                    GuestState::Failed(format!("the move failed ({reason}): {why}")),
                );
                return Err(why);
            }
            resume_here(node, id, to, &reason)?;
            // The guest runs here again: the safety copy is stale.
            if let Some(path) = timeline.safe_checkpoint.take() {
                let _ = std::fs::remove_file(path);
            }
            timeline.downtime_ms = millis(requested.elapsed());
            timeline.kept_on_source = Some(reason);
        }
    }
    Ok(Frame::new(Response::Migrated { timeline }))
}

/// A file's identity (device and inode): a file written whole under the same name is a new
/// one.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The source's end of a post-copy page stream: relays the destination's requests on this
/// connection to the held guest's page socket.
fn serve_pages(node: &Node, id: u64) -> Result<Reply, String> {
    let stream = node
        .page_streams()
        .get(&id)
        .cloned()
        .ok_or(format!("guest {id} is not being handed over"))?;
    Ok(Reply::Stream(
        Frame::new(Response::Streaming),
        Box::new(move |connection| {
            let relayed = std::os::unix::net::UnixStream::connect(&stream.socket)
                .and_then(|mut local| relay(connection, &mut local));
            match relayed {
                Ok(relayed) => {
                    let _ = stream.relayed.try_send(relayed);
                }
                Err(error) => eprintln!("xisa node: the page stream of guest {id} broke: {error}"),
            }
        }),
    ))
}

/// The destination's end of a post-copy page stream: a local socket for the restore, carried
/// to the source node's [`serve_pages`]. Returns the socket's path.
fn bridge_pages(node: &Node, id: u64, from: PagesFrom) -> Result<PathBuf, String> {
    let socket = std::env::temp_dir().join(format!("xisa-bridge-{}-{id}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let listener = std::os::unix::net::UnixListener::bind(&socket)
        .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
    let config = Arc::clone(&node.client);
    let path = socket.clone();
    std::thread::spawn(move || {
        let Ok((mut local, _)) = listener.accept() else {
            return;
        };
        let _ = std::fs::remove_file(&path);
        let request = Frame::new(Request::Pages { guest: from.guest });
        match client::open(&from.node, &config, &request) {
            Ok((_, mut remote)) => {
                if let Err(error) = relay(&mut local, &mut remote) {
                    eprintln!(
                        "xisa node: the page stream from {} broke: {error}",
                        from.node
                    );
                }
            }
            Err(error) => eprintln!(
                "xisa node: cannot open the page stream from {}: {}",
                from.node,
                error_chain(&error)
            ),
        }
    });
    Ok(socket)
}

/// Resumes a guest sent by another node (or a controller restarting a lost one); `guest`
/// holds where it runs, the folder is made here.
fn receive(
    node: &Node,
    mut guest: Guest,
    origin: &str,
    stage: Option<u64>,
    pages_from: Option<PagesFrom>,
    blobs: Vec<Vec<u8>>,
) -> Result<Frame<Response>, String> {
    let [image, checkpoint, stdout, stderr, files] = blobs.as_slice() else {
        return Err(
            "a receive request carries five blobs: image, checkpoint, stdout, stderr, files".into(),
        );
    };
    let started = Instant::now();
    let (id, dir) = node.new_guest_dir().map_err(|e| e.to_string())?;
    if let Some(stage) = stage {
        // The incremental checkpoint finds its parent beside it under the name it had.
        let staged = node.stage_dir(stage);
        let entries =
            std::fs::read_dir(&staged).map_err(|e| format!("no stage {stage} here: {e}"))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("stage {stage}: {e}"))?;
            std::fs::rename(entry.path(), dir.join(entry.file_name()))
                .map_err(|e| format!("stage {stage}: {e}"))?;
        }
        let _ = std::fs::remove_dir_all(&staged);
    }
    for (name, bytes) in [
        ("image.xisa", image),
        ("guest.ckpt", checkpoint),
        ("stdout", stdout),
        ("stderr", stderr),
    ] {
        if name == "image.xisa" && stage.is_some() && bytes.is_empty() {
            continue;
        }
        std::fs::write(dir.join(name), bytes).map_err(|e| format!("{name}: {e}"))?;
    }
    unpack_folder(files, &dir.join("files"))?;
    guest.dir = dir;
    let pages = pages_from
        .map(|from| bridge_pages(node, id, from))
        .transpose()?;
    let resumed = resume_guest(node, &guest, pages.as_deref());
    if let (Err(_), Some(socket)) = (&resumed, &pages) {
        // Unblock the bridge, which then tells the source the pages are not wanted.
        let _ = std::os::unix::net::UnixStream::connect(socket);
        let _ = std::fs::remove_file(socket);
    }
    // The running guest holds what it needs of its parents; its later captures are complete.
    remove_precopies(&guest.dir);
    let child = resumed.inspect_err(|_| {
        // The source still holds the guest and resumes it: nothing here is needed.
        let _ = std::fs::remove_dir_all(&guest.dir);
    })?;
    guest.state = GuestState::Running(child);
    node.guests().insert(id, guest);
    eprintln!("xisa node: guest {id} arrived from {origin}");
    Ok(Frame::new(Response::Received {
        guest: id,
        restore_ms: millis(started.elapsed()),
    }))
}

/// The guest's folder (its `/`) as a tar archive: what it wrote travels with it.
fn pack_folder(folder: &Path) -> Result<Vec<u8>, String> {
    let mut archive = tar::Builder::new(Vec::new());
    archive.follow_symlinks(false);
    archive
        .append_dir_all(".", folder)
        .and_then(|()| archive.into_inner())
        .map_err(|e| format!("cannot pack the guest's files: {e}"))
}

/// Unpacks a guest's folder; tar refuses entries that would land outside it.
fn unpack_folder(archive: &[u8], folder: &Path) -> Result<(), String> {
    tar::Archive::new(archive)
        .unpack(folder)
        .map_err(|e| format!("cannot unpack the guest's files: {e}"))
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(
                status
                    .code()
                    .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
