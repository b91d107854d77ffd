//! The Linux personality of xisa: serves a guest program's system calls for every executor.
//!
//! Guests are static musl programs that make system calls with the generic Linux
//! (asm-generic, riscv64/aarch64) numbering and LP64 layouts. An executor traps each call
//! and hands it to [`Personality::syscall`] together with a [`GuestMemory`] view of the
//! guest's address space; the answer is an [`Outcome`]. Because every executor goes through
//! this crate, a program behaves the same on all of them.
//!
//! - Files live in a sandbox of mounted host folders ([`Mount`]); nothing outside can be
//!   reached, through `..` or symlinks.
//! - brk and mmap placement is a pure function of the guest's requests inside the neutral
//!   [`MemoryMap`](xisa_format::memory_map::MemoryMap).
//! - All state is plain data ([`PersonalityState`]) that can be checkpointed and restored
//!   on another machine.
//! - Guest-controlled values never make this crate panic: bad pointers give `EFAULT`, bad
//!   values `EINVAL`, unknown calls `ENOSYS` (with a one-time warning).

pub mod abi;
mod dispatch;
mod errno;
mod fs;
mod guest_io;
mod memory;
mod mm;
mod personality;
mod record;
mod startup;
mod state;
mod sys;
pub mod syscall_names;
mod time;

pub use errno::Errno;
pub use fs::fd_table::{MAX_FDS, Stdio};
pub use guest_io::{FromGuest, GuestLayout, GuestMemoryExt, PATH_MAX, ToGuest};
pub use memory::{FlatMemory, GuestMemory};
pub use personality::{Config, Mount, Outcome, Personality, PersonalityError, WarningSink};
pub use startup::build_startup_block;
pub use state::{DescriptionState, FdState, OpenTarget, PersonalityState, SignalActionState};
pub use syscall_names::syscall_name;

#[cfg(test)]
mod tests;
