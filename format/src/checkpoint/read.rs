//! Opening a checkpoint: header, digest, archive structure and semantic validation, then
//! zero-copy access to the validated bytes.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::codec::PageView;
use super::error::{CheckpointError, hex};
use super::model::{
    ArchivedCheckpoint, ArchivedPageRecord, Checkpoint, PageEncoding, PersonalityRecord,
};
use super::validate::{self, PageCheck};
use super::write::store_offset;
use super::{FORMAT_VERSION, HEADER_SIZE, MAGIC, MAX_CHAIN, PAGE_SIZE, ROOT_SIZE};
use crate::file_bytes::FileBytes;
use crate::file_kind::{FileKind, file_kind};
use crate::image::{self, Image};
use crate::memory_map::{MemoryMap, merge_ranges};
use crate::target::Target;

/// A validated checkpoint. Every accessor reads bytes that `open`/`from_bytes` checked. A
/// clone shares the bytes.
///
/// An incremental checkpoint (spec.md §5.4) is opened with its chain of parents: page
/// accessors then see the memory the whole chain describes.
#[derive(Clone)]
pub struct CheckpointFile {
    bytes: FileBytes,
    source_target: Target,
    map: MemoryMap,
    /// Where the file was opened from (`None` for bytes held in memory).
    path: Option<PathBuf>,
    /// The parent, opened and checked against this checkpoint (`None` for a complete
    /// checkpoint, or one read with `from_bytes`).
    parent: Option<Arc<CheckpointFile>>,
    /// Where the page store lies in `bytes` (empty when no page is in it).
    store: Range<usize>,
}

impl std::fmt::Debug for CheckpointFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointFile")
            .field("bytes", &self.bytes.len())
            .field("source_target", &self.source_target)
            .field("map", &self.map)
            .field("path", &self.path)
            .field("parent", &self.parent)
            .field("store", &self.store)
            .finish()
    }
}

/// A page of a validated checkpoint: `(guest address, stored page)`.
pub type Page<'a> = (u64, PageView<'a>);

/// The checkpoints a writer wrote itself (by header digest), and the last chain of them it
/// opened as a parent, kept open: each round of a pre-copy captures against the last, and
/// its complete ancestor (a whole memory's records) is checked once, not at every round.
#[derive(Debug, Default)]
pub struct OwnCheckpoints {
    written: Vec<[u8; 32]>,
    open: Vec<Arc<CheckpointFile>>,
}

impl OwnCheckpoints {
    /// Notes a checkpoint this writer wrote.
    pub fn wrote(&mut self, digest: [u8; 32]) {
        if !self.written.contains(&digest) {
            self.written.push(digest);
        }
    }

    /// Opens `path` as [`CheckpointFile::open_written`] does, or takes the link kept open
    /// that has its header digest.
    pub fn open(
        &self,
        path: &Path,
        pages: PageCheck,
    ) -> Result<Arc<CheckpointFile>, CheckpointError> {
        match header_digest(path).and_then(|digest| self.kept(&digest)) {
            Some(link) => Ok(Arc::clone(link)),
            None => CheckpointFile::open_written(path, pages, self).map(Arc::new),
        }
    }

    /// The link kept open whose header digest is `digest`.
    fn kept(&self, digest: &[u8; 32]) -> Option<&Arc<CheckpointFile>> {
        self.open.iter().find(|link| link.digest() == *digest)
    }

    /// Keeps `file` and the links of its chain that this writer wrote open, in place of the
    /// chain kept before (a file replaced on disk is not held).
    pub fn keep_open(&mut self, file: &Arc<CheckpointFile>) {
        self.open = std::iter::successors(Some(file), |link| link.parent.as_ref())
            .filter(|link| self.written.contains(&link.digest()))
            .cloned()
            .collect();
    }
}

impl CheckpointFile {
    /// Maps the file and validates it, every page included.
    pub fn open(path: &Path) -> Result<CheckpointFile, CheckpointError> {
        CheckpointFile::open_checking(path, PageCheck::Decode)
    }

    /// Maps the file and validates it, checking the pages' data as far as `pages` says, then
    /// opens its parents the same way.
    pub fn open_checking(path: &Path, pages: PageCheck) -> Result<CheckpointFile, CheckpointError> {
        CheckpointFile::open_link(path, pages, 0, &OwnCheckpoints::default())
    }

    /// Like [`CheckpointFile::open_checking`], for a writer capturing against its own last
    /// checkpoints (`own`): a link it wrote is not hashed again (its structure is still
    /// checked, which is all memory safety needs), and a link it keeps open is taken as it is.
    /// Anything that restores from a file checks it whole.
    pub fn open_written(
        path: &Path,
        pages: PageCheck,
        own: &OwnCheckpoints,
    ) -> Result<CheckpointFile, CheckpointError> {
        CheckpointFile::open_link(path, pages, 0, own)
    }

    fn open_link(
        path: &Path,
        pages: PageCheck,
        depth: usize,
        own: &OwnCheckpoints,
    ) -> Result<CheckpointFile, CheckpointError> {
        let bytes = FileBytes::map(path).map_err(|source| CheckpointError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mut file = CheckpointFile::parse(bytes, pages, &own.written)?;
        file.path = Some(path.to_path_buf());
        if let Some(digest) = file.parent_digest() {
            let kept = own.kept(&digest);
            let links_above = kept.map_or(1, |link| link.chain().len());
            if depth + links_above >= MAX_CHAIN {
                return Err(CheckpointError::Parent(format!(
                    "{} is more than {MAX_CHAIN} checkpoints from a complete one",
                    path.display()
                )));
            }
            let parent = match kept {
                Some(link) => Arc::clone(link),
                None => {
                    let parent_path = find_parent(path, file.parent_hint(), &digest)?;
                    Arc::new(CheckpointFile::open_link(
                        &parent_path,
                        pages,
                        depth + 1,
                        own,
                    )?)
                }
            };
            parent.check_same_run(file.image_id(), file.memory_map())?;
            file.parent = Some(parent);
        }
        Ok(file)
    }

    /// Validates a checkpoint held in memory, alone: a parent it names is not opened (its
    /// own pages are all [`CheckpointFile::pages`] gives).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<CheckpointFile, CheckpointError> {
        CheckpointFile::parse(
            FileBytes::Owned(std::sync::Arc::new(bytes)),
            PageCheck::Decode,
            &[],
        )
    }

    #[cfg(test)]
    pub(super) fn parse_for_test(
        bytes: Vec<u8>,
        pages: PageCheck,
    ) -> Result<CheckpointFile, CheckpointError> {
        CheckpointFile::parse(FileBytes::Owned(Arc::new(bytes)), pages, &[])
    }

    fn parse(
        bytes: FileBytes,
        pages: PageCheck,
        written: &[[u8; 32]],
    ) -> Result<CheckpointFile, CheckpointError> {
        let archive_end = check_header(&bytes)?;
        let archive = &bytes[HEADER_SIZE..archive_end];
        let ours = super::header_digest(&bytes).is_some_and(|digest| written.contains(&digest));
        if !ours {
            let actual = blake3::hash(archive);
            if actual.as_bytes()[..] != bytes[super::HEADER_DIGEST] {
                return Err(CheckpointError::Checksum {
                    recorded: hex(&bytes[super::HEADER_DIGEST]),
                    actual: actual.to_hex().to_string(),
                });
            }
        }
        let checkpoint = rkyv::access::<ArchivedCheckpoint, rancor::BoxedError>(archive)
            .map_err(|e| CheckpointError::Archive(archive_positions(&e.to_string(), archive)))?;
        let checked = validate::check(checkpoint, pages)?;
        let store = check_store_size(&bytes, archive_end, checked.store_pages)?;
        let file = CheckpointFile {
            bytes,
            source_target: checked.source_target,
            map: checked.map,
            path: None,
            parent: None,
            store,
        };
        if pages == PageCheck::Decode {
            file.verify_store()?;
        }
        Ok(file)
    }

    /// The whole archive, read in place.
    pub fn archived(&self) -> &ArchivedCheckpoint {
        // SAFETY: `parse` checked exactly these bytes with `rkyv::access` (bytecheck) before
        // constructing `self`, and the bytes are never modified afterwards.
        unsafe { rkyv::access_unchecked::<ArchivedCheckpoint>(self.archive_bytes()) }
    }

    fn archive_bytes(&self) -> &[u8] {
        // The header's archive length, checked by `parse`.
        &self.bytes[HEADER_SIZE..HEADER_SIZE + u64_at(&self.bytes, 24) as usize]
    }

    /// Checks the page store against its digest (opening with [`PageCheck::Decode`] does;
    /// with [`PageCheck::FrameOnly`] the caller must, and must fail what used the store if
    /// this fails). Only this file's store: each link of a chain checks its own.
    pub fn verify_store(&self) -> Result<(), CheckpointError> {
        let actual = blake3::hash(&self.bytes[self.store.clone()]);
        let recorded = self.archived().store_digest;
        if actual.as_bytes()[..] != recorded[..] {
            return Err(CheckpointError::StoreChecksum {
                file: self
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "the checkpoint".into()),
                recorded: hex(&recorded),
                actual: actual.to_hex().to_string(),
            });
        }
        Ok(())
    }

    /// The open file whose page store [`CheckpointFile::own_store_runs`] describes, for
    /// mapping those pages; `None` when no page is in the store or the checkpoint was read
    /// from memory.
    pub fn store_file(&self) -> Option<&std::fs::File> {
        self.bytes.file().filter(|_| !self.store.is_empty())
    }

    /// Runs of this file's own pages that lie raw in the page store: `(guest address, file
    /// offset, bytes)`, in address order, each as long as the pages are consecutive in both
    /// guest memory and the file. A restore maps these instead of copying them.
    pub fn own_store_runs(&self) -> Vec<(u64, u64, u64)> {
        let mut runs: Vec<(u64, u64, u64)> = Vec::new();
        let page = PAGE_SIZE as u64;
        for region in self.archived().regions.iter() {
            let start = region.start.to_native();
            for (k, record) in region.pages.iter().enumerate() {
                let Some(slot) = store_slot(record) else {
                    continue;
                };
                let address = start + k as u64 * page;
                let offset = self.store.start as u64 + slot * page;
                match runs.last_mut() {
                    Some((guest, file, len))
                        if *guest + *len == address && *file + *len == offset =>
                    {
                        *len += page
                    }
                    _ => runs.push((address, offset, page)),
                }
            }
        }
        runs
    }

    /// An owned copy of the whole checkpoint. Pages of the page store come back raw, with
    /// their bytes (as a capture builds them, for [`super::write`]).
    pub fn deserialize(&self) -> Result<Checkpoint, CheckpointError> {
        let mut checkpoint = rkyv::deserialize::<Checkpoint, rkyv::rancor::Error>(self.archived())
            .map_err(|e| CheckpointError::Archive(e.to_string()))?;
        for (region, archived) in checkpoint
            .regions
            .iter_mut()
            .zip(self.archived().regions.iter())
        {
            for (page, record) in region.pages.iter_mut().zip(archived.pages.iter()) {
                if let Some(bytes) = self.store_page(record) {
                    page.encoding = PageEncoding::Raw as u8;
                    page.data = bytes.to_vec();
                }
            }
        }
        Ok(checkpoint)
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
        host_path(self.archived().image_hint.as_slice())
    }

    /// Checks that this checkpoint can be the parent of one of a run of image `image_id`
    /// with memory map `map` (a parent contributes only pages, so both must be the same).
    pub fn check_same_run(
        &self,
        image_id: [u8; 32],
        map: MemoryMap,
    ) -> Result<(), CheckpointError> {
        let name = self
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if self.image_id() != image_id {
            return Err(CheckpointError::Parent(format!(
                "parent {name} was captured from image {} but its child from image {}",
                hex(&self.image_id()),
                hex(&image_id)
            )));
        }
        if self.memory_map() != map {
            return Err(CheckpointError::Parent(format!(
                "parent {name} has another memory map ({:?}) than its child ({map:?})",
                self.memory_map()
            )));
        }
        Ok(())
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

    /// The header digest: this file's identity, which a child names as its parent.
    pub fn digest(&self) -> [u8; 32] {
        super::header_digest(&self.bytes).expect("an opened file has a whole header")
    }

    /// Where the file was opened from (`None` for bytes held in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The digest of the parent this checkpoint was captured against, if it has one.
    pub fn parent_digest(&self) -> Option<[u8; 32]> {
        let digest = self.archived().parent_digest;
        (digest != Checkpoint::NO_PARENT).then_some(digest)
    }

    /// Where the parent was when this checkpoint was captured, if recorded.
    pub fn parent_hint(&self) -> Option<&Path> {
        host_path(self.archived().parent_hint.as_slice())
    }

    /// The opened parent, if this checkpoint has one and was opened from a file.
    pub fn parent(&self) -> Option<&CheckpointFile> {
        self.parent.as_deref()
    }

    /// This checkpoint and its opened parents, this one first.
    pub fn chain(&self) -> Vec<&CheckpointFile> {
        std::iter::successors(Some(self), |file| file.parent()).collect()
    }

    /// Every stored page of the chain, the oldest checkpoint's first: writing them in this
    /// order leaves each address with its newest page.
    pub fn pages(&self) -> impl Iterator<Item = Page<'_>> + '_ {
        let mut chain = self.chain();
        chain.reverse();
        chain.into_iter().flat_map(CheckpointFile::own_pages)
    }

    /// The guest ranges this file itself stores pages for (its regions), ascending.
    pub fn own_ranges(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.archived().regions.iter().map(|r| {
            let start = r.start.to_native();
            start..start + r.length.to_native()
        })
    }

    /// The guest ranges the chain stores pages for: page-aligned, ascending, merged where
    /// they touch.
    pub fn stored_ranges(&self) -> Vec<Range<u64>> {
        merge_ranges(
            self.chain()
                .into_iter()
                .flat_map(CheckpointFile::own_ranges)
                .collect(),
        )
    }

    /// The pages this file itself stores, in address order.
    pub fn own_pages(&self) -> impl Iterator<Item = Page<'_>> + '_ {
        self.archived().regions.iter().flat_map(move |region| {
            let start = region.start.to_native();
            region
                .pages
                .iter()
                .enumerate()
                .map(move |(k, page)| (start + (k * PAGE_SIZE) as u64, self.view(page)))
        })
    }

    /// The newest stored page of the chain containing `address`, if a region covers it.
    pub fn page_at(&self, address: u64) -> Option<PageView<'_>> {
        self.own_page_at(address)
            .or_else(|| self.parent()?.page_at(address))
    }

    /// The page this file itself stores at `address`, if one of its regions covers it.
    pub fn own_page_at(&self, address: u64) -> Option<PageView<'_>> {
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
        Some(self.view(page))
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

impl CheckpointFile {
    /// The view of a validated page of this file.
    pub(super) fn view<'a>(&'a self, page: &'a ArchivedPageRecord) -> PageView<'a> {
        let data = page.data.as_slice();
        match PageEncoding::from_u8(page.encoding) {
            Some(PageEncoding::Zero) => PageView::Zero,
            Some(PageEncoding::SameAsImage) => PageView::SameAsImage,
            Some(PageEncoding::Zstd) => PageView::Zstd(data),
            Some(PageEncoding::ShuffledZstd) => PageView::ShuffledZstd(data),
            // Validated: the slot lies in the store. Were it not, an empty raw view fails
            // `materialise` instead of panicking.
            Some(PageEncoding::InStore) => PageView::Raw(self.store_page(page).unwrap_or(&[])),
            // Only raw remains after validation; were it anything else, a raw view of the
            // wrong length fails `materialise` instead of panicking.
            Some(PageEncoding::Raw) | None => PageView::Raw(data),
        }
    }

    /// The bytes of a page-store page of this file (`None` for any other encoding).
    fn store_page(&self, page: &ArchivedPageRecord) -> Option<&[u8]> {
        let offset = usize::try_from(store_slot(page)?)
            .ok()?
            .checked_mul(PAGE_SIZE)?;
        self.bytes[self.store.clone()].get(offset..offset.checked_add(PAGE_SIZE)?)
    }
}

/// The slot of a page-store page (`None` for any other encoding).
pub(super) fn store_slot(page: &ArchivedPageRecord) -> Option<u64> {
    if page.encoding != PageEncoding::InStore as u8 {
        return None;
    }
    Some(u64::from_le_bytes(page.data.as_slice().try_into().ok()?))
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

/// A recorded host path (validated: empty or absolute, no NUL).
fn host_path(bytes: &[u8]) -> Option<&Path> {
    use std::os::unix::ffi::OsStrExt;
    (!bytes.is_empty()).then(|| Path::new(std::ffi::OsStr::from_bytes(bytes)))
}

/// Finds the parent of the checkpoint at `child` whose header digest is `digest`: at the
/// recorded hint, then by the hint's file name beside the child, then among the `.ckpt`
/// files beside the child (spec.md §5.4).
fn find_parent(
    child: &Path,
    hint: Option<&Path>,
    digest: &[u8; 32],
) -> Result<PathBuf, CheckpointError> {
    let folder = child
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let hinted = hint.into_iter().flat_map(|hint| {
        [
            Some(hint.to_path_buf()),
            hint.file_name().map(|name| folder.join(name)),
        ]
        .into_iter()
        .flatten()
    });
    // The folder is read only when the hint does not lead to the parent.
    let beside = std::iter::once_with(|| {
        let mut beside: Vec<PathBuf> = std::fs::read_dir(folder)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "ckpt"))
                    .collect()
            })
            .unwrap_or_default();
        beside.sort();
        beside
    })
    .flatten();
    let candidates = hinted.chain(beside);
    let mut mismatched: Option<(PathBuf, [u8; 32])> = None;
    for candidate in candidates {
        if candidate == child {
            continue;
        }
        match header_digest(&candidate) {
            Some(found) if found == *digest => return Ok(candidate),
            Some(found)
                if mismatched.is_none()
                    && candidate.file_name() == hint.and_then(|h| h.file_name()) =>
            {
                mismatched = Some((candidate, found))
            }
            _ => {}
        }
    }
    let wanted = hex(digest);
    let at = hint
        .map(|h| format!(" (it was at {})", h.display()))
        .unwrap_or_default();
    Err(CheckpointError::Parent(match mismatched {
        Some((path, found)) => format!(
            "{} was captured against checkpoint {wanted}{at}, but {} is now checkpoint {}: it was rewritten after the capture, and no other checkpoint beside it matches",
            child.display(),
            path.display(),
            hex(&found)
        ),
        None => format!(
            "{} was captured against checkpoint {wanted}{at}, which is neither there nor beside it",
            child.display()
        ),
    }))
}

/// The header digest of the checkpoint file at `path`, if it starts like one.
fn header_digest(path: &Path) -> Option<[u8; 32]> {
    use std::io::Read;
    let mut header = [0u8; HEADER_SIZE];
    std::fs::File::open(path)
        .ok()?
        .read_exact(&mut header)
        .ok()?;
    (header[..MAGIC.len()] == MAGIC[..]).then(|| header[32..64].try_into().expect("32 bytes"))
}

/// Checks every header field (spec.md §5.1) except the digest; returns where the archive
/// ends. Whether the bytes after it are exactly the page store is checked once the archive
/// says how many pages it holds ([`check_store_size`]).
fn check_header(bytes: &[u8]) -> Result<usize, CheckpointError> {
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
    if length < ROOT_SIZE as u64 {
        return Err(CheckpointError::Header(format!(
            "an archive of {length} bytes cannot hold the {ROOT_SIZE}-byte root"
        )));
    }
    Ok(expected as usize)
}

/// Checks that the file is exactly the header, the archive and, when `pages` pages are in
/// the page store, zero padding to the next page boundary and those pages (spec.md §5.1);
/// returns where the store lies.
fn check_store_size(
    bytes: &[u8],
    archive_end: usize,
    pages: u64,
) -> Result<Range<usize>, CheckpointError> {
    let actual = bytes.len() as u64;
    if pages == 0 {
        if actual > archive_end as u64 {
            return Err(CheckpointError::Header(format!(
                "the header says {archive_end} bytes but the file has {actual} (trailing data; no page is in the page store)"
            )));
        }
        return Ok(0..0);
    }
    let start = store_offset(archive_end);
    let expected = pages
        .checked_mul(PAGE_SIZE as u64)
        .and_then(|len| len.checked_add(start as u64))
        .unwrap_or(u64::MAX);
    if expected > actual {
        return Err(CheckpointError::Truncated { expected, actual });
    }
    if expected < actual {
        return Err(CheckpointError::Header(format!(
            "the archive puts {pages} page(s) in the page store, so the file is {expected} bytes, but it has {actual} (trailing data)"
        )));
    }
    if let Some(at) = bytes[archive_end..start].iter().position(|b| *b != 0) {
        return Err(CheckpointError::Header(format!(
            "padding byte at file offset {} before the page store is not zero",
            archive_end + at
        )));
    }
    Ok(start..expected as usize)
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
