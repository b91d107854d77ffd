//! Opening a checkpoint: header, digest, archive structure and semantic validation, then
//! zero-copy access to the validated bytes.

use std::path::Path;

use super::codec::PageView;
use super::error::{CheckpointError, hex};
use super::model::{
    ArchivedCheckpoint, ArchivedPageRecord, Checkpoint, PageEncoding, PersonalityRecord,
};
use super::validate::{self, PageCheck};
use super::{FORMAT_VERSION, HEADER_SIZE, MAGIC, PAGE_SIZE, ROOT_SIZE};
use crate::file_bytes::FileBytes;
use crate::file_kind::{FileKind, file_kind};
use crate::image::{self, Image};
use crate::memory_map::MemoryMap;
use crate::target::Target;

/// A validated checkpoint. Every accessor reads bytes that `open`/`from_bytes` checked. A
/// clone shares the bytes.
#[derive(Clone)]
pub struct CheckpointFile {
    bytes: FileBytes,
    source_target: Target,
    map: MemoryMap,
}

impl std::fmt::Debug for CheckpointFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointFile")
            .field("bytes", &self.bytes.len())
            .field("source_target", &self.source_target)
            .field("map", &self.map)
            .finish()
    }
}

/// A page of a validated checkpoint: `(guest address, stored page)`.
pub type Page<'a> = (u64, PageView<'a>);

impl CheckpointFile {
    /// Maps the file and validates it, every page included.
    pub fn open(path: &Path) -> Result<CheckpointFile, CheckpointError> {
        CheckpointFile::open_checking(path, PageCheck::Decode)
    }

    /// Maps the file and validates it, checking the pages' data as far as `pages` says.
    pub fn open_checking(path: &Path, pages: PageCheck) -> Result<CheckpointFile, CheckpointError> {
        let bytes = FileBytes::map(path).map_err(|source| CheckpointError::Io {
            path: path.display().to_string(),
            source,
        })?;
        CheckpointFile::parse(bytes, pages)
    }

    /// Validates a checkpoint held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<CheckpointFile, CheckpointError> {
        CheckpointFile::parse(
            FileBytes::Owned(std::sync::Arc::new(bytes)),
            PageCheck::Decode,
        )
    }

    fn parse(bytes: FileBytes, pages: PageCheck) -> Result<CheckpointFile, CheckpointError> {
        check_header(&bytes)?;
        let archive = &bytes[HEADER_SIZE..];
        let actual = blake3::hash(archive);
        if actual.as_bytes()[..] != bytes[32..64] {
            return Err(CheckpointError::Checksum {
                recorded: hex(&bytes[32..64]),
                actual: actual.to_hex().to_string(),
            });
        }
        let checkpoint = rkyv::access::<ArchivedCheckpoint, rancor::BoxedError>(archive)
            .map_err(|e| CheckpointError::Archive(archive_positions(&e.to_string(), archive)))?;
        let (source_target, map) = validate::check(checkpoint, pages)?;
        Ok(CheckpointFile {
            bytes,
            source_target,
            map,
        })
    }

    /// The whole archive, read in place.
    pub fn archived(&self) -> &ArchivedCheckpoint {
        // SAFETY: `parse` checked exactly these bytes with `rkyv::access` (bytecheck) before
        // constructing `self`, and the bytes are never modified afterwards.
        unsafe { rkyv::access_unchecked::<ArchivedCheckpoint>(&self.bytes[HEADER_SIZE..]) }
    }

    /// An owned copy of the whole checkpoint.
    pub fn deserialize(&self) -> Result<Checkpoint, CheckpointError> {
        rkyv::deserialize::<Checkpoint, rkyv::rancor::Error>(self.archived())
            .map_err(|e| CheckpointError::Archive(e.to_string()))
    }

    /// An owned copy of the personality state (small; pages stay in the file).
    pub fn personality(&self) -> Result<PersonalityRecord, CheckpointError> {
        rkyv::deserialize::<PersonalityRecord, rkyv::rancor::Error>(&self.archived().personality)
            .map_err(|e| CheckpointError::Archive(e.to_string()))
    }

    /// Identity of the image the checkpoint belongs to.
    pub fn image_id(&self) -> [u8; 32] {
        self.archived().image_id
    }

    /// Where the image file was when the checkpoint was captured, if recorded.
    pub fn image_hint(&self) -> Option<&Path> {
        use std::os::unix::ffi::OsStrExt;
        let hint = self.archived().image_hint.as_slice();
        (!hint.is_empty()).then(|| Path::new(std::ffi::OsStr::from_bytes(hint)))
    }

    pub fn source_target(&self) -> Target {
        self.source_target
    }

    /// The captured run's memory map (image layout and `mem_top`).
    pub fn memory_map(&self) -> MemoryMap {
        self.map
    }

    pub fn file_size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Every stored page in address order.
    pub fn pages(&self) -> impl Iterator<Item = Page<'_>> + '_ {
        self.archived().regions.iter().flat_map(|region| {
            let start = region.start.to_native();
            region
                .pages
                .iter()
                .enumerate()
                .map(move |(k, page)| (start + (k * PAGE_SIZE) as u64, view(page)))
        })
    }

    /// The stored page containing `address`, if a region covers it.
    pub fn page_at(&self, address: u64) -> Option<PageView<'_>> {
        let regions = &self.archived().regions;
        // Regions are ascending and disjoint (validated): the candidate is the last one
        // starting at or below `address`.
        let after = regions.partition_point(|r| r.start.to_native() <= address);
        let region = regions.get(after.checked_sub(1)?)?;
        let offset = address - region.start.to_native();
        if offset >= region.length.to_native() {
            return None;
        }
        let page = region
            .pages
            .get(usize::try_from(offset).ok()? / PAGE_SIZE)?;
        Some(view(page))
    }

    /// Checks that this checkpoint belongs to `image`: same identity, ABI and layout.
    pub fn validate_against_image(&self, image: &Image) -> Result<(), CheckpointError> {
        let checkpoint = self.archived();
        if checkpoint.image_id != image.id() {
            return Err(CheckpointError::WrongImage {
                checkpoint: hex(&checkpoint.image_id),
                image: hex(&image.id()),
            });
        }
        let manifest = image.manifest();
        let (ours, theirs) = (
            checkpoint.abi_version.to_native(),
            manifest.abi_version.to_native(),
        );
        if ours != theirs {
            return Err(CheckpointError::ImageMismatch(format!(
                "the checkpoint uses guest ABI {ours} but the image was built for ABI {theirs}"
            )));
        }
        let (ours, theirs) = (self.map.image, manifest.layout());
        if ours != theirs {
            return Err(CheckpointError::ImageMismatch(format!(
                "the checkpoint's layout (rodata {:#x}, data {:#x}, bss {:#x} bytes) differs from the image's (rodata {:#x}, data {:#x}, bss {:#x} bytes)",
                ours.rodata_size,
                ours.data_size,
                ours.bss_size,
                theirs.rodata_size,
                theirs.data_size,
                theirs.bss_size
            )));
        }
        Ok(())
    }
}

/// The validator names places by host address; say file offsets instead.
fn archive_positions(message: &str, archive: &[u8]) -> String {
    let base = archive.as_ptr() as i128 - HEADER_SIZE as i128;
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        let digits = rest[at + 2..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .map_or(rest.len() - at - 2, |n| n);
        let text = &rest[at..at + 2 + digits];
        match i128::from_str_radix(&text[2..], 16) {
            Ok(address) if (address - base).abs() < 1 << 40 => {
                out.push_str(&format!("file offset {}", address - base));
            }
            _ => out.push_str(text),
        }
        rest = &rest[at + 2 + digits..];
    }
    out.push_str(rest);
    out
}

/// The view of a validated page.
pub(super) fn view(page: &ArchivedPageRecord) -> PageView<'_> {
    let data = page.data.as_slice();
    match PageEncoding::from_u8(page.encoding) {
        Some(PageEncoding::Zero) => PageView::Zero,
        Some(PageEncoding::SameAsImage) => PageView::SameAsImage,
        Some(PageEncoding::Zstd) => PageView::Zstd(data),
        Some(PageEncoding::ShuffledZstd) => PageView::ShuffledZstd(data),
        // Only raw remains after validation; were it anything else, a raw view of the
        // wrong length fails `materialise` instead of panicking.
        Some(PageEncoding::Raw) | None => PageView::Raw(data),
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Checks every header field (spec.md §5.1) except the digest.
fn check_header(bytes: &[u8]) -> Result<(), CheckpointError> {
    let prefix = bytes.len().min(MAGIC.len());
    if bytes.is_empty() || bytes[..prefix] != MAGIC[..prefix] {
        return Err(CheckpointError::NotACheckpoint(describe_foreign(bytes)));
    }
    let actual = bytes.len() as u64;
    if bytes.len() < HEADER_SIZE {
        return Err(CheckpointError::TruncatedHeader { actual });
    }
    let version = u32_at(bytes, 8);
    if version != FORMAT_VERSION {
        return Err(CheckpointError::Version { found: version });
    }
    let flags = u32_at(bytes, 12);
    if flags != 0 {
        return Err(CheckpointError::Header(format!(
            "unknown flags {flags:#x} (version {FORMAT_VERSION} defines none)"
        )));
    }
    let offset = u64_at(bytes, 16);
    if offset != HEADER_SIZE as u64 {
        return Err(CheckpointError::Header(format!(
            "archive offset {offset}, expected {HEADER_SIZE} (the archive follows the header)"
        )));
    }
    let length = u64_at(bytes, 24);
    let Some(expected) = length.checked_add(HEADER_SIZE as u64) else {
        return Err(CheckpointError::Header(format!(
            "archive length {length} is impossible"
        )));
    };
    if expected > actual {
        return Err(CheckpointError::Truncated { expected, actual });
    }
    if expected < actual {
        return Err(CheckpointError::Header(format!(
            "the header says {expected} bytes but the file has {actual} (trailing data)"
        )));
    }
    if length < ROOT_SIZE as u64 {
        return Err(CheckpointError::Header(format!(
            "an archive of {length} bytes cannot hold the {ROOT_SIZE}-byte root"
        )));
    }
    Ok(())
}

/// Says what a file that is not a checkpoint looks like, to make the error useful.
fn describe_foreign(bytes: &[u8]) -> String {
    match file_kind(bytes) {
        FileKind::Empty => "the file is empty".into(),
        FileKind::Image => "it looks like an xisa image".into(),
        FileKind::Script if bytes.starts_with(image::SHEBANG) => {
            "it looks like an xisa image".into()
        }
        FileKind::Elf => "it is an ELF file".into(),
        FileKind::Wasm => "it is a WebAssembly module".into(),
        FileKind::Bitcode => "it is an LLVM bitcode object".into(),
        FileKind::Checkpoint | FileKind::Script | FileKind::Unknown => {
            "the file does not start with the checkpoint magic XISACKPT".into()
        }
    }
}
