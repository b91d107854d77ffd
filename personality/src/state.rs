//! Checkpoint and restore of the personality's state as plain data.
//!
//! Everything needed to rebuild a personality on another machine: open files by guest
//! path, flags and offset; brk and the mmap map; cwd; umask; signal state; and the
//! monotonic clock, which resumes where it stopped.

use std::collections::{BTreeMap, BTreeSet};

use crate::abi::{O_CREAT, O_DIRECTORY, O_EXCL, O_TRUNC};
use crate::errno::Errno;
use crate::fs::dir_stream::DirStream;
use crate::fs::fd_table::{Description, FdTable, Object, Stdio};
use crate::fs::open::open_object;
use crate::fs::path;
use crate::mm::MemoryManager;
use crate::personality::{Config, Personality, PersonalityError, Signals};
use crate::time::Clock;

/// What an open file description refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenTarget {
    Stdio(Stdio),
    /// A regular (or other non-directory) file, by normalized guest path.
    File {
        path: Vec<u8>,
    },
    Directory {
        path: Vec<u8>,
    },
}

/// One open file description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescriptionState {
    pub target: OpenTarget,
    /// Guest open flags (access mode and status flags, as `F_GETFL` reports them).
    pub flags: u32,
    /// File offset; for a directory, the getdents64 position (a `d_off` cookie).
    pub offset: u64,
}

/// One guest fd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdState {
    pub fd: i32,
    /// Index into [`PersonalityState::descriptions`] (dup'ed fds share one).
    pub description: usize,
    pub cloexec: bool,
}

/// A signal whose action the guest set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalActionState {
    pub signal: u32,
    pub handler: u64,
    pub flags: u64,
}

/// Everything a personality holds, as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonalityState {
    /// Normalized absolute guest path.
    pub cwd: Vec<u8>,
    pub umask: u32,
    pub brk: u64,
    /// Mapped mmap regions as (start, end), page-aligned, lowest first.
    pub mmap_regions: Vec<(u64, u64)>,
    pub descriptions: Vec<DescriptionState>,
    pub fds: Vec<FdState>,
    /// Guest CLOCK_MONOTONIC at the time of the checkpoint, in nanoseconds.
    pub monotonic_ns: u64,
    pub signal_mask: u64,
    pub signal_actions: Vec<SignalActionState>,
    /// System calls already warned about (so a restored program does not warn again).
    pub warned_syscalls: Vec<u64>,
}

fn lossy(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

impl Personality {
    /// Capture the state. Guest memory is not part of it: the executor saves that.
    pub fn state(&self) -> Result<PersonalityState, PersonalityError> {
        let mut index_of = BTreeMap::new();
        let mut descriptions = Vec::new();
        for (index, description) in self.fds.descriptions() {
            let (target, offset) =
                match &description.object {
                    Object::Stdio(stream) => (OpenTarget::Stdio(*stream), 0),
                    Object::File { path, file } => {
                        let offset = rustix::fs::seek(file, rustix::fs::SeekFrom::Current(0))
                            .map_err(|e| PersonalityError::Offset {
                                path: lossy(path),
                                errno: e.into(),
                            })?;
                        (OpenTarget::File { path: path.clone() }, offset)
                    }
                    Object::Dir { path, stream, .. } => {
                        (OpenTarget::Directory { path: path.clone() }, stream.pos)
                    }
                };
            index_of.insert(index, descriptions.len());
            descriptions.push(DescriptionState {
                target,
                flags: description.flags,
                offset,
            });
        }
        let fds = self
            .fds
            .fds()
            .map(|(fd, index, cloexec)| FdState {
                fd,
                description: index_of[&index],
                cloexec,
            })
            .collect();
        Ok(PersonalityState {
            cwd: self.cwd.clone(),
            umask: self.umask,
            brk: self.mm.brk(),
            mmap_regions: self.mm.regions(),
            descriptions,
            fds,
            monotonic_ns: self.clock.monotonic_ns(),
            signal_mask: self.signals.mask,
            signal_actions: self
                .signals
                .actions
                .iter()
                .map(|(&signal, &(handler, flags))| SignalActionState {
                    signal,
                    handler,
                    flags,
                })
                .collect(),
            warned_syscalls: self.warned.iter().copied().collect(),
        })
    }

    /// Rebuild a personality from `state` with the mounts and memory map of `config`
    /// (which may name different host folders than before). Files are reopened by guest
    /// path and put back at their offsets.
    pub fn restore(state: &PersonalityState, config: Config) -> Result<Self, PersonalityError> {
        let bad = |what: &str| PersonalityError::BadState(what.to_string());
        let mut personality = Personality::new(config)?;
        let normalized = path::resolve(b"/", &state.cwd).path;
        if normalized != state.cwd {
            return Err(bad("cwd is not a normalized absolute path"));
        }
        personality.cwd = normalized;
        personality.umask = state.umask & 0o777;
        personality.mm = MemoryManager::restore(personality.map, state.brk, &state.mmap_regions)
            .map_err(|_| bad("brk or mmap regions do not fit the memory map"))?;
        personality.clock = Clock::resumed_at(state.monotonic_ns);
        personality.signals = Signals {
            mask: state.signal_mask,
            actions: state
                .signal_actions
                .iter()
                .map(|a| (a.signal, (a.handler, a.flags)))
                .collect(),
        };
        personality.warned = state
            .warned_syscalls
            .iter()
            .copied()
            .collect::<BTreeSet<_>>();

        let mut fds = FdTable::default();
        let mut indices = Vec::with_capacity(state.descriptions.len());
        for description in &state.descriptions {
            let object = personality.reopen(description)?;
            indices.push(fds.add_description(Description {
                flags: description.flags,
                object,
            }));
        }
        for fd in &state.fds {
            let index = *indices
                .get(fd.description)
                .ok_or_else(|| bad("fd names a missing description"))?;
            fds.install(fd.fd, index, fd.cloexec)
                .map_err(|_| bad("fd number invalid or used twice"))?;
        }
        fds.drop_unreferenced();
        personality.fds = fds;
        Ok(personality)
    }

    fn reopen(&self, description: &DescriptionState) -> Result<Object, PersonalityError> {
        let (path, want_dir) = match &description.target {
            OpenTarget::Stdio(stream) => return Ok(Object::Stdio(*stream)),
            OpenTarget::File { path } => (path, false),
            OpenTarget::Directory { path } => (path, true),
        };
        let failed = |errno: Errno| PersonalityError::Reopen {
            path: lossy(path),
            errno,
        };
        let guest = path::resolve(b"/", path);
        let at = self.sandbox.locate(&guest).map_err(failed)?;
        // Reopen what is there now; never create or truncate it again.
        let flags = description.flags & !(O_CREAT | O_EXCL | O_TRUNC | O_DIRECTORY);
        let object = open_object(&at, guest.path, flags, 0, want_dir).map_err(failed)?;
        match object {
            Object::File { path, file } if !want_dir => {
                let offset = rustix::fs::SeekFrom::Start(description.offset);
                rustix::fs::seek(&file, offset).map_err(|e| failed(e.into()))?;
                Ok(Object::File { path, file })
            }
            Object::Dir { path, dir, .. } if want_dir => Ok(Object::Dir {
                path,
                dir,
                stream: DirStream::at(description.offset),
            }),
            _ => Err(failed(if want_dir {
                Errno::ENOTDIR
            } else {
                Errno::EISDIR
            })),
        }
    }
}
