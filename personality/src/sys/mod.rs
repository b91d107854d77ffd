//! System call handlers, grouped by family. Each returns the raw success value or an errno;
//! `dispatch` turns that into the guest's return register.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use crate::errno::Errno;
use crate::fs::fd_table::Stdio;

pub(crate) mod attrs;
pub(crate) mod clock;
pub(crate) mod dir_ops;
pub(crate) mod fd_ops;
pub(crate) mod mm;
pub(crate) mod open_stat;
pub(crate) mod process;
pub(crate) mod resolve;
pub(crate) mod rw;

pub(crate) type SysResult = Result<u64, Errno>;

/// EINVAL if `flags` sets a bit outside `known`, as Linux answers flags it does not know.
pub(crate) fn check_flags(flags: u64, known: u64) -> Result<(), Errno> {
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// Run a host I/O call, retrying when a host signal interrupts it (the guest never sees
/// the host's signals).
pub(crate) fn retry<T>(mut op: impl FnMut() -> io::Result<T>) -> Result<T, Errno> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other.map_err(Errno::from),
        }
    }
}

/// Call `f` with the host fd behind one of the standard streams. Going to the raw fd
/// (not std's buffered handles) makes guest writes reach the host as they are made.
pub(crate) fn with_stdio<R>(stream: Stdio, f: impl FnOnce(BorrowedFd<'_>) -> R) -> R {
    match stream {
        Stdio::Stdin => f(io::stdin().as_fd()),
        Stdio::Stdout => f(io::stdout().as_fd()),
        Stdio::Stderr => f(io::stderr().as_fd()),
    }
}
