//! The ISA-neutral checkpoint: a stopped program's threads as neutral frames, its neutral
//! memory page by page and its OS-personality state, in a file any target can resume from.
//! Byte-level description in spec.md, "Checkpoint file".
//!
//! Writing: build a [`Checkpoint`] (pages through [`PageEncoder`]) and call [`write`]. The
//! writer does not validate, so a capturer's bug shows up when the file is read back.
//!
//! Reading: [`CheckpointFile::open`] / [`CheckpointFile::from_bytes`] check the header, the
//! digest, the archive's structure and every semantic rule before handing out anything; the
//! accessors then read the validated bytes in place.

mod codec;
mod error;
mod model;
mod read;
mod summary;
mod validate;
mod write;

#[cfg(test)]
mod tests;

pub use codec::{PageCompression, PageDecoder, PageEncoder, PageView, encode_page};
pub use error::CheckpointError;
pub use model::{
    ArchivedCheckpoint, ArchivedDescriptionRecord, ArchivedFrameRecord, ArchivedMapRecord,
    ArchivedMmapRecord, ArchivedNeutralRegisters, ArchivedOpenFileRecord, ArchivedPageRecord,
    ArchivedPersonalityRecord, ArchivedRegionRecord, ArchivedSignalActionRecord,
    ArchivedThreadRecord, Checkpoint, DescriptionKind, DescriptionRecord, FrameRecord, MapRecord,
    MmapRecord, NeutralRegisters, OpenFileRecord, PageEncoding, PageRecord, PersonalityRecord,
    RegionRecord, SignalActionRecord, ThreadRecord,
};
pub use read::{CheckpointFile, OwnCheckpoints, Page};
pub use summary::{CheckpointSummary, PageStats, RegionStats};
pub use validate::PageCheck;
pub use write::write;

use crate::memory_map::GUEST_PAGE_SIZE;

/// First 8 bytes of every checkpoint file.
pub const MAGIC: &[u8; 8] = b"XISACKPT";
/// The checkpoint format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 4;
/// Size of the fixed header; the archive follows it directly (then the page store, on the
/// next page boundary).
pub const HEADER_SIZE: usize = 64;
/// Where the header keeps the archive's digest, the file's identity.
pub const HEADER_DIGEST: std::ops::Range<usize> = 32..64;

/// The header digest of a checkpoint file's bytes (`None` if they are shorter than a header).
pub fn header_digest(file: &[u8]) -> Option<[u8; 32]> {
    file.get(HEADER_DIGEST)?.try_into().ok()
}
/// Size of one memory page in a checkpoint (the guest page size).
pub const PAGE_SIZE: usize = GUEST_PAGE_SIZE as usize;
/// Longest chain of parents a reader follows (a checkpoint and its ancestors).
pub const MAX_CHAIN: usize = 64;
/// Largest frame record accepted: far above any real function's live state, small enough
/// that a hostile file cannot make a converter lay out an absurd native frame.
pub const MAX_RECORD_SIZE: usize = 64 * 1024;
/// Longest guest path accepted (Linux `PATH_MAX`).
pub const MAX_PATH_LEN: usize = 4096;
/// Guest fds are `0..MAX_FDS` (the personality's descriptor table size).
pub const MAX_FDS: i32 = 1024;
/// Signals are numbered `1..=MAX_SIGNAL`.
pub const MAX_SIGNAL: u32 = 64;
/// Largest `mem_top` accepted: the 48-bit virtual address space both native ISAs provide.
pub const MAX_MEM_TOP: u64 = 1 << 48;
/// Size of the archive's root object (`Checkpoint`), which sits at the end of the archive.
pub const ROOT_SIZE: usize = 252;
