//! Migration on a native target: what the monitor does when a migration point calls out
//! (capture the program into a checkpoint, or carry on), and how a checkpoint's neutral frames
//! become native frames again on restore.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use xisa_converters::control::{
    AfterCapture, CaptureReport, MigrationPolicy, PointCounter, SharedCounter,
};
use xisa_converters::snapshot::{self, COUNTDOWN, COUNTDOWN_IDLE, CaptureInput, SnapshotError};
use xisa_converters::{
    CallSiteTable, ConvertError, NativeResume, NativeState, native_to_neutral, neutral_to_native,
    rules_for,
};
use xisa_format::image::Image;
use xisa_format::memory_map::native;
use xisa_format::target::Target;
use xisa_personality::{GuestMemory, Personality, PersonalityError};

use crate::memory::GuestRam;
use crate::vcpu::{BackendError, Vcpu};

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("the image has no {0} call-site table")]
    NoTable(Target),
    #[error("cannot convert the {0} frames")]
    Convert(Target, #[source] ConvertError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("cannot read the personality's state")]
    Personality(#[source] PersonalityError),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// What the monitor does after a migration point.
#[derive(Debug, PartialEq, Eq)]
pub enum PointAction {
    Continue,
    /// A checkpoint was written and the policy says stop.
    Stop,
}

/// The migration side of one native run.
pub struct Migration<'a> {
    image: &'a Image,
    target: Target,
    policy: MigrationPolicy,
    countdown: u64,
    counter: SharedCounter,
    /// `checkpoint_at` is used once.
    at_pending: bool,
    table: Option<CallSiteTable>,
    watcher: Option<std::thread::JoinHandle<()>>,
    pub captures: Vec<CaptureReport>,
}

impl<'a> Migration<'a> {
    pub fn new(
        image: &'a Image,
        target: Target,
        policy: MigrationPolicy,
    ) -> Result<Self, MigrationError> {
        let countdown = image
            .manifest()
            .symbol_address(COUNTDOWN)
            .ok_or(SnapshotError::Symbol(COUNTDOWN))?;
        Ok(Migration {
            image,
            target,
            at_pending: policy.checkpoint_at.is_some(),
            policy,
            countdown,
            counter: PointCounter::shared(),
            table: None,
            watcher: None,
            captures: Vec::new(),
        })
    }

    fn read_countdown(&self, ram: &GuestRam) -> Result<i64, MigrationError> {
        Ok(ram
            .read_u64(self.countdown)
            .map_err(|_| SnapshotError::Read {
                address: self.countdown,
                length: 8,
            })? as i64)
    }

    fn set_countdown(&mut self, ram: &mut GuestRam, value: i64) -> Result<(), MigrationError> {
        let current = self.read_countdown(ram)?;
        self.points().reset(current, value);
        ram.write(self.countdown, &value.to_le_bytes())
            .map_err(|_| SnapshotError::Write {
                address: self.countdown,
            })?;
        Ok(())
    }

    fn points(&self) -> std::sync::MutexGuard<'_, PointCounter> {
        self.counter.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms the countdown before the guest (re)starts.
    pub fn start(&mut self, ram: &mut GuestRam) -> Result<(), MigrationError> {
        // The counter starts from the idle value whatever memory says (a restored program's
        // countdown is whatever it was at its capture).
        *self.points() = PointCounter::default();
        let first = self.policy.countdown_after(0, self.at_pending);
        ram.write(self.countdown, &COUNTDOWN_IDLE.to_le_bytes())
            .map_err(|_| SnapshotError::Write {
                address: self.countdown,
            })?;
        self.set_countdown(ram, first)?;
        if let (Some(trigger), Some(_)) = (&self.policy.trigger, &self.policy.checkpoint_to) {
            let pointer = ram
                .bytes_mut(self.countdown, 8)
                .map_err(|_| SnapshotError::Write {
                    address: self.countdown,
                })?
                .as_mut_ptr()
                .cast::<i64>();
            // SAFETY: the countdown is an 8-aligned neutral global inside `ram`'s mappings,
            // which live until `finish` has closed the trigger and joined the thread (the
            // monitor calls `finish` before dropping the RAM).
            self.watcher =
                Some(unsafe { Arc::clone(trigger).arm(pointer, Arc::clone(&self.counter)) });
        }
        Ok(())
    }

    /// Migration points passed so far.
    pub fn points_passed(&self, ram: &GuestRam) -> u64 {
        self.read_countdown(ram)
            .map(|c| self.points().passed(c))
            .unwrap_or(0)
    }

    /// Stops the asynchronous-request thread.
    pub fn finish(&mut self) {
        if let Some(trigger) = &self.policy.trigger {
            trigger.close();
        }
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
    }

    /// Handles the migrate hypercall.
    pub fn on_point(
        &mut self,
        vcpu: &mut dyn Vcpu,
        ram: &mut GuestRam,
        personality: &Personality,
    ) -> Result<PointAction, MigrationError> {
        let countdown = self.read_countdown(ram)?;
        let point = self.points().passed(countdown);
        let requested = self.policy.trigger.as_ref().and_then(|t| t.take());
        let at = self.at_pending && self.policy.checkpoint_at == Some(point);
        if at {
            self.at_pending = false;
        }
        if let Some(path) = self.policy.checkpoint_to.clone()
            && (at || requested.is_some())
        {
            let mut report = self.capture(vcpu, ram, personality, &path)?;
            report.point = point;
            report.response_latency = requested.map(|t| t.elapsed());
            self.captures.push(report);
            if self.policy.then == AfterCapture::Exit {
                return Ok(PointAction::Stop);
            }
        }
        let next = self.policy.countdown_after(point, self.at_pending);
        self.set_countdown(ram, next)?;
        vcpu.complete_hypercall(0)?;
        Ok(PointAction::Continue)
    }

    fn table(&mut self) -> Result<&CallSiteTable, MigrationError> {
        if self.table.is_none() {
            let program = self
                .image
                .manifest()
                .program(self.target)
                .ok_or(MigrationError::NoTable(self.target))?;
            let table = CallSiteTable::from_program(program)
                .map_err(|e| MigrationError::Convert(self.target, e))?;
            self.table = Some(table);
        }
        Ok(self.table.as_ref().expect("just built"))
    }

    fn capture(
        &mut self,
        vcpu: &mut dyn Vcpu,
        ram: &GuestRam,
        personality: &Personality,
        path: &Path,
    ) -> Result<CaptureReport, MigrationError> {
        let started = Instant::now();
        let target = self.target;
        let state = vcpu.migration_state()?;
        let frames = native_frames(self.image, target, self.table()?, state, ram)?;
        let personality = personality
            .state()
            .map_err(MigrationError::Personality)?
            .to_record();
        let state_time = started.elapsed();
        let input = CaptureInput {
            image: self.image,
            source: target,
            map: *ram.map(),
            frames,
            personality,
        };
        Ok(snapshot::capture_to_file(ram, input, path, state_time)?)
    }
}

/// Walks the native stack of a program stopped in `__xisa_migrate`.
pub fn native_frames(
    image: &Image,
    target: Target,
    table: &CallSiteTable,
    state: NativeState,
    ram: &GuestRam,
) -> Result<Vec<xisa_converters::NeutralFrame>, MigrationError> {
    let manifest = image.manifest();
    let program = manifest
        .program(target)
        .ok_or(MigrationError::NoTable(target))?;
    let rules = rules_for(target).ok_or(MigrationError::NoTable(target))?;
    let read = |address: u64, buffer: &mut [u8]| match ram.bytes(address, buffer.len() as u64) {
        Ok(bytes) => {
            buffer.copy_from_slice(bytes);
            true
        }
        Err(_) => false,
    };
    native_to_neutral(
        rules,
        table,
        state,
        program.entry_return.to_native(),
        &|id| manifest.record_size(id),
        &read,
    )
    .map_err(|e| MigrationError::Convert(target, e))
}

/// Lays the checkpoint's frames out on the native stack; with `poison`, every other byte of
/// the native stack is overwritten with the poison pattern first.
pub fn place_frames(
    image: &Image,
    target: Target,
    frames: &[xisa_converters::NeutralFrame],
    ram: &mut GuestRam,
    poison: bool,
) -> Result<NativeResume, MigrationError> {
    let manifest = image.manifest();
    let program = manifest
        .program(target)
        .ok_or(MigrationError::NoTable(target))?;
    let table =
        CallSiteTable::from_program(program).map_err(|e| MigrationError::Convert(target, e))?;
    let rules = rules_for(target).ok_or(MigrationError::NoTable(target))?;
    let resume = neutral_to_native(
        rules,
        &table,
        frames,
        native::STACK.end,
        native::STACK.start,
        program.entry_return.to_native(),
        &|id| manifest.record_size(id),
    )
    .map_err(|e| MigrationError::Convert(target, e))?;
    let stack_fault = |address| SnapshotError::Write { address };
    if poison {
        let length = native::STACK.end - native::STACK.start;
        ram.bytes_mut(native::STACK.start, length)
            .map_err(|_| stack_fault(native::STACK.start))?
            .fill(0x5a);
    }
    for (address, bytes) in &resume.writes {
        ram.write(*address, bytes)
            .map_err(|_| stack_fault(*address))?;
    }
    Ok(resume)
}
