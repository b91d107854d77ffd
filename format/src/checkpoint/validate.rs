//! The semantic rules of spec.md §5.5, checked on an archive that bytecheck accepted. After
//! `check` succeeds every accessor may rely on them.

use std::ops::Range;

use super::codec::{PageDecoder, check_zstd_frame};
use super::error::{CheckpointError, invalid};
use super::model::{
    ArchivedCheckpoint, ArchivedPersonalityRecord, ArchivedRegionRecord, ArchivedThreadRecord,
    Checkpoint, DescriptionKind, PageEncoding,
};
use super::{MAX_FDS, MAX_MEM_TOP, MAX_PATH_LEN, MAX_RECORD_SIZE, MAX_SIGNAL, PAGE_SIZE};
use crate::abi::ABI_VERSION;
use crate::memory_map::{
    IMAGE_BASE, IMAGE_LIMIT, MIN_MEM_TOP, MemoryMap, NULL_GUARD_END, PRIVATE, REGION_ALIGN,
    SHADOW_STACK, SHADOW_STACK_GUARD,
};
use crate::target::Target;

const PAGE: u64 = PAGE_SIZE as u64;
const SIGKILL: u32 = 9;
const SIGSTOP: u32 = 19;

/// Ranges no region may touch, with the names used in errors.
const FORBIDDEN: [(&str, Range<u64>); 4] = [
    ("the null guard", 0..NULL_GUARD_END),
    ("the private area", PRIVATE),
    ("the shadow-stack guard", SHADOW_STACK_GUARD),
    ("the reserved range", SHADOW_STACK.end..IMAGE_BASE),
];

/// How much of the pages' data opening a checkpoint checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageCheck {
    /// Decompress every zstd page (what `open` does).
    Decode,
    /// Check zstd pages' frames only and leave the page store unchecked; a reader that
    /// decodes each page on first use (a lazy restore) finds the rest and must check the
    /// store ([`super::CheckpointFile::verify_store`]), and must then fail the run.
    FrameOnly,
}

/// What the semantic check learnt about a checkpoint.
pub(crate) struct Checked {
    pub source_target: Target,
    pub map: MemoryMap,
    /// Pages in the page store.
    pub store_pages: u64,
}

pub(crate) fn check(
    checkpoint: &ArchivedCheckpoint,
    pages: PageCheck,
) -> Result<Checked, CheckpointError> {
    let abi = checkpoint.abi_version.to_native();
    if abi != ABI_VERSION {
        return Err(invalid(format!(
            "guest ABI version {abi} is not supported (this xisa runs version {ABI_VERSION})"
        )));
    }
    let id = checkpoint.source_target.to_native();
    let target = Target::from_id(id)
        .ok_or_else(|| invalid(format!("unknown source target {id} (known: 1, 2, 3)")))?;
    let map = check_map(checkpoint)?;
    match checkpoint.threads.len() {
        0 => return Err(invalid("the checkpoint has no thread")),
        1 => {}
        n => {
            return Err(invalid(format!(
                "the checkpoint has {n} threads; guest ABI version {ABI_VERSION} programs have one"
            )));
        }
    }
    for (t, thread) in checkpoint.threads.iter().enumerate() {
        check_thread(t, thread, &map)?;
    }
    let store_pages = check_regions(&checkpoint.regions, &map, pages)?;
    check_personality(&checkpoint.personality, &map)?;
    check_host_path("image hint", &checkpoint.image_hint)?;
    check_host_path("parent hint", &checkpoint.parent_hint)?;
    if checkpoint.parent_digest == Checkpoint::NO_PARENT && !checkpoint.parent_hint.is_empty() {
        return Err(invalid(
            "parent hint: a checkpoint without a parent (digest all zero) names one",
        ));
    }
    Ok(Checked {
        source_target: target,
        map,
        store_pages,
    })
}

fn check_map(checkpoint: &ArchivedCheckpoint) -> Result<MemoryMap, CheckpointError> {
    let record = checkpoint.map.to_native();
    // Each size below the image limit keeps the layout arithmetic far from overflow.
    for (name, size) in [
        ("rodata", record.rodata_size),
        ("data", record.data_size),
        ("bss", record.bss_size),
    ] {
        if size > IMAGE_LIMIT {
            return Err(invalid(format!(
                "map: {name} size {size:#x} exceeds the image limit {IMAGE_LIMIT:#x}"
            )));
        }
    }
    let map = record.memory_map();
    let image_end = map.image.end();
    if image_end > IMAGE_LIMIT {
        return Err(invalid(format!(
            "map: the image regions end at {image_end:#x}, above the image limit {IMAGE_LIMIT:#x}"
        )));
    }
    let top = map.mem_top;
    if !top.is_multiple_of(REGION_ALIGN) || !(MIN_MEM_TOP..=MAX_MEM_TOP).contains(&top) {
        return Err(invalid(format!(
            "map: mem_top {top:#x} must be a multiple of {REGION_ALIGN:#x} in {MIN_MEM_TOP:#x}..={MAX_MEM_TOP:#x}"
        )));
    }
    if top <= map.brk_base() {
        return Err(invalid(format!(
            "map: mem_top {top:#x} is not above brk_base {:#x}",
            map.brk_base()
        )));
    }
    Ok(map)
}

fn check_thread(
    t: usize,
    thread: &ArchivedThreadRecord,
    map: &MemoryMap,
) -> Result<(), CheckpointError> {
    if thread.frames.is_empty() {
        return Err(invalid(format!("thread {t} has no frame")));
    }
    for (f, frame) in thread.frames.iter().enumerate() {
        let size = frame.record.len();
        if size > MAX_RECORD_SIZE {
            return Err(invalid(format!(
                "frame {f} of thread {t}: record of {size} bytes exceeds the {MAX_RECORD_SIZE}-byte limit"
            )));
        }
        if !size.is_multiple_of(8) {
            return Err(invalid(format!(
                "frame {f} of thread {t}: record of {size} bytes is not a multiple of 8"
            )));
        }
    }
    let ssp = thread.registers.shadow_stack_pointer.to_native();
    if !(SHADOW_STACK.start..=SHADOW_STACK.end).contains(&ssp) {
        return Err(invalid(format!(
            "thread {t}: shadow-stack pointer {ssp:#x} is outside the shadow stack {:#x}..={:#x}",
            SHADOW_STACK.start, SHADOW_STACK.end
        )));
    }
    let tp = thread.registers.thread_pointer.to_native();
    if tp != 0 && !is_neutral(map, tp, 1) {
        return Err(invalid(format!(
            "thread {t}: thread pointer {tp:#x} is not in neutral memory"
        )));
    }
    Ok(())
}

/// Is `[addr, addr + len)` neutral guest memory: below `mem_top` and clear of the guards,
/// the private area and the reserved range?
fn is_neutral(map: &MemoryMap, addr: u64, len: u64) -> bool {
    forbidden_overlap(map, addr, len).is_none()
}

/// The first thing `[addr, addr + len)` must not touch but does, named for errors.
fn forbidden_overlap(map: &MemoryMap, addr: u64, len: u64) -> Option<String> {
    let end = match addr.checked_add(len) {
        Some(end) if end <= map.mem_top => end,
        _ => return Some(format!("mem_top {:#x}", map.mem_top)),
    };
    FORBIDDEN
        .iter()
        .find(|(_, range)| addr < range.end && range.start < end)
        .map(|(name, range)| format!("{name} ({:#x}..{:#x})", range.start, range.end))
}

fn check_regions(
    regions: &[ArchivedRegionRecord],
    map: &MemoryMap,
    pages: PageCheck,
) -> Result<u64, CheckpointError> {
    let mut decoder = PageDecoder::new();
    // The next page-store slot: slots are 0, 1, 2 ... in record order.
    let mut next_slot = 0u64;
    let mut scratch = [0u8; PAGE_SIZE];
    let mut previous_end = 0u64;
    // Pages whose initial contents the image supplies (rodata and data, whole pages).
    let image_pages =
        [map.image.rodata(), map.image.data()].map(|r| r.start..r.end.next_multiple_of(PAGE));
    for (r, region) in regions.iter().enumerate() {
        let start = region.start.to_native();
        let length = region.length.to_native();
        let place = format!("region {r} ({start:#x}, {length:#x} bytes)");
        if !start.is_multiple_of(PAGE) || !length.is_multiple_of(PAGE) || length == 0 {
            return Err(invalid(format!(
                "{place}: start and length must be page-aligned and the length non-zero"
            )));
        }
        if let Some(what) = forbidden_overlap(map, start, length) {
            return Err(invalid(format!("{place} reaches into {what}")));
        }
        if start < previous_end {
            return Err(invalid(format!(
                "{place} overlaps or precedes region {}: regions must be ascending and disjoint",
                r - 1
            )));
        }
        previous_end = start + length;
        let expected = length / PAGE;
        let listed = region.pages.len() as u64;
        if listed != expected {
            return Err(invalid(format!(
                "region {r}: lists {listed} pages but its length holds {expected}"
            )));
        }
        for (k, page) in region.pages.iter().enumerate() {
            let index = page.index.to_native();
            if u64::from(index) != k as u64 {
                return Err(invalid(format!(
                    "region {r} page {k}: index {index} out of order (every page is listed once, in ascending order)"
                )));
            }
            let address = start + (k as u64) * PAGE;
            let data = page.data.as_slice();
            let fail = |problem: String| invalid(format!("region {r} page {k}: {problem}"));
            match PageEncoding::from_u8(page.encoding) {
                None => return Err(fail(format!("unknown page encoding {}", page.encoding))),
                Some(encoding @ (PageEncoding::Zero | PageEncoding::SameAsImage)) => {
                    if !data.is_empty() {
                        return Err(fail(format!(
                            "a '{}' page carries {} bytes of data",
                            encoding.name(),
                            data.len()
                        )));
                    }
                    if encoding == PageEncoding::SameAsImage
                        && !image_pages.iter().any(|r| r.contains(&address))
                    {
                        return Err(fail(format!(
                            "'same as image' at {address:#x}, outside the image's rodata and data"
                        )));
                    }
                }
                Some(PageEncoding::Raw) => {
                    if data.len() != PAGE_SIZE {
                        return Err(fail(format!(
                            "raw data of {} bytes, expected {PAGE_SIZE}",
                            data.len()
                        )));
                    }
                }
                Some(PageEncoding::InStore) => {
                    let slot = <[u8; 8]>::try_from(data)
                        .map(u64::from_le_bytes)
                        .map_err(|_| {
                            fail(format!(
                                "a page-store page carries {} bytes, expected its 8-byte slot",
                                data.len()
                            ))
                        })?;
                    if slot != next_slot {
                        return Err(fail(format!(
                            "page-store slot {slot}, expected {next_slot} (slots follow record order)"
                        )));
                    }
                    next_slot += 1;
                }
                Some(PageEncoding::Zstd | PageEncoding::ShuffledZstd) => {
                    if data.is_empty() || data.len() >= PAGE_SIZE {
                        return Err(fail(format!(
                            "zstd data of {} bytes (it must be shorter than a raw page)",
                            data.len()
                        )));
                    }
                    match pages {
                        PageCheck::Decode => decoder.decompress(data, &mut scratch),
                        PageCheck::FrameOnly => check_zstd_frame(data),
                    }
                    .map_err(fail)?;
                }
            }
        }
    }
    Ok(next_slot)
}

/// A normalized absolute guest path: `/` alone or `/`-separated non-empty components other
/// than `.` and `..`, no trailing slash, no NUL, at most `MAX_PATH_LEN` bytes.
fn check_path(what: &str, path: &[u8]) -> Result<(), CheckpointError> {
    let show = String::from_utf8_lossy(&path[..path.len().min(64)]).into_owned();
    if path.len() > MAX_PATH_LEN {
        return Err(invalid(format!(
            "{what}: path of {} bytes exceeds {MAX_PATH_LEN}",
            path.len()
        )));
    }
    if path.contains(&0) {
        return Err(invalid(format!(
            "{what}: path {show:?} contains a NUL byte"
        )));
    }
    let normalized = path == b"/"
        || (path.first() == Some(&b'/')
            && path[1..]
                .split(|&b| b == b'/')
                .all(|c| !c.is_empty() && c != b"." && c != b".."));
    if !normalized {
        return Err(invalid(format!(
            "{what}: path {show:?} is not a normalized absolute path"
        )));
    }
    Ok(())
}

fn check_personality(
    personality: &ArchivedPersonalityRecord,
    map: &MemoryMap,
) -> Result<(), CheckpointError> {
    check_path("personality cwd", &personality.cwd)?;
    let umask = personality.umask.to_native();
    if umask > 0o777 {
        return Err(invalid(format!(
            "personality: umask {umask:#o} exceeds 0o777"
        )));
    }
    let brk = personality.brk.to_native();
    if brk < map.brk_base() || brk > map.mem_top {
        return Err(invalid(format!(
            "personality: brk {brk:#x} is outside {:#x}..={:#x} (brk_base..=mem_top)",
            map.brk_base(),
            map.mem_top
        )));
    }
    // mmap regions lie above the brk heap's last page, as the personality allocates them.
    let mut floor = brk.next_multiple_of(PAGE);
    for (i, region) in personality.mmap_regions.iter().enumerate() {
        let (start, end) = (region.start.to_native(), region.end.to_native());
        let aligned = start.is_multiple_of(PAGE) && end.is_multiple_of(PAGE);
        if !aligned || start >= end || start < floor || end > map.mem_top {
            return Err(invalid(format!(
                "personality: mmap region {i} ({start:#x}..{end:#x}) must be page-aligned, non-empty, ascending, disjoint and between the brk heap ({floor:#x}) and mem_top ({:#x})",
                map.mem_top
            )));
        }
        floor = end;
    }
    let descriptions = personality.descriptions.len();
    if descriptions > MAX_FDS as usize {
        return Err(invalid(format!(
            "personality: {descriptions} file descriptions, more than {MAX_FDS} fds can hold"
        )));
    }
    for (d, description) in personality.descriptions.iter().enumerate() {
        let kind = DescriptionKind::from_u8(description.kind).ok_or_else(|| {
            invalid(format!(
                "personality: description {d} has unknown kind {}",
                description.kind
            ))
        })?;
        if kind.has_path() {
            check_path(&format!("personality: description {d}"), &description.path)?;
        } else if !description.path.is_empty() {
            return Err(invalid(format!(
                "personality: description {d} is a standard stream but has a path"
            )));
        }
        let offset = description.offset.to_native();
        if offset > i64::MAX as u64 {
            return Err(invalid(format!(
                "personality: description {d} has offset {offset}, beyond any file"
            )));
        }
    }
    let mut previous = None;
    for file in personality.files.iter() {
        let fd = file.fd.to_native();
        if !(0..MAX_FDS).contains(&fd) {
            return Err(invalid(format!(
                "personality: fd {fd} is outside 0..{MAX_FDS}"
            )));
        }
        if previous.is_some_and(|p| fd <= p) {
            return Err(invalid(format!(
                "personality: fd {fd} is listed twice or out of order (fds are ascending)"
            )));
        }
        previous = Some(fd);
        let description = file.description.to_native();
        if description as usize >= descriptions {
            return Err(invalid(format!(
                "personality: fd {fd} refers to description {description}, but there are {descriptions}"
            )));
        }
    }
    let mut previous = 0;
    for action in personality.signal_actions.iter() {
        let signal = action.signal.to_native();
        if !(1..=MAX_SIGNAL).contains(&signal) || signal == SIGKILL || signal == SIGSTOP {
            return Err(invalid(format!(
                "personality: no action can be set for signal {signal}"
            )));
        }
        if signal <= previous {
            return Err(invalid(format!(
                "personality: signal {signal} is listed twice or out of order (signals are ascending)"
            )));
        }
        previous = signal;
    }
    let warned = &personality.warned_syscalls;
    if let Some(pair) = warned.windows(2).find(|w| w[0] >= w[1]) {
        return Err(invalid(format!(
            "personality: warned system call {} is listed twice or out of order (ascending)",
            pair[1]
        )));
    }
    Ok(())
}

/// A hint is a host path: empty, or absolute, without NUL, at most `MAX_PATH_LEN` bytes.
fn check_host_path(what: &str, hint: &[u8]) -> Result<(), CheckpointError> {
    if hint.is_empty() {
        return Ok(());
    }
    if hint.len() > MAX_PATH_LEN {
        return Err(invalid(format!(
            "{what}: path of {} bytes exceeds {MAX_PATH_LEN}",
            hint.len()
        )));
    }
    if hint[0] != b'/' || hint.contains(&0) {
        return Err(invalid(format!(
            "{what} {:?} is not an absolute path without NUL bytes",
            String::from_utf8_lossy(&hint[..hint.len().min(64)])
        )));
    }
    Ok(())
}
