//! The executor runtime: everything about running a guest that does not depend on how its
//! instructions are executed.
//!
//! Every backend (KVM, CPU emulation and Linux processes for native code, Wasmtime for
//! wasm64) implements [`Machine`]: load a program into guest memory, run it until it exits,
//! faults or stops at a migration point the runtime wants to capture at, hand back its neutral
//! frames, and resume from neutral frames. This crate does the rest once for all of them:
//!
//! - [`setup`]: image checks, the memory map, the personality, the start-up block, and the
//!   checks and memory of a restore;
//! - [`migration_point`]: what happens when a program reaches a migration point (the capture
//!   policy, the countdown, asynchronous requests);
//! - [`cow_capture`]: a capture whose pages are written while the program runs on;
//! - [`lazy_restore`]: a restore that fills guest pages on first touch;
//! - [`mapped_pages`]: a restore that maps raw pages from the checkpoint file;
//! - [`long_jump`]: what a `longjmp` does (cut the frames down to the `setjmp`'s);
//! - [`session`]: the run loop, captures to checkpoint files, and the run's summary.

pub mod cow_capture;
pub mod lazy_restore;
pub mod long_jump;
pub mod machine;
pub mod mapped_pages;
pub mod migration_point;
pub mod page_source;
pub mod page_stream;
pub mod session;
pub mod setup;
pub mod userfault;

pub use machine::{GuestFault, GuestState, HostRegion, Machine, MachineError, Stop};
pub use migration_point::{CaptureRequest, PointControl, PointDecision};
pub use session::{Outcome, RestoreMemory, RestoredMemory, RunSummary, RuntimeError, Session};
pub use setup::{GuestSetup, RestorePlan, SetupError};
pub use xisa_converters::control::{
    AfterCapture, CaptureReport, ChangedPagesBy, MigrationPolicy, PointCounter, Trigger,
};
