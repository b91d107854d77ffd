//! The interface every backend implements: a guest program loaded into guest memory that can
//! run, stop at a migration point, hand back its neutral frames and resume from them.

use std::fmt;
use std::ops::Range;

use xisa_converters::NeutralFrame;
use xisa_format::memory_map::GUEST_PAGE_SIZE;
use xisa_format::target::Target;
use xisa_personality::{GuestMemory, Personality};

use crate::migration_point::{CaptureRequest, PointControl};

/// The per-guest state every backend carries the same way: the Linux personality serving its
/// system calls and the migration-point control.
pub struct GuestState {
    pub personality: Personality,
    pub points: PointControl,
}

/// Why [`Machine::run`] returned.
#[derive(Debug)]
pub enum Stop {
    /// The program exited with this status.
    Exited(i32),
    /// The program stopped abnormally.
    Faulted(GuestFault),
    /// The program is held at a migration point where the runtime wants a capture; it carries
    /// on only after [`Machine::carry_on`].
    Capture(CaptureRequest),
    /// The program called `longjmp` with the jump buffer at this address; [`Machine::frames`]
    /// gives its frames, and it goes on only from the frames given to [`Machine::resume`].
    LongJump { buffer: u64 },
}

/// A guest that stopped abnormally, described for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestFault {
    pub target: Target,
    /// One line naming the fault, where it happened and in which function.
    pub message: String,
    /// Guest call stack, innermost first, when the backend knows it.
    pub backtrace: Vec<String>,
    /// Exit status of a Linux process killed by the matching signal (128 + signal).
    pub status: i32,
}

impl fmt::Display for GuestFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A contiguous part of guest memory as this process maps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostRegion {
    /// First guest address.
    pub guest: u64,
    /// Length in bytes (a multiple of the host page size).
    pub size: u64,
    /// Where `guest` is mapped in this process.
    pub host: *mut u8,
}

impl HostRegion {
    /// The host address of guest address `address`, if this region holds it.
    pub fn host_address(&self, address: u64) -> Option<*mut u8> {
        let offset = address.checked_sub(self.guest)?;
        // SAFETY: the offset is inside the region, so the pointer stays inside its mapping.
        (offset < self.size).then(|| unsafe { self.host.add(offset as usize) })
    }
}

/// Where the guest range `range` starts in this process's memory, if one of `regions` holds
/// all of it and the start is page-aligned there (so that it can be remapped or watched).
pub fn host_range(regions: &[HostRegion], range: &Range<u64>) -> Option<*mut u8> {
    regions
        .iter()
        .find(|r| range.start >= r.guest && range.end <= r.guest + r.size)
        .and_then(|r| r.host_address(range.start))
        .filter(|host| (*host as u64).is_multiple_of(GUEST_PAGE_SIZE))
}

/// A backend failure (not the guest's): the run cannot go on.
#[derive(Debug, thiserror::Error)]
#[error("{backend}: {message}")]
pub struct MachineError {
    pub backend: &'static str,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl MachineError {
    pub fn new(backend: &'static str, message: impl Into<String>) -> Self {
        MachineError {
            backend,
            message: message.into(),
            source: None,
        }
    }

    pub fn caused_by(
        backend: &'static str,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        MachineError {
            backend,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// One guest program in one backend. Created with its program loaded and its personality in
/// place; the runtime then either writes the start-up block and runs it from the start, or
/// restores memory and calls [`Machine::resume`] before the first [`Machine::run`].
pub trait Machine {
    /// The ISA of the program this machine runs.
    fn target(&self) -> Target;

    /// Short name of the backend, e.g. `kvm`.
    fn backend(&self) -> &'static str;

    /// Guest memory and the guest state, borrowed together.
    fn parts(&mut self) -> (&mut dyn GuestMemory, &mut GuestState);

    /// Guest memory, read-only.
    fn memory(&self) -> &dyn GuestMemory;

    /// The guest state, read-only.
    fn guest(&self) -> &GuestState;

    /// Guest memory as private memory of this process, region by region, so that pages can
    /// be mapped from a file, filled on first touch or write-protected directly. `None` when
    /// another process maps guest memory too (process mode): then pages are only copied.
    fn host_memory(&self) -> Option<Vec<HostRegion>>;

    /// Runs the program until it exits, faults, or reaches a migration point at which
    /// [`PointControl::at_point`] asks for a capture. System calls are served on the way.
    fn run(&mut self) -> Result<Stop, MachineError>;

    /// The neutral frames of a program held at a capture ([`Stop::Capture`]) or a `longjmp`
    /// ([`Stop::LongJump`]), innermost first.
    fn frames(&mut self) -> Result<Vec<NeutralFrame>, MachineError>;

    /// Lets a program held at a capture go on from its migration point.
    fn carry_on(&mut self) -> Result<(), MachineError>;

    /// Makes the next [`Machine::run`] resume `frames` (innermost first) instead of starting
    /// the program or, after a [`Stop::LongJump`], instead of going on. With `poison`, everything native that is not part of a neutral frame
    /// (registers, native stack bytes) is overwritten first: a self-test of the migration
    /// contract.
    fn resume(&mut self, frames: Vec<NeutralFrame>, poison: bool) -> Result<(), MachineError>;

    /// Tracks the guest pages written, by the program and by the monitor for it (a
    /// hypervisor's dirty log), so that an incremental capture need not compare every page.
    /// The first call starts tracking and gives `None`, as a machine that cannot track always
    /// does; later calls give the pages written since the call before (ascending,
    /// page-aligned). Called with the program held.
    fn written_pages(&mut self) -> Result<Option<Vec<std::ops::Range<u64>>>, MachineError> {
        Ok(None)
    }
}
