//! The checkpoint's data model. The field order here is the archive's byte order: do not
//! reorder fields without changing spec.md and the format version.

use rkyv::{Archive, Deserialize, Serialize};

use crate::coded_enum::coded_enum;
use crate::memory_map::{ImageLayout, MemoryMap};

/// Everything needed to resume a program on any target.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Identity of the image the program runs (`Image::id()`).
    pub image_id: [u8; 32],
    /// Guest ABI version (`abi::ABI_VERSION`).
    pub abi_version: u32,
    /// `Target::id()` of the target that captured the checkpoint.
    pub source_target: u32,
    /// Capture time, milliseconds since the Unix epoch (informational).
    pub created_unix_ms: u64,
    pub map: MapRecord,
    /// The program's threads.
    pub threads: Vec<ThreadRecord>,
    /// Neutral memory, ascending by address.
    pub regions: Vec<RegionRecord>,
    pub personality: PersonalityRecord,
    /// Where the image file was at the capture (absolute path bytes, empty when unknown).
    /// Only a place to look: a restore still checks the image's identity.
    pub image_hint: Vec<u8>,
    /// Header digest of the checkpoint this one was captured against (an incremental
    /// checkpoint stores only pages that differ from its parent's memory); all zero when the
    /// checkpoint is complete on its own.
    pub parent_digest: [u8; 32],
    /// Where the parent was at the capture (absolute path bytes, empty when unknown). Only a
    /// place to look: a reader still checks the parent's digest.
    pub parent_hint: Vec<u8>,
    /// BLAKE3 of the page store (the page-aligned raw pages after the archive, spec.md
    /// §5.4); the writer fills it in.
    pub store_digest: [u8; 32],
}

impl Checkpoint {
    /// The `parent_digest` of a checkpoint without a parent.
    pub const NO_PARENT: [u8; 32] = [0; 32];
}

/// The memory map of the captured run: the image's layout and the run's `mem_top`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapRecord {
    pub rodata_size: u64,
    pub data_size: u64,
    pub bss_size: u64,
    pub mem_top: u64,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ThreadRecord {
    /// Neutral frames, innermost first.
    pub frames: Vec<FrameRecord>,
    pub registers: NeutralRegisters,
}

/// A neutral frame: where the function is stopped and the values live across that call.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct FrameRecord {
    /// Call-site id assigned by the toolchain in the shared IR.
    pub call_site: u32,
    /// The frame record's bytes (`[N x i64]`, so a multiple of 8).
    pub record: Vec<u8>,
}

/// The thread state that is not in memory or in frames.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeutralRegisters {
    /// Value of `__xisa_ssp` at the capture.
    pub shadow_stack_pointer: u64,
    /// Value of `__xisa_thread_pointer` at the capture.
    pub thread_pointer: u64,
}

/// A contiguous range of neutral memory, every page of it listed in order.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct RegionRecord {
    /// Guest address, page-aligned.
    pub start: u64,
    /// Bytes, a non-zero multiple of the page size.
    pub length: u64,
    /// Exactly `length / PAGE_SIZE` pages; page `k` has index `k`.
    pub pages: Vec<PageRecord>,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PageRecord {
    /// Page number within the region.
    pub index: u32,
    /// A [`PageEncoding`] value.
    pub encoding: u8,
    /// Raw: the page's 4096 bytes (the writer moves them into the page store and writes
    /// the page as [`PageEncoding::InStore`]); zstd: one zstd frame; in the page store: the
    /// page's slot as a little-endian `u64`; zero and same-as-image: empty.
    pub data: Vec<u8>,
}

coded_enum! {
    /// How a page's bytes are stored.
    pub enum PageEncoding: u8, from_u8 {
        /// All zero bytes.
        Zero = 0,
        /// Equal to the image's initial contents (rodata and data pages only).
        SameAsImage = 1,
        /// Stored as is.
        Raw = 2,
        /// Stored as one zstd frame.
        Zstd = 3,
        /// Byte-shuffled over 8-byte elements (all first bytes, then all second bytes, ...),
        /// then stored as one zstd frame: doubles and 64-bit integers compress better so.
        ShuffledZstd = 4,
        /// Stored as is in the page store after the archive, page-aligned, so that a
        /// restore can map it into guest memory instead of copying it.
        InStore = 5,
    }
}

impl PageEncoding {
    pub fn name(self) -> &'static str {
        match self {
            PageEncoding::Zero => "zero",
            PageEncoding::SameAsImage => "same as image",
            PageEncoding::Raw => "raw",
            PageEncoding::Zstd => "zstd",
            PageEncoding::ShuffledZstd => "shuffled zstd",
            PageEncoding::InStore => "raw in the page store",
        }
    }
}

/// The guest OS personality (mirrors `xisa_personality::PersonalityState`).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PersonalityRecord {
    /// Normalized absolute guest path.
    pub cwd: Vec<u8>,
    pub umask: u32,
    pub brk: u64,
    /// Mapped mmap regions, page-aligned, ascending.
    pub mmap_regions: Vec<MmapRecord>,
    /// Open file descriptions; fds refer to them by index.
    pub descriptions: Vec<DescriptionRecord>,
    /// Open fds, ascending by fd.
    pub files: Vec<OpenFileRecord>,
    /// Guest `CLOCK_MONOTONIC` at the capture, so time resumes where it stopped.
    pub monotonic_ns: u64,
    pub signal_mask: u64,
    /// Signals whose action the guest set, ascending by signal.
    pub signal_actions: Vec<SignalActionRecord>,
    /// System calls already warned about, ascending.
    pub warned_syscalls: Vec<u64>,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmapRecord {
    pub start: u64,
    /// Exclusive.
    pub end: u64,
}

/// One open file description.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DescriptionRecord {
    /// A [`DescriptionKind`] value.
    pub kind: u8,
    /// Normalized absolute guest path for files and directories, empty for standard streams.
    pub path: Vec<u8>,
    /// Guest open flags as `F_GETFL` reports them.
    pub flags: u32,
    /// File offset; for a directory, the getdents64 position.
    pub offset: u64,
}

coded_enum! {
    /// What an open file description refers to.
    pub enum DescriptionKind: u8, from_u8 {
        Stdin = 0,
        Stdout = 1,
        Stderr = 2,
        File = 3,
        Directory = 4,
    }
}

impl DescriptionKind {
    /// Files and directories are reopened by path; standard streams have none.
    pub fn has_path(self) -> bool {
        matches!(self, DescriptionKind::File | DescriptionKind::Directory)
    }
}

/// One guest fd.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFileRecord {
    pub fd: i32,
    /// Index into [`PersonalityRecord::descriptions`]; dup'ed fds share one.
    pub description: u32,
    pub cloexec: bool,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalActionRecord {
    pub signal: u32,
    pub handler: u64,
    pub flags: u64,
}

impl MapRecord {
    /// The memory map this record describes. Only meaningful for validated values (the
    /// layout arithmetic assumes sizes within the memory map).
    pub fn memory_map(&self) -> MemoryMap {
        MemoryMap {
            image: ImageLayout {
                rodata_size: self.rodata_size,
                data_size: self.data_size,
                bss_size: self.bss_size,
            },
            mem_top: self.mem_top,
        }
    }
}

impl ArchivedMapRecord {
    pub fn to_native(&self) -> MapRecord {
        MapRecord {
            rodata_size: self.rodata_size.to_native(),
            data_size: self.data_size.to_native(),
            bss_size: self.bss_size.to_native(),
            mem_top: self.mem_top.to_native(),
        }
    }
}
