//! The personality object: configuration, per-program state, and its construction.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::PathBuf;

use xisa_format::memory_map::MemoryMap;

use crate::abi::{O_LARGEFILE, O_RDONLY, O_WRONLY};
use crate::errno::Errno;
use crate::fs::fd_table::{FdTable, Stdio};
use crate::fs::sandbox::Sandbox;
use crate::mm::MemoryManager;
use crate::time::Clock;

/// A host folder made visible to the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Host directory; only what lies beneath it is reachable.
    pub host: PathBuf,
    /// Absolute guest path it appears at, e.g. `/` or `/data`.
    pub guest: String,
}

/// What a personality is built from. Guest fds 0, 1 and 2 are the host's stdin, stdout
/// and stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub mounts: Vec<Mount>,
    pub map: MemoryMap,
}

/// What the executor does after a system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Resume the guest with this value in the return register (`-errno` on error).
    Return(i64),
    /// The program ended with this exit status (0..=255; 128 + n for a fatal signal n).
    Exit(i32),
}

/// Where one-time warnings (e.g. about unsupported system calls) go.
pub type WarningSink = Box<dyn FnMut(&str) + Send>;

#[derive(Debug, thiserror::Error)]
pub enum PersonalityError {
    #[error("mount point {guest:?} must be an absolute, normalized guest path")]
    BadMountPoint { guest: String },
    #[error("guest path {guest:?} is mounted more than once")]
    DuplicateMount { guest: String },
    #[error("cannot open host folder {} (to mount at {guest}): {source}", host.display())]
    OpenMount {
        host: PathBuf,
        guest: String,
        #[source]
        source: io::Error,
    },
    #[error("memory map is inconsistent: brk base {brk_base:#x} is above mem_top {mem_top:#x}")]
    BadMemoryMap { brk_base: u64, mem_top: u64 },
    #[error("checkpointed personality state is invalid: {0}")]
    BadState(String),
    #[error("cannot reopen {path} on restore: {errno}")]
    Reopen { path: String, errno: Errno },
    #[error("cannot start in {dir:?}: {errno} (it must be an absolute guest path naming a folder)")]
    StartDir { dir: String, errno: Errno },
    #[error("cannot read the offset of open file {path}: {errno}")]
    Offset { path: String, errno: Errno },
}

/// Signal dispositions and mask. Nothing is ever delivered asynchronously; this only lets
/// `rt_sigaction`/`rt_sigprocmask` answer consistently and decides what a self-sent
/// signal does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Signals {
    pub mask: u64,
    /// signal -> (handler, flags) for signals whose action the guest set.
    pub actions: BTreeMap<u32, (u64, u64)>,
}

/// Serves one guest program's system calls. See the crate docs.
pub struct Personality {
    pub(crate) map: MemoryMap,
    pub(crate) sandbox: Sandbox,
    pub(crate) fds: FdTable,
    pub(crate) mm: MemoryManager,
    /// Normalized absolute guest path.
    pub(crate) cwd: Vec<u8>,
    pub(crate) umask: u32,
    pub(crate) clock: Clock,
    pub(crate) signals: Signals,
    /// System call numbers already warned about.
    pub(crate) warned: BTreeSet<u64>,
    pub(crate) warn: WarningSink,
}

/// Guest open flags reported for the inherited standard streams.
pub(crate) fn stdio_flags(stream: Stdio) -> u32 {
    O_LARGEFILE
        | match stream {
            Stdio::Stdin => O_RDONLY,
            Stdio::Stdout | Stdio::Stderr => O_WRONLY,
        }
}

impl Personality {
    /// Open the mount roots and set up a fresh process: stdio at fds 0-2, cwd `/`, umask
    /// 022, empty heap.
    pub fn new(config: Config) -> Result<Self, PersonalityError> {
        let (brk_base, mem_top) = (config.map.brk_base(), config.map.mem_top);
        if brk_base > mem_top {
            return Err(PersonalityError::BadMemoryMap { brk_base, mem_top });
        }
        Ok(Personality {
            map: config.map,
            sandbox: Sandbox::open(&config.mounts)?,
            fds: FdTable::with_stdio(stdio_flags),
            mm: MemoryManager::new(config.map),
            cwd: b"/".to_vec(),
            umask: 0o022,
            clock: Clock::new(),
            signals: Signals::default(),
            warned: BTreeSet::new(),
            warn: Box::new(|message| eprintln!("{message}")),
        })
    }

    /// Send warnings somewhere other than the host's stderr (e.g. a test buffer or a log).
    pub fn set_warning_sink(&mut self, sink: WarningSink) {
        self.warn = sink;
    }

    /// The memory map this personality places brk and mmap regions in.
    pub fn memory_map(&self) -> &MemoryMap {
        &self.map
    }

    /// The current program break.
    pub fn brk(&self) -> u64 {
        self.mm.brk()
    }
}
