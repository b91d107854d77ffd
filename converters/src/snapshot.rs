//! Neutral memory ⇄ checkpoint regions, shared by every executor.
//!
//! A checkpoint stores only the pages that differ from what a fresh run of the image holds
//! before its first instruction: the image's initial rodata and data bytes, zeros everywhere
//! else. Restoring is therefore "load the image's program, then write the stored pages"
//! (spec.md §5.4). Capture looks at the parts of neutral memory a program can have written:
//! the start-up block, the used part of the shadow stack, the image's regions, the brk heap
//! and the mmap regions.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use xisa_format::abi::ABI_VERSION;
use xisa_format::checkpoint::{
    self, Checkpoint, CheckpointError, CheckpointFile, FrameRecord, MAX_PATH_LEN, MapRecord,
    NeutralRegisters, PAGE_SIZE, PageCompression, PageDecoder, PageEncoder, PageRecord,
    PersonalityRecord, RegionRecord, ThreadRecord,
};
use xisa_format::image::Image;
use xisa_format::memory_map::{
    GUEST_PAGE_SIZE, MemoryMap, SHADOW_STACK, STARTUP, align_up, intersect_ranges, merge_ranges,
    ranges_contain,
};
use xisa_format::target::Target;
use xisa_personality::GuestMemory;

use crate::NeutralFrame;
use crate::control::CaptureReport;

/// Neutral symbol holding the shadow-stack pointer.
pub const SHADOW_STACK_POINTER: &str = "__xisa_ssp";
/// Neutral symbol holding the thread pointer.
pub const THREAD_POINTER: &str = "__xisa_thread_pointer";
/// Neutral symbol the migration points count down.
pub const COUNTDOWN: &str = "__xisa_countdown";
/// The countdown's value when no migration is wanted.
pub const COUNTDOWN_IDLE: i64 = i64::MAX;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read guest memory at {address:#x} ({length} bytes) for the checkpoint")]
    Read { address: u64, length: u64 },
    #[error("cannot write guest memory at {address:#x} while restoring")]
    Write { address: u64 },
    #[error("the program has no `{0}` symbol (was it built by this xisa-cc?)")]
    Symbol(&'static str),
    #[error(transparent)]
    Page(#[from] CheckpointError),
    #[error(
        "the program uses {features}, which keeps {captured_on} machine state in memory: a checkpoint captured on {captured_on} resumes only on {captured_on}, not {destination}"
    )]
    NativeState {
        features: String,
        captured_on: Target,
        destination: Target,
    },
    #[error("invalid checkpoint: thread {thread}, frame {index} (from the innermost): {reason}")]
    Frame {
        thread: usize,
        index: usize,
        reason: String,
    },
    #[error("cannot capture against the parent checkpoint {path}")]
    Parent {
        path: String,
        #[source]
        source: CheckpointError,
    },
    #[error(
        "page {address:#x} differs from the parent's, but the tracking of changed pages did not report it"
    )]
    UntrackedChange { address: u64 },
    #[error("cannot write the checkpoint to {path}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What an executor knows at a migration point, besides guest memory.
pub struct CaptureInput<'a> {
    pub image: &'a Image,
    pub source: Target,
    pub map: MemoryMap,
    /// Innermost first.
    pub frames: Vec<NeutralFrame>,
    pub personality: PersonalityRecord,
    /// The checkpoint to capture against: only pages that differ from its memory are stored
    /// (an incremental checkpoint, spec.md §5.4). `None` captures a complete one.
    pub parent: Option<Arc<CheckpointFile>>,
    /// With a parent: the pages that may differ from its memory, as a tracker of changed
    /// pages (the KVM dirty log) reports them; every other page is taken to be the parent's.
    /// `None` compares every page.
    pub changed: Option<ChangedPages>,
    pub compression: PageCompression,
}

/// The pages a tracker says changed since the parent was captured.
#[derive(Clone, Debug)]
pub struct ChangedPages {
    /// Page-aligned, ascending, disjoint.
    pub ranges: Vec<Range<u64>>,
    /// Compare the pages it left out too, and fail the capture if one of them changed (a
    /// check of the tracker).
    pub check: bool,
}

/// Reads an 8-byte neutral global.
pub fn read_global(
    image: &Image,
    memory: &dyn GuestMemory,
    name: &'static str,
) -> Result<u64, SnapshotError> {
    let address = image
        .manifest()
        .symbol_address(name)
        .ok_or(SnapshotError::Symbol(name))?;
    let bytes = memory
        .bytes(address, 8)
        .map_err(|_| SnapshotError::Read { address, length: 8 })?;
    Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
}

/// Copies the page at a guest address into the buffer, as it was at the capture.
pub type ReadPage<'r> = dyn FnMut(u64, &mut [u8; PAGE_SIZE]) -> Result<(), SnapshotError> + 'r;

/// A capture decided at a migration point: everything but the pages, and which guest ranges
/// hold the pages to store. Taking it needs the program held only for a few reads; the pages
/// can be encoded afterwards ([`CapturePlan::encode`]) from a copy-on-write view.
#[derive(Clone)]
pub struct CapturePlan {
    checkpoint: Checkpoint,
    ranges: Vec<Range<u64>>,
    parent: Option<Arc<CheckpointFile>>,
    changed: Option<ChangedPages>,
    compression: PageCompression,
}

impl CapturePlan {
    /// Page-aligned, ascending, disjoint.
    pub fn ranges(&self) -> &[Range<u64>] {
        &self.ranges
    }

    pub fn frames(&self) -> usize {
        self.checkpoint.threads.iter().map(|t| t.frames.len()).sum()
    }

    /// The checkpoint, with the pages `read_page` gives for each page of the ranges.
    pub fn encode(
        mut self,
        image: &Image,
        read_page: &mut ReadPage<'_>,
    ) -> Result<Checkpoint, SnapshotError> {
        self.checkpoint.regions = capture_ranges(
            image,
            read_page,
            &self.ranges,
            self.parent.as_deref(),
            self.changed.as_ref(),
            PageEncoder::with_compression(self.compression),
        )?;
        Ok(self.checkpoint)
    }

    /// The checkpoint without any page: what a post-copy move sends first (the pages follow
    /// from the held guest's memory).
    pub fn skeleton(&self) -> Checkpoint {
        self.checkpoint.clone()
    }
}

/// Copies the page at `address` out of `memory`.
pub fn copy_page(
    memory: &dyn GuestMemory,
    address: u64,
    out: &mut [u8; PAGE_SIZE],
) -> Result<(), SnapshotError> {
    let page = memory
        .bytes(address, GUEST_PAGE_SIZE)
        .map_err(|_| SnapshotError::Read {
            address,
            length: GUEST_PAGE_SIZE,
        })?;
    out.copy_from_slice(page);
    Ok(())
}

/// Builds the checkpoint of a program stopped at a migration point.
pub fn capture(
    memory: &dyn GuestMemory,
    input: CaptureInput<'_>,
) -> Result<Checkpoint, SnapshotError> {
    let image = input.image;
    plan_capture(memory, input)?.encode(image, &mut |address, out| copy_page(memory, address, out))
}

/// Plans the capture of a program stopped at a migration point (see [`CapturePlan`]).
pub fn plan_capture(
    memory: &dyn GuestMemory,
    input: CaptureInput<'_>,
) -> Result<CapturePlan, SnapshotError> {
    let CaptureInput {
        image,
        source,
        map,
        frames,
        personality,
        parent,
        changed,
        compression,
    } = input;
    if let Some(parent) = &parent {
        check_parent(parent, image, &map)?;
    }
    let shadow_stack_pointer = read_global(image, memory, SHADOW_STACK_POINTER)?;
    // A program that never sets a thread pointer may have had the global optimised away.
    let thread_pointer = read_global(image, memory, THREAD_POINTER).unwrap_or(0);
    let mut ranges = vec![STARTUP];
    let shadow_low =
        shadow_stack_pointer.clamp(SHADOW_STACK.start, SHADOW_STACK.end) & !(GUEST_PAGE_SIZE - 1);
    ranges.push(shadow_low..SHADOW_STACK.end);
    ranges.push(
        map.image.rodata().start..align_up(personality.brk.max(map.brk_base()), GUEST_PAGE_SIZE),
    );
    for region in &personality.mmap_regions {
        ranges.push(region.start..region.end);
    }
    let checkpoint = Checkpoint {
        image_id: image.id(),
        abi_version: ABI_VERSION,
        source_target: source.id(),
        created_unix_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        map: MapRecord {
            rodata_size: map.image.rodata_size,
            data_size: map.image.data_size,
            bss_size: map.image.bss_size,
            mem_top: map.mem_top,
        },
        threads: vec![ThreadRecord {
            frames: frames
                .into_iter()
                .map(|f| FrameRecord {
                    call_site: f.call_site,
                    record: f.record,
                })
                .collect(),
            registers: NeutralRegisters {
                shadow_stack_pointer,
                thread_pointer,
            },
        }],
        regions: Vec::new(),
        personality,
        image_hint: image
            .path()
            .map(|p| p.as_os_str().as_encoded_bytes().to_vec())
            .filter(|hint| hint.len() <= MAX_PATH_LEN)
            .unwrap_or_default(),
        parent_digest: parent
            .as_deref()
            .map_or(Checkpoint::NO_PARENT, CheckpointFile::digest),
        parent_hint: parent
            .as_ref()
            .and_then(|p| p.path())
            .and_then(|p| std::path::absolute(p).ok())
            .map(|p| p.into_os_string().into_encoded_bytes())
            .filter(|hint| hint.len() <= MAX_PATH_LEN && !hint.contains(&0))
            .unwrap_or_default(),
        // Filled in by the writer.
        store_digest: [0; 32],
    };
    // Without a parent every page is compared with a fresh run's.
    let changed = changed.filter(|_| parent.is_some());
    Ok(CapturePlan {
        checkpoint,
        ranges: merge(ranges),
        parent,
        changed,
        compression,
    })
}

/// A parent must be a checkpoint of this run: the same image and memory map.
fn check_parent(
    parent: &CheckpointFile,
    image: &Image,
    map: &MemoryMap,
) -> Result<(), SnapshotError> {
    parent
        .check_same_run(image.id(), *map)
        .map_err(|source| SnapshotError::Parent {
            path: parent
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            source,
        })
}

/// Captures, writes the file and reports; `state_time` is what the executor spent on frames,
/// registers and personality before calling.
pub fn capture_to_file(
    memory: &dyn GuestMemory,
    input: CaptureInput<'_>,
    path: &Path,
    state_time: Duration,
) -> Result<CaptureReport, SnapshotError> {
    let frames = input.frames.len();
    let started = Instant::now();
    let checkpoint = capture(memory, input)?;
    write_checkpoint(checkpoint, frames, path, state_time, started.elapsed())
}

/// Writes a captured checkpoint and reports; `memory_time` is what encoding its pages took.
pub fn write_checkpoint(
    checkpoint: Checkpoint,
    frames: usize,
    path: &Path,
    state_time: Duration,
    memory_time: Duration,
) -> Result<CaptureReport, SnapshotError> {
    let started = Instant::now();
    let pages = checkpoint
        .regions
        .iter()
        .map(|r| r.pages.len() as u64)
        .sum();
    let bytes = checkpoint::write(checkpoint)?;
    write_atomically(path, &bytes)?;
    Ok(CaptureReport {
        digest: checkpoint::header_digest(&bytes).expect("the writer writes a whole header"),
        changed_pages: None,
        path: path.to_path_buf(),
        point: 0,
        frames,
        pages,
        file_size: bytes.len() as u64,
        state_time,
        memory_time,
        write_time: started.elapsed(),
        response_latency: None,
        background: false,
    })
}

/// Writes `bytes` to `path` whole (see `xisa_format::output`): a reader never sees half a
/// checkpoint and a failed write leaves any earlier checkpoint intact.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SnapshotError> {
    xisa_format::output::write_whole(path, bytes, false).map_err(|source| SnapshotError::File {
        path: path.display().to_string(),
        source,
    })
}

/// Sorted, page-aligned, merged where they touch.
fn merge(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    for range in &mut ranges {
        range.start &= !(GUEST_PAGE_SIZE - 1);
        range.end = align_up(range.end, GUEST_PAGE_SIZE);
    }
    merge_ranges(ranges)
}

/// Encodes the pages of `ranges` that differ from their base, as regions of consecutive
/// such pages. The base is what a restore of `parent` holds there, or, without a parent, what
/// a fresh run holds. With a parent, pages the parent stores outside `ranges` (memory the
/// program has given back since) are stored as a fresh run holds them. With `changed`, only
/// the pages it names are read and compared (all of them when it asks for a check).
fn capture_ranges(
    image: &Image,
    read_page: &mut ReadPage<'_>,
    ranges: &[Range<u64>],
    parent: Option<&CheckpointFile>,
    changed: Option<&ChangedPages>,
    mut encoder: PageEncoder,
) -> Result<Vec<RegionRecord>, SnapshotError> {
    let mut decoder = PageDecoder::new();
    let mut pages: Vec<(u64, PageRecord)> = Vec::new();
    let mut buffer = [0u8; PAGE_SIZE];
    let mut base = [0u8; PAGE_SIZE];
    // What a restore of `parent` holds at `address`, where the chain stores a page.
    let mut parent_page =
        |address: u64, out: &mut [u8; PAGE_SIZE]| -> Result<bool, SnapshotError> {
            match parent.and_then(|p| p.page_at(address)) {
                Some(view) => {
                    decoder.materialise(address, view, image.initial_page(address), out)?;
                    Ok(true)
                }
                None => Ok(false),
            }
        };
    let walked = match changed {
        Some(changed) if !changed.check => intersect_ranges(ranges, &changed.ranges),
        _ => ranges.to_vec(),
    };
    for range in &walked {
        for address in (range.start..range.end).step_by(PAGE_SIZE) {
            read_page(address, &mut buffer)?;
            let unchanged = if parent_page(address, &mut base)? {
                buffer == base
            } else {
                image.holds_initial(address, &buffer)
            };
            if let Some(changed) = changed
                && !ranges_contain(&changed.ranges, address)
            {
                if !unchanged {
                    return Err(SnapshotError::UntrackedChange { address });
                }
                continue;
            }
            if !unchanged {
                pages.push((
                    address,
                    encoder.encode(&buffer, image.initial_page(address)),
                ));
            }
        }
    }
    if let Some(parent) = parent {
        for stored in parent.stored_ranges() {
            for address in (stored.start..stored.end).step_by(PAGE_SIZE) {
                if ranges.iter().any(|r| r.contains(&address)) {
                    continue;
                }
                parent_page(address, &mut base)?;
                if !image.holds_initial(address, &base) {
                    image.fresh_page(address, &mut buffer);
                    pages.push((
                        address,
                        encoder.encode(&buffer, image.initial_page(address)),
                    ));
                }
            }
        }
        pages.sort_by_key(|(address, _)| *address);
    }
    let mut regions: Vec<RegionRecord> = Vec::new();
    for (address, mut record) in pages {
        match regions.last_mut() {
            Some(last) if last.start + last.length == address => {
                record.index = last.pages.len() as u32;
                last.pages.push(record);
                last.length += GUEST_PAGE_SIZE;
            }
            _ => regions.push(RegionRecord {
                start: address,
                length: GUEST_PAGE_SIZE,
                pages: vec![record],
            }),
        }
    }
    Ok(regions)
}

/// Everything a checkpoint must agree on with its image, beyond the format's own rules:
/// identity, ABI and layout, then every frame's call site and record size.
pub fn validate_for_image(file: &CheckpointFile, image: &Image) -> Result<(), SnapshotError> {
    file.validate_against_image(image)?;
    let manifest = image.manifest();
    for (thread, record) in file.archived().threads.iter().enumerate() {
        for (index, frame) in record.frames.iter().enumerate() {
            let id = frame.call_site.to_native();
            let Some(expected) = manifest.record_size(id) else {
                return Err(SnapshotError::Frame {
                    thread,
                    index,
                    reason: format!("call site {id} does not exist in the image"),
                });
            };
            if frame.record.len() != expected as usize {
                return Err(SnapshotError::Frame {
                    thread,
                    index,
                    reason: format!(
                        "call site {id} keeps a {expected}-byte record, but the frame holds {} bytes",
                        frame.record.len()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Refuses to resume on `destination` a checkpoint whose program keeps native state in
/// memory (the image's `native_state`) when it was captured on another target.
pub fn check_destination(
    file: &CheckpointFile,
    image: &Image,
    destination: Target,
) -> Result<(), SnapshotError> {
    let features: Vec<&str> = image
        .manifest()
        .native_state
        .iter()
        .map(|f| f.as_str())
        .collect();
    let source = file.source_target();
    if features.is_empty() || source == destination {
        return Ok(());
    }
    Err(SnapshotError::NativeState {
        features: features.join(", "),
        captured_on: source,
        destination,
    })
}

/// Writes every stored page of a validated checkpoint into guest memory that holds a fresh
/// load of the image's program. Returns the number of pages written.
pub fn restore_memory(
    file: &CheckpointFile,
    image: &Image,
    memory: &mut dyn GuestMemory,
) -> Result<u64, SnapshotError> {
    let mut decoder = PageDecoder::new();
    let mut written = 0;
    for (address, view) in file.pages() {
        let out = memory
            .bytes_mut(address, GUEST_PAGE_SIZE)
            .map_err(|_| SnapshotError::Write { address })?;
        let out: &mut [u8; PAGE_SIZE] = out.try_into().expect("one page");
        decoder.materialise(address, view, image.initial_page(address), out)?;
        written += 1;
    }
    Ok(written)
}

/// The frames of a validated checkpoint's thread, innermost first.
pub fn frames(file: &CheckpointFile) -> Vec<NeutralFrame> {
    file.archived()
        .threads
        .first()
        .map(|thread| {
            thread
                .frames
                .iter()
                .map(|f| NeutralFrame {
                    call_site: f.call_site.to_native(),
                    record: f.record.to_vec(),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_align() {
        let merged = merge(vec![
            0x5000..0x5001,
            0x1000..0x3000,
            0x2800..0x4000,
            0x9000..0x9000,
        ]);
        assert_eq!(merged, vec![0x1000..0x4000, 0x5000..0x6000]);
    }
}
