//! Conversion between the personality's state and its record in a checkpoint file.

use xisa_format::checkpoint::{
    DescriptionKind, DescriptionRecord, MmapRecord, OpenFileRecord, PersonalityRecord,
    SignalActionRecord,
};

use crate::fs::fd_table::Stdio;
use crate::state::{DescriptionState, FdState, OpenTarget, PersonalityState, SignalActionState};

impl PersonalityState {
    pub fn to_record(&self) -> PersonalityRecord {
        PersonalityRecord {
            cwd: self.cwd.clone(),
            umask: self.umask,
            brk: self.brk,
            mmap_regions: self
                .mmap_regions
                .iter()
                .map(|&(start, end)| MmapRecord { start, end })
                .collect(),
            descriptions: self
                .descriptions
                .iter()
                .map(|d| {
                    let (kind, path) = match &d.target {
                        OpenTarget::Stdio(Stdio::Stdin) => (DescriptionKind::Stdin, Vec::new()),
                        OpenTarget::Stdio(Stdio::Stdout) => (DescriptionKind::Stdout, Vec::new()),
                        OpenTarget::Stdio(Stdio::Stderr) => (DescriptionKind::Stderr, Vec::new()),
                        OpenTarget::File { path } => (DescriptionKind::File, path.clone()),
                        OpenTarget::Directory { path } => {
                            (DescriptionKind::Directory, path.clone())
                        }
                    };
                    DescriptionRecord {
                        kind: kind as u8,
                        path,
                        flags: d.flags,
                        offset: d.offset,
                    }
                })
                .collect(),
            files: self
                .fds
                .iter()
                .map(|f| OpenFileRecord {
                    fd: f.fd,
                    description: f.description as u32,
                    cloexec: f.cloexec,
                })
                .collect(),
            monotonic_ns: self.monotonic_ns,
            signal_mask: self.signal_mask,
            signal_actions: self
                .signal_actions
                .iter()
                .map(|a| SignalActionRecord {
                    signal: a.signal,
                    handler: a.handler,
                    flags: a.flags,
                })
                .collect(),
            warned_syscalls: self.warned_syscalls.clone(),
        }
    }

    /// The state a (validated) checkpoint record describes.
    pub fn from_record(record: &PersonalityRecord) -> Result<PersonalityState, String> {
        let descriptions = record
            .descriptions
            .iter()
            .map(|d| {
                let target = match DescriptionKind::from_u8(d.kind) {
                    Some(DescriptionKind::Stdin) => OpenTarget::Stdio(Stdio::Stdin),
                    Some(DescriptionKind::Stdout) => OpenTarget::Stdio(Stdio::Stdout),
                    Some(DescriptionKind::Stderr) => OpenTarget::Stdio(Stdio::Stderr),
                    Some(DescriptionKind::File) => OpenTarget::File {
                        path: d.path.clone(),
                    },
                    Some(DescriptionKind::Directory) => OpenTarget::Directory {
                        path: d.path.clone(),
                    },
                    None => return Err(format!("unknown description kind {}", d.kind)),
                };
                Ok(DescriptionState {
                    target,
                    flags: d.flags,
                    offset: d.offset,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(PersonalityState {
            cwd: record.cwd.clone(),
            umask: record.umask,
            brk: record.brk,
            mmap_regions: record
                .mmap_regions
                .iter()
                .map(|m| (m.start, m.end))
                .collect(),
            descriptions,
            fds: record
                .files
                .iter()
                .map(|f| FdState {
                    fd: f.fd,
                    description: f.description as usize,
                    cloexec: f.cloexec,
                })
                .collect(),
            monotonic_ns: record.monotonic_ns,
            signal_mask: record.signal_mask,
            signal_actions: record
                .signal_actions
                .iter()
                .map(|a| SignalActionState {
                    signal: a.signal,
                    handler: a.handler,
                    flags: a.flags,
                })
                .collect(),
            warned_syscalls: record.warned_syscalls.clone(),
        })
    }
}
