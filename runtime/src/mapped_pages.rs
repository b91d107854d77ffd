//! Zero-copy restore: the pages a checkpoint keeps raw in its page store (spec.md §5.1, §5.4)
//! are mapped from the file into guest memory, copy-on-write (`MAP_PRIVATE`: the program's
//! writes stay its own and the file is never changed), instead of being read and copied. A
//! restore then costs the same whatever the memory size; the kernel reads each page from the
//! file (or the page cache) when the program first touches it.
//!
//! The store's digest is not read before the program starts (that would read every page):
//! [`StoreCheck`] checks it in the background, and the run fails if it does not match.

use std::ops::Range;
use std::os::fd::AsRawFd;
use std::thread::JoinHandle;

use xisa_format::checkpoint::{CheckpointError, CheckpointFile};
use xisa_format::memory_map::{merge_ranges, subtract_ranges};

use crate::machine::{HostRegion, host_range};

#[derive(Debug, thiserror::Error)]
pub enum MappedPagesError {
    #[error(
        "the checkpoint's pages at {start:#x}..{end:#x} are not in this machine's private memory"
    )]
    NotPrivate { start: u64, end: u64 },
    #[error("cannot map the checkpoint's pages at {start:#x}..{end:#x} from {file}")]
    Map {
        start: u64,
        end: u64,
        file: String,
        #[source]
        source: std::io::Error,
    },
}

/// One run of pages to map: guest addresses `guest`, from `file` at `offset`.
struct Run<'a> {
    guest: Range<u64>,
    file: &'a CheckpointFile,
    offset: u64,
}

/// Maps every page of `checkpoint`'s chain whose newest version lies in a page store into
/// guest memory (`regions`, as the machine maps it). Returns the guest ranges now backed by
/// checkpoint files, ascending: whatever restores the other pages must leave them alone.
///
/// On an error some pages may already be mapped; they hold the checkpoint's bytes, so an
/// eager restore over them is still correct.
pub fn map_store_pages(
    checkpoint: &CheckpointFile,
    regions: &[HostRegion],
) -> Result<Vec<Range<u64>>, MappedPagesError> {
    let runs = store_runs(checkpoint);
    let mut mapped = Vec::with_capacity(runs.len());
    for run in runs {
        let (start, end) = (run.guest.start, run.guest.end);
        let host =
            host_range(regions, &run.guest).ok_or(MappedPagesError::NotPrivate { start, end })?;
        let fd = run
            .file
            .store_file()
            .map(AsRawFd::as_raw_fd)
            .ok_or_else(|| MappedPagesError::Map {
                start,
                end,
                file: describe(run.file),
                source: std::io::Error::other("the checkpoint was not read from a file"),
            })?;
        // SAFETY: `host..host + len` lies inside guest memory that this process maps
        // privately (`HostRegion`) and that nothing uses yet (the machine is fresh and not
        // running); replacing it keeps the backend's pointers valid: same addresses, same
        // access, now backed copy-on-write by the file's bytes. The offset is page-aligned
        // (spec.md §5.1) and the run lies inside the file (validated when it was opened).
        let result = unsafe {
            libc::mmap(
                host as *mut libc::c_void,
                (end - start) as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_FIXED,
                fd,
                run.offset as libc::off_t,
            )
        };
        if result != host as *mut libc::c_void {
            return Err(MappedPagesError::Map {
                start,
                end,
                file: describe(run.file),
                source: std::io::Error::last_os_error(),
            });
        }
        mapped.push(start..end);
    }
    Ok(merge_ranges(mapped))
}

/// The runs to map, oldest checkpoint of the chain first; a run is cut where a younger
/// checkpoint stores the page (in any encoding: its version wins).
fn store_runs(checkpoint: &CheckpointFile) -> Vec<Run<'_>> {
    let chain = checkpoint.chain();
    let mut runs = Vec::new();
    for (age, file) in chain.iter().enumerate() {
        let younger = merge_ranges(chain[..age].iter().flat_map(|f| f.own_ranges()).collect());
        for (guest, offset, len) in file.own_store_runs() {
            let run = guest..guest + len;
            for piece in subtract_ranges(std::slice::from_ref(&run), &younger) {
                runs.push(Run {
                    offset: offset + (piece.start - guest),
                    guest: piece,
                    file,
                });
            }
        }
    }
    runs
}

fn describe(file: &CheckpointFile) -> String {
    file.path()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the checkpoint".into())
}

#[derive(Debug, thiserror::Error)]
pub enum StoreCheckError {
    #[error(transparent)]
    Damaged(#[from] CheckpointError),
    #[error("the page-store check stopped unexpectedly")]
    Stopped,
}

/// The page stores of a checkpoint's chain, checked against their digests on a thread of
/// their own while the program runs.
pub enum StoreCheck {
    Running(JoinHandle<Result<(), CheckpointError>>),
    Done(Result<(), CheckpointError>),
}

impl StoreCheck {
    pub fn start(checkpoint: &CheckpointFile) -> StoreCheck {
        let check = |checkpoint: &CheckpointFile| {
            checkpoint
                .chain()
                .into_iter()
                .try_for_each(CheckpointFile::verify_store)
        };
        // Without a page store there is nothing to read: no thread.
        if checkpoint.chain().iter().all(|f| f.store_file().is_none()) {
            return StoreCheck::Done(check(checkpoint));
        }
        let copy = checkpoint.clone();
        match std::thread::Builder::new()
            .name("store-check".into())
            .spawn(move || check(&copy))
        {
            Ok(thread) => StoreCheck::Running(thread),
            // No thread to spare: check here and now.
            Err(_) => StoreCheck::Done(check(checkpoint)),
        }
    }

    /// Waits for the check (at once if it is over).
    pub fn finish(self) -> Result<(), StoreCheckError> {
        match self {
            StoreCheck::Running(thread) => thread.join().map_err(|_| StoreCheckError::Stopped)?,
            StoreCheck::Done(result) => result,
        }
        .map_err(StoreCheckError::from)
    }
}
