//! One run of a guest on any backend: start it or resume it, serve it until it exits or
//! faults, write the checkpoints its policy asks for, and sum up how it went.

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use xisa_converters::control::{AfterCapture, CaptureReport, ChangedPagesBy};
use xisa_converters::snapshot::{self, CaptureInput, ChangedPages, SnapshotError};
use xisa_format::checkpoint::{CheckpointFile, OwnCheckpoints, PAGE_SIZE, PageCheck};
use xisa_format::error_chain;
use xisa_format::image::Image;
use xisa_format::page_stream::MAX_BATCH;
use xisa_personality::{GuestMemory, PersonalityError};

use crate::cow_capture::{BackgroundCapture, CowCaptureError};
use crate::lazy_restore::{LazyRestore, LazyRestoreError, LazyRestoreStats};
use crate::long_jump::{self, LongJumpError};
use crate::machine::{GuestFault, Machine, MachineError, Stop};
use crate::mapped_pages::{self, StoreCheck};
use crate::migration_point::{CaptureRequest, PointError};
use crate::page_source::{PageSource, PageSourceError};
use crate::page_stream::{self, RemotePages, Served};
use crate::setup::{GuestSetup, RestorePlan, SetupError, write_startup_block};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Machine(#[from] MachineError),
    #[error(transparent)]
    Points(#[from] PointError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("cannot read the personality's state")]
    Personality(#[source] PersonalityError),
    #[error("a capture was requested without a checkpoint file")]
    NoCheckpointFile,
    #[error("the lazy restore failed")]
    LazyRestore(#[source] LazyRestoreError),
    #[error("the background capture failed")]
    BackgroundCapture(#[source] CowCaptureError),
    #[error("cannot restore the guest's pages")]
    Pages(#[source] PageSourceError),
    #[error("the check of the checkpoint the guest was restored from failed")]
    Store(#[source] mapped_pages::StoreCheckError),
    #[error("cannot serve the guest's pages on {socket}")]
    HandOver {
        socket: String,
        #[source]
        source: std::io::Error,
    },
}

/// How a restore puts the checkpoint's pages into guest memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreMemory {
    /// Every page before the guest runs.
    Eager,
    /// Each page on first touch, the rest in the background ([`LazyRestore`]), where the
    /// backend's memory allows it; else eagerly.
    Lazy,
}

/// How a restore's memory went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoredMemory {
    Eager {
        /// Why a lazy restore was not possible, when one was asked for.
        instead_of_lazy: Option<String>,
    },
    Lazy {
        /// Pages mapped from the checkpoints' page stores instead of copied.
        mapped: u64,
        stats: LazyRestoreStats,
    },
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    Exited(i32),
    /// Stopped at a migration point after writing a checkpoint.
    Checkpointed,
    Faulted(GuestFault),
}

impl Outcome {
    /// The exit status `xisa run` reports.
    pub fn status(&self) -> i32 {
        match self {
            Outcome::Exited(code) => *code,
            Outcome::Checkpointed => 0,
            Outcome::Faulted(fault) => fault.status,
        }
    }
}

/// How a run went, whatever the backend.
#[derive(Debug)]
pub struct RunSummary {
    pub outcome: Outcome,
    pub captures: Vec<CaptureReport>,
    /// Migration points the program passed.
    pub points: u64,
    /// For a restore: from opening the checkpoint to the guest running.
    pub resume_time: Option<Duration>,
    /// For a restore: how its memory was filled.
    pub restored_memory: Option<RestoredMemory>,
    /// Time the guest ran (system calls and captures included).
    pub run_time: Duration,
}

/// A guest ready to run on one machine.
pub struct Session<'a> {
    image: &'a Image,
    /// Before the machine: its thread stops before guest memory goes.
    lazy: Option<LazyRestore>,
    /// Likewise: a capture still being encoded while the program runs on.
    background: Option<BackgroundCapture>,
    machine: Box<dyn Machine + 'a>,
    restore_started: Option<Instant>,
    restored_memory: Option<RestoredMemory>,
    /// Pages a lazy restore mapped from page stores.
    mapped_pages: u64,
    /// The page stores a lazy restore mapped or reads, being checked while the guest runs.
    store_check: Option<StoreCheck>,
    /// The last capture, where the machine tracks the pages written since.
    last_capture: Option<CaptureMark>,
    /// The checkpoints this run wrote: as parents they are not hashed again, and the last
    /// chain opened as a parent is kept open.
    own: OwnCheckpoints,
}

/// A capture from which the machine tracks written pages: a later capture against it as
/// parent looks only at the pages written since.
struct CaptureMark {
    /// The checkpoint's digest, once written.
    digest: Option<[u8; 32]>,
    /// Pages the log gave that capture, for its report.
    changed_pages: Option<u64>,
}

impl<'a> Session<'a> {
    /// A fresh run: writes the start-up block into the machine's memory.
    pub fn start(
        image: &'a Image,
        mut machine: Box<dyn Machine + 'a>,
        setup: &GuestSetup,
    ) -> Result<Self, RuntimeError> {
        let (memory, _) = machine.parts();
        write_startup_block(memory, setup)?;
        Ok(Session {
            image,
            machine,
            restore_started: None,
            restored_memory: None,
            mapped_pages: 0,
            store_check: None,
            last_capture: None,
            own: OwnCheckpoints::default(),
            lazy: None,
            background: None,
        })
    }

    /// A restored run: puts the checkpoint's pages into the machine's memory (which holds a
    /// fresh load of the program), now or as the guest touches them, and lays out its frames.
    /// With `remote`, the pages come from the source machine of a post-copy move instead (the
    /// checkpoint then holds only the frames and the personality).
    pub fn restore(
        image: &'a Image,
        mut machine: Box<dyn Machine + 'a>,
        file: &CheckpointFile,
        remote: Option<RemotePages>,
        plan: RestorePlan,
        poison: bool,
        how: RestoreMemory,
    ) -> Result<Self, RuntimeError> {
        let source = match remote {
            Some(remote) => PageSource::Remote(remote),
            None => PageSource::Checkpoint(file.clone()),
        };
        // A lazy restore, or the source back for an eager one (with why it is not lazy).
        let mut mapped_pages = 0;
        // Opened for a lazy restore, the checkpoint's page stores are not checked yet.
        let store_check = match (&source, how) {
            (PageSource::Checkpoint(file), RestoreMemory::Lazy) => Some(StoreCheck::start(file)),
            _ => None,
        };
        let lazy = match how {
            RestoreMemory::Eager => Err((source, None)),
            RestoreMemory::Lazy => match machine.host_memory() {
                None => Err((
                    source,
                    Some("guest memory is shared with another process".to_string()),
                )),
                Some(regions) => match Self::map_store_pages(&source, &regions) {
                    Err(reason) => Err((source, Some(reason))),
                    Ok(mapped) => {
                        mapped_pages =
                            mapped.iter().map(|r| r.end - r.start).sum::<u64>() / PAGE_SIZE as u64;
                        Self::start_lazy(source, image, &regions, &mapped)?
                    }
                },
            },
        };
        let (lazy, restored_memory) = match lazy {
            Ok(lazy) => (Some(lazy), None),
            Err((source, instead_of_lazy)) => {
                let (memory, _) = machine.parts();
                restore_eagerly(source, image, memory)?;
                (None, Some(RestoredMemory::Eager { instead_of_lazy }))
            }
        };
        machine.resume(plan.frames, poison)?;
        Ok(Session {
            image,
            machine,
            restore_started: Some(plan.started),
            restored_memory,
            mapped_pages,
            store_check,
            last_capture: None,
            own: OwnCheckpoints::default(),
            lazy,
            background: None,
        })
    }

    /// Maps the pages the checkpoint keeps in page stores; the guest ranges mapped, or why
    /// none could be (the restore is then eager).
    fn map_store_pages(
        source: &PageSource,
        regions: &[crate::machine::HostRegion],
    ) -> Result<Vec<std::ops::Range<u64>>, String> {
        match source {
            PageSource::Checkpoint(file) => {
                mapped_pages::map_store_pages(file, regions).map_err(|e| error_chain(&e))
            }
            PageSource::Remote(_) => Ok(Vec::new()),
        }
    }

    /// Starts the lazy restore of every page not `mapped`; `Err` with the source back when
    /// guest memory is still as it was (the restore can then be eager).
    fn start_lazy(
        source: PageSource,
        image: &Image,
        regions: &[crate::machine::HostRegion],
        mapped: &[std::ops::Range<u64>],
    ) -> Result<Result<LazyRestore, (PageSource, Option<String>)>, RuntimeError> {
        match LazyRestore::start(source, image, regions, mapped) {
            Ok(lazy) => Ok(Ok(lazy)),
            Err(failed) => match failed.source {
                Some(source) => Ok(Err((source, Some(error_chain(&failed.error))))),
                // Guest memory is already given over to the restore that failed.
                None => Err(RuntimeError::LazyRestore(failed.error)),
            },
        }
    }

    /// Waits for the check of the page stores the guest was restored from: before anything
    /// the guest computed is kept (a capture, the end of the run).
    fn check_store(&mut self) -> Result<(), RuntimeError> {
        match self.store_check.take() {
            Some(check) => check.finish().map_err(RuntimeError::Store),
            None => Ok(()),
        }
    }

    pub fn machine(&mut self) -> &mut dyn Machine {
        self.machine.as_mut()
    }

    /// Runs the guest to its end (exit, fault, or a capture that ends the run).
    pub fn run(mut self) -> Result<RunSummary, RuntimeError> {
        {
            let (memory, guest) = self.machine.parts();
            guest.points.arm(memory)?;
        }
        let resume_time = self.restore_started.map(|t| t.elapsed());
        let running = Instant::now();
        let mut result = self.serve();
        if let Some(capture) = self.background.take() {
            let finished = capture
                .finish()
                .map_err(RuntimeError::BackgroundCapture)
                .map(|report| self.written(report));
            result = result.and_then(|(outcome, mut captures)| {
                captures.push(finished?);
                Ok((outcome, captures))
            });
        }
        let run_time = running.elapsed();
        let points = self
            .machine
            .guest()
            .points
            .points_passed(self.machine.memory());
        self.machine.parts().1.points.disarm();
        if let Some(lazy) = self.lazy.take() {
            let stats = lazy.finish().map_err(RuntimeError::LazyRestore)?;
            self.restored_memory = Some(RestoredMemory::Lazy {
                mapped: self.mapped_pages,
                stats,
            });
        }
        // A damaged checkpoint fails the run whatever the guest did with it.
        self.check_store()?;
        let (outcome, captures) = result?;
        Ok(RunSummary {
            outcome,
            captures,
            points,
            resume_time,
            restored_memory: self.restored_memory.take(),
            run_time,
        })
    }

    fn serve(&mut self) -> Result<(Outcome, Vec<CaptureReport>), RuntimeError> {
        let mut captures = Vec::new();
        loop {
            match self.machine.run()? {
                Stop::Exited(code) => return Ok((Outcome::Exited(code), captures)),
                Stop::Faulted(fault) => return Ok((Outcome::Faulted(fault), captures)),
                Stop::Capture(request) => {
                    // Nothing computed from a damaged checkpoint is kept.
                    self.check_store()?;
                    // One capture at a time: an earlier one still in the background ends first.
                    if let Some(earlier) = self.background.take() {
                        let report = earlier.finish().map_err(RuntimeError::BackgroundCapture)?;
                        captures.push(self.written(report));
                    }
                    let policy = self.machine.guest().points.policy();
                    let then = policy.then;
                    // Only a capture that ends the run can hand the guest over.
                    let hand_over = policy
                        .hand_over
                        .as_deref()
                        .filter(|_| request.last)
                        .and_then(|marker| std::fs::read_to_string(marker).ok());
                    if let Some(marker) = hand_over {
                        // The socket to serve pages on, then (`--safe`) where to write a
                        // complete checkpoint first.
                        let mut lines = marker.lines().map(str::trim).filter(|l| !l.is_empty());
                        let socket = PathBuf::from(lines.next().unwrap_or_default());
                        let safe = lines.next().map(PathBuf::from);
                        captures.push(self.hand_over(request, &socket, safe.as_deref())?);
                        return Ok((Outcome::Checkpointed, captures));
                    }
                    if then == AfterCapture::Exit || request.last {
                        captures.push(self.capture(request)?);
                        return Ok((Outcome::Checkpointed, captures));
                    }
                    if let Some(report) = self.capture_and_carry_on(request)? {
                        captures.push(report);
                    }
                    self.machine.carry_on()?;
                }
                Stop::LongJump { buffer } => {
                    if let Err(error) = self.long_jump(buffer)? {
                        let fault = GuestFault {
                            target: self.machine.target(),
                            message: error.to_string(),
                            backtrace: Vec::new(),
                            status: LongJumpError::STATUS,
                        };
                        return Ok((Outcome::Faulted(fault), captures));
                    }
                }
            }
        }
    }

    /// Resumes the program at the `setjmp` that filled `buffer`. A bad jump is the program's
    /// fault (the inner error); a backend failure is the run's (the outer one).
    fn long_jump(&mut self, buffer: u64) -> Result<Result<(), LongJumpError>, RuntimeError> {
        let frames = self.machine.frames()?;
        let (memory, _) = self.machine.parts();
        match long_jump::frames_after_long_jump(self.image, memory, buffer, frames) {
            Ok(frames) => Ok(Ok(self.machine.resume(frames, false)?)),
            Err(error) => Ok(Err(error)),
        }
    }

    /// For a program that carries on after its capture: plans the capture and has its pages
    /// encoded in the background (copy-on-write) where the backend's memory allows it
    /// (`None`: the report comes later); else captures here and now.
    fn capture_and_carry_on(
        &mut self,
        request: CaptureRequest,
    ) -> Result<Option<CaptureReport>, RuntimeError> {
        let regions = match (&self.lazy, self.machine.host_memory()) {
            // A lazy restore still watches the memory; one watcher at a time.
            (None, Some(regions)) => regions,
            _ => return Ok(Some(self.capture(request)?)),
        };
        let (input, path) = self.capture_input()?;
        let plan = snapshot::plan_capture(self.machine.memory(), input)?;
        match BackgroundCapture::start(plan, self.image, &regions, path, &request) {
            Ok(background) => {
                self.background = Some(background);
                Ok(None)
            }
            // Protection is not available here: capture with the program held.
            Err(_) => Ok(Some(self.capture(request)?)),
        }
    }

    /// What a capture needs besides memory, and where it goes.
    fn capture_input(&mut self) -> Result<(CaptureInput<'a>, PathBuf), RuntimeError> {
        let frames = self.machine.frames()?;
        let policy = self.machine.guest().points.policy();
        let path = policy
            .checkpoint_to
            .clone()
            .ok_or(RuntimeError::NoCheckpointFile)?;
        let compression = policy.compression;
        let parent = policy
            .parent
            .clone()
            .as_deref()
            .map(|path| open_parent(path, &self.own))
            .transpose()?
            .flatten();
        if let Some(parent) = &parent {
            self.own.keep_open(parent);
        }
        let changed = self.changed_since(parent.as_deref())?;
        let personality = self
            .machine
            .guest()
            .personality
            .state()
            .map_err(RuntimeError::Personality)?
            .to_record();
        let input = CaptureInput {
            image: self.image,
            source: self.machine.target(),
            map: *self.machine.memory().map(),
            frames,
            personality,
            parent,
            changed,
            compression,
        };
        Ok((input, path))
    }

    /// Hands the program held at `request`'s migration point over to a post-copy move: writes
    /// its checkpoint without pages, then serves the pages on `socket` from guest memory. If
    /// the move is called off (or the stream breaks) before the destination has every page,
    /// a complete checkpoint replaces the page-less one, for the source to resume. With
    /// `safe`, a complete checkpoint is written there first, so that the program survives
    /// this machine failing before the destination holds every page.
    fn hand_over(
        &mut self,
        request: CaptureRequest,
        socket: &Path,
        safe: Option<&Path>,
    ) -> Result<CaptureReport, RuntimeError> {
        let (input, path) = self.capture_input()?;
        let frames = input.frames.len();
        let state_time = request.reached.elapsed();
        let plan = snapshot::plan_capture(self.machine.memory(), input)?;
        // The complete checkpoint of the held program, written to `to`.
        let write_complete = |to: &Path| {
            let memory = self.machine.memory();
            let started = Instant::now();
            let checkpoint = plan.clone().encode(self.image, &mut |address, out| {
                snapshot::copy_page(memory, address, out)
            })?;
            snapshot::write_checkpoint(checkpoint, frames, to, state_time, started.elapsed())
        };
        if let Some(safe) = safe {
            write_complete(safe)?;
        }
        let _ = std::fs::remove_file(socket);
        let listener = UnixListener::bind(socket).map_err(|source| RuntimeError::HandOver {
            socket: socket.display().to_string(),
            source,
        })?;
        let mut report =
            snapshot::write_checkpoint(plan.skeleton(), frames, &path, state_time, Duration::ZERO)?;
        let served =
            page_stream::serve(&listener, self.machine.memory(), self.image, plan.ranges());
        let _ = std::fs::remove_file(socket);
        if let Served::Done { pages, .. } = served? {
            report.pages = pages;
        } else {
            report = write_complete(&path)?;
        }
        report.point = request.point;
        report.response_latency = request.requested.map(|t| t.elapsed());
        Ok(report)
    }

    /// Writes the checkpoint of the program held at `request`'s migration point.
    fn capture(&mut self, request: CaptureRequest) -> Result<CaptureReport, RuntimeError> {
        let (input, path) = self.capture_input()?;
        let state_time = request.reached.elapsed();
        let mut report =
            snapshot::capture_to_file(self.machine.memory(), input, &path, state_time)?;
        report.point = request.point;
        report.response_latency = request.requested.map(|t| t.elapsed());
        Ok(self.written(report))
    }

    /// Notes that a capture's checkpoint is written (now a possible parent), and adds what
    /// the dirty log gave it to its report.
    fn written(&mut self, mut report: CaptureReport) -> CaptureReport {
        self.own.wrote(report.digest);
        if let Some(mark) = &mut self.last_capture
            && mark.digest.is_none()
        {
            mark.digest = Some(report.digest);
            report.changed_pages = mark.changed_pages;
        }
        report
    }

    /// For a capture against `parent`: the pages written since the parent was captured, when
    /// this run captured it and the machine logs written pages. Every capture (with a parent
    /// configured) becomes the mark the next one is measured from.
    fn changed_since(
        &mut self,
        parent: Option<&CheckpointFile>,
    ) -> Result<Option<ChangedPages>, RuntimeError> {
        let policy = self.machine.guest().points.policy();
        let by = policy.changed_pages;
        if policy.parent.is_none() || by == ChangedPagesBy::Compare {
            return Ok(None);
        }
        let last = self.last_capture.take();
        let written = self.machine.written_pages()?;
        let changed = match (last.and_then(|m| m.digest), written, parent) {
            (Some(digest), Some(ranges), Some(parent)) if parent.digest() == digest => {
                Some(ChangedPages {
                    ranges,
                    check: by == ChangedPagesBy::Check,
                })
            }
            _ => None,
        };
        self.last_capture = Some(CaptureMark {
            digest: None,
            changed_pages: changed
                .as_ref()
                .map(|c| c.ranges.iter().map(|r| r.end - r.start).sum::<u64>() / PAGE_SIZE as u64),
        });
        Ok(changed)
    }
}

/// The parent checkpoint a capture is made against: `None` while the file does not exist
/// (that capture is complete). Its pages are decoded as the capture compares them. Links of
/// its chain this run wrote are not hashed again, and those it keeps open are not opened
/// again (a pre-copy's rounds each capture against the last).
fn open_parent(
    path: &std::path::Path,
    own: &OwnCheckpoints,
) -> Result<Option<Arc<CheckpointFile>>, SnapshotError> {
    if !path.exists() {
        return Ok(None);
    }
    own.open(path, PageCheck::FrameOnly)
        .map(Some)
        .map_err(|source| SnapshotError::Parent {
            path: path.display().to_string(),
            source,
        })
}

/// Writes every page of `source` into guest memory that holds a fresh load of the program.
fn restore_eagerly(
    source: PageSource,
    image: &Image,
    memory: &mut dyn GuestMemory,
) -> Result<(), RuntimeError> {
    let mut remote = match source {
        PageSource::Checkpoint(file) => {
            snapshot::restore_memory(&file, image, memory)?;
            return Ok(());
        }
        PageSource::Remote(remote) => remote,
    };
    let mut write = |address: u64, page: Option<&[u8; PAGE_SIZE]>| {
        let out = memory
            .bytes_mut(address, PAGE_SIZE as u64)
            .map_err(|_| SnapshotError::Write { address })?;
        match page {
            Some(page) => out.copy_from_slice(page),
            None => out.fill(0),
        }
        Ok::<(), SnapshotError>(())
    };
    // Memory is zero except where the image put its data; the stream then gives every page
    // that is not zero.
    for range in remote.ranges().to_vec() {
        for address in (range.start..range.end).step_by(PAGE_SIZE) {
            if image.initial_page(address).is_some() {
                write(address, None)?;
            }
        }
    }
    // Nothing waits on single pages here: large batches, few round trips.
    let mut batch = Vec::new();
    let mut from = Some(0);
    while let Some(start) = from {
        from = remote
            .next_nonzero(start, MAX_BATCH, &mut batch)
            .map_err(|e| RuntimeError::Pages(e.into()))?;
        for (address, page) in batch.drain(..) {
            write(address, Some(&page))?;
        }
    }
    remote.done().map_err(|e| RuntimeError::Pages(e.into()))
}
