//! Lazy restore: the guest starts at once and each page of its checkpoint is decoded on first
//! touch, while a background pass fills in the rest.
//!
//! The guest's pages in the checkpoint's regions are replaced by missing pages and watched
//! with a userfaultfd. One thread serves the faults — the vCPU's, the emulator's,
//! Wasmtime's and the monitor's own accesses alike — and, between faults, fills every page
//! that is not zero in address order. When all are filled it stops watching: zero pages read
//! as zero from then on without help. Every backend whose memory is private to this process
//! gets this unchanged; process mode (memory shared with another process) restores eagerly.

use std::collections::HashSet;
use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use xisa_format::checkpoint::{PAGE_SIZE, PageDecoder};
use xisa_format::image::Image;
use xisa_format::memory_map::{GUEST_PAGE_SIZE, subtract_ranges};

use crate::machine::{HostRegion, host_range};
use crate::page_source::{PageSource, PageSourceError};
use crate::userfault::{Userfault, Watch};

const PAGE: u64 = GUEST_PAGE_SIZE;
/// Pages the background pass takes from a page stream per round trip: few round trips (each
/// crosses both nodes), while a fault that comes meanwhile waits for at most 64 KiB.
const STREAM_BATCH: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum LazyRestoreError {
    #[error("cannot watch guest memory with userfaultfd")]
    Watch(#[source] io::Error),
    #[error("the checkpoint's region {start:#x}..{end:#x} is not in this machine's private memory")]
    NotPrivate { start: u64, end: u64 },
    #[error("cannot fill guest page {address:#x}")]
    Fill {
        address: u64,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Page(#[from] PageSourceError),
    #[error("the lazy-restore thread stopped unexpectedly")]
    Crashed,
}

/// What the lazy restore did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LazyRestoreStats {
    /// Pages filled because the guest (or the monitor) touched them first.
    pub on_demand: u64,
    /// Pages filled by the background pass.
    pub prefetched: u64,
    /// From the start to the last page filled, if the pass finished before the run ended.
    pub complete_after: Option<Duration>,
}

/// A watched range of guest memory.
#[derive(Clone, Copy, Debug)]
struct Watched {
    host: u64,
    guest: u64,
    len: u64,
}

impl Watched {
    fn host_page(&self, guest_address: u64) -> Option<u64> {
        let offset = guest_address.checked_sub(self.guest)?;
        (offset < self.len).then_some(self.host + offset)
    }

    fn guest_address(&self, host_page: u64) -> Option<u64> {
        let offset = host_page.checked_sub(self.host)?;
        (offset < self.len).then_some(self.guest + offset)
    }
}

/// Why a lazy restore did not start, and the page source back when guest memory is still
/// as it was (the restore can then be eager).
pub struct NotStarted {
    pub error: LazyRestoreError,
    pub source: Option<PageSource>,
}

/// A lazy restore in progress: the serving thread runs until [`LazyRestore::finish`].
pub struct LazyRestore {
    stop: Arc<AtomicBool>,
    server: Option<JoinHandle<Result<LazyRestoreStats, LazyRestoreError>>>,
}

impl LazyRestore {
    /// Drops the source's ranges (a checkpoint chain's regions), but for those already
    /// `mapped` from the checkpoint, from guest memory (`regions`, as the machine maps it)
    /// and starts the thread that fills them. Nothing may touch guest memory between the
    /// machine's creation and this call but the fresh load of the program.
    pub fn start(
        source: PageSource,
        image: &Image,
        regions: &[HostRegion],
        mapped: &[Range<u64>],
    ) -> Result<Self, Box<NotStarted>> {
        match Self::watch(&source, regions, mapped) {
            Ok((userfault, watched)) => Self::serve_from(source, image, userfault, watched)
                .map_err(|error| {
                    Box::new(NotStarted {
                        error,
                        source: None,
                    })
                }),
            Err(error) => Err(Box::new(NotStarted {
                error,
                source: Some(source),
            })),
        }
    }

    /// Replaces the source's ranges of guest memory, but for the `mapped` ones (already
    /// backed by the checkpoint's page store), with missing pages watched by a userfaultfd.
    fn watch(
        source: &PageSource,
        regions: &[HostRegion],
        mapped: &[Range<u64>],
    ) -> Result<(Userfault, Vec<Watched>), LazyRestoreError> {
        let userfault = Userfault::open(0).map_err(LazyRestoreError::Watch)?;
        let mut watched = Vec::new();
        for range in subtract_ranges(&source.ranges(), mapped) {
            let (start, len) = (range.start, range.end - range.start);
            let len = len.next_multiple_of(PAGE);
            let host =
                host_range(regions, &(start..start + len)).ok_or(LazyRestoreError::NotPrivate {
                    start,
                    end: start + len,
                })?;
            watched.push(Watched {
                host: host as u64,
                guest: start,
                len,
            });
        }
        for range in &watched {
            // A fresh private mapping, not MADV_DONTNEED: a backend may map guest memory
            // from a file (Wasmtime maps its initial memory image), where dropped pages come
            // back from the file instead of faulting.
            // SAFETY: the range lies inside guest memory that this process maps (`HostRegion`)
            // and that nothing uses yet; replacing it leaves the backend's pointers valid
            // (same addresses, same access) with pages that are missing until filled.
            let mapped = unsafe {
                libc::mmap(
                    range.host as *mut libc::c_void,
                    range.len as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if mapped != range.host as *mut libc::c_void {
                return Err(LazyRestoreError::Watch(io::Error::last_os_error()));
            }
            userfault
                .register(range.host, range.len, Watch::Missing)
                .map_err(LazyRestoreError::Watch)?;
        }
        Ok((userfault, watched))
    }

    fn serve_from(
        source: PageSource,
        image: &Image,
        userfault: Userfault,
        watched: Vec<Watched>,
    ) -> Result<Self, LazyRestoreError> {
        let stop = Arc::new(AtomicBool::new(false));
        let server = Server {
            userfault,
            watched,
            source,
            image: image.clone(),
            stop: Arc::clone(&stop),
        };
        let server = std::thread::Builder::new()
            .name("lazy-restore".into())
            .spawn(move || server.serve())
            .map_err(LazyRestoreError::Watch)?;
        Ok(LazyRestore {
            stop,
            server: Some(server),
        })
    }

    /// Stops the thread (after the run: the guest touches nothing any more) and reports.
    pub fn finish(mut self) -> Result<LazyRestoreStats, LazyRestoreError> {
        self.stop_server()
    }

    fn stop_server(&mut self) -> Result<LazyRestoreStats, LazyRestoreError> {
        self.stop.store(true, Ordering::Release);
        match self.server.take() {
            Some(server) => server.join().unwrap_or(Err(LazyRestoreError::Crashed)),
            None => Ok(LazyRestoreStats::default()),
        }
    }
}

impl Drop for LazyRestore {
    fn drop(&mut self) {
        let _ = self.stop_server();
    }
}

/// The serving thread's state.
struct Server {
    userfault: Userfault,
    /// Ascending by guest address, disjoint.
    watched: Vec<Watched>,
    source: PageSource,
    image: Image,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn serve(mut self) -> Result<LazyRestoreStats, LazyRestoreError> {
        let started = Instant::now();
        let result = self.fill_pages(started);
        // Whatever happened, nothing may stay blocked on a page: unwatching wakes every
        // waiting fault (the remaining missing pages are zero pages by then, or the run is
        // over).
        for range in &self.watched {
            let _ = self.userfault.unregister(range.host, range.len);
        }
        // Every page is here, or the run that needed them is over.
        let stats = result?;
        self.source.finish()?;
        Ok(stats)
    }

    fn fill_pages(&mut self, started: Instant) -> Result<LazyRestoreStats, LazyRestoreError> {
        let mut stats = LazyRestoreStats::default();
        let mut decoder = PageDecoder::new();
        let mut filled: HashSet<u64> = HashSet::new();
        // The background pass walks guest addresses; `None` once it is through.
        let mut next_from = Some(0u64);
        loop {
            // Faults first: a touched page is needed now.
            if let Some(fault) = self
                .userfault
                .next_fault(0)
                .map_err(LazyRestoreError::Watch)?
            {
                if filled.insert(fault.page) {
                    self.fill(fault.page, &mut decoder, true)?;
                    stats.on_demand += 1;
                } else {
                    // Filled meanwhile: the fault only needs waking.
                    self.userfault
                        .wake(fault.page, PAGE)
                        .map_err(LazyRestoreError::Watch)?;
                }
                continue;
            }
            if self.stop.load(Ordering::Acquire) {
                return Ok(stats);
            }
            let Some(from) = next_from else {
                stats.complete_after = Some(started.elapsed());
                // Every page that is not zero is in place: stop watching.
                return Ok(stats);
            };
            if let PageSource::Remote(remote) = &mut self.source {
                // A page stream hands out only the pages that are not zero (no round trip for
                // the others, which read as zero once unwatched), a few per round trip.
                let mut batch = Vec::new();
                next_from = remote
                    .next_nonzero(from, STREAM_BATCH, &mut batch)
                    .map_err(PageSourceError::from)?;
                for (address, bytes) in batch {
                    let page = self.host_page(address);
                    if let Some(page) = page
                        && filled.insert(page)
                    {
                        self.userfault
                            .copy(page, &bytes)
                            .map_err(|source| LazyRestoreError::Fill { address, source })?;
                        stats.prefetched += 1;
                    }
                }
            } else {
                next_from = self.next_watched(from);
                let page = next_from.and_then(|a| self.host_page(a));
                next_from = next_from.map(|address| address + PAGE);
                if let Some(page) = page
                    && !filled.contains(&page)
                    && self.fill(page, &mut decoder, false)?
                {
                    filled.insert(page);
                    stats.prefetched += 1;
                }
            }
        }
    }

    /// The first guest page at or after `from` that is watched.
    fn next_watched(&self, from: u64) -> Option<u64> {
        // Watched ranges are ascending and disjoint (and many where mapped pages cut them).
        let after = self.watched.partition_point(|r| r.guest + r.len <= from);
        self.watched.get(after).map(|r| r.guest.max(from))
    }

    /// The host page of watched guest address `address`.
    fn host_page(&self, address: u64) -> Option<u64> {
        let after = self.watched.partition_point(|r| r.guest + r.len <= address);
        self.watched.get(after)?.host_page(address)
    }

    /// Fills the page at host address `page`. In the background pass zero pages are left
    /// missing (they read as zero once unwatched): `false`.
    fn fill(
        &mut self,
        page: u64,
        decoder: &mut PageDecoder,
        touched: bool,
    ) -> Result<bool, LazyRestoreError> {
        let Some(address) = self.watched.iter().find_map(|r| r.guest_address(page)) else {
            return Ok(false);
        };
        let fail = |source| LazyRestoreError::Fill { address, source };
        let mut bytes = [0u8; PAGE_SIZE];
        if self
            .source
            .page(address, &self.image, decoder, &mut bytes)?
        {
            self.userfault.copy(page, &bytes).map_err(fail)?;
            Ok(true)
        } else {
            if touched {
                self.userfault.zero(page).map_err(fail)?;
            }
            Ok(touched)
        }
    }
}
