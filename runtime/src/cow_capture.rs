//! Copy-on-write capture: the program is held only while its frames and a few registers are
//! read and its memory is write-protected; it then carries on while a thread encodes and
//! writes the pages as they were at the migration point.
//!
//! The thread encodes page after page straight from guest memory (protected, so unchanged),
//! unprotecting each page once it has it. A write to a page not encoded yet faults (the vCPU's,
//! the emulator's, Wasmtime's or the monitor's own write alike); between pages the thread
//! copies such a page aside, unprotects it and lets the write through, and encodes the copy
//! when it gets there. One thread does both, so no page is read while it changes.

use std::collections::HashMap;
use std::io;
use std::ops::Range;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use xisa_converters::control::CaptureReport;
use xisa_converters::snapshot::{self, CapturePlan, SnapshotError};
use xisa_format::image::Image;
use xisa_format::memory_map::GUEST_PAGE_SIZE;

use crate::machine::{HostRegion, host_range};
use crate::migration_point::CaptureRequest;
use crate::userfault::{FEATURE_PAGEFAULT_FLAG_WP, FEATURE_WP_UNPOPULATED, Userfault, Watch};

const PAGE: u64 = GUEST_PAGE_SIZE;
const PAGE_BYTES: usize = PAGE as usize;

#[derive(Debug, thiserror::Error)]
pub enum CowCaptureError {
    #[error("cannot write-protect guest memory with userfaultfd")]
    Protect(#[source] io::Error),
    #[error("guest range {start:#x}..{end:#x} is not in this machine's private memory")]
    NotPrivate { start: u64, end: u64 },
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("the capture thread stopped unexpectedly")]
    Crashed,
}

/// A watched guest range.
#[derive(Clone, Copy)]
struct Protected {
    host: u64,
    guest: u64,
    len: u64,
}

/// A capture being encoded in the background.
pub struct BackgroundCapture {
    thread: JoinHandle<Result<CaptureReport, CowCaptureError>>,
}

impl BackgroundCapture {
    /// Write-protects the plan's ranges in `regions` and starts encoding them into `path`.
    /// The caller lets the program carry on right after.
    pub fn start(
        plan: CapturePlan,
        image: &Image,
        regions: &[HostRegion],
        path: PathBuf,
        request: &CaptureRequest,
    ) -> Result<BackgroundCapture, CowCaptureError> {
        let userfault = Userfault::open(FEATURE_PAGEFAULT_FLAG_WP | FEATURE_WP_UNPOPULATED)
            .map_err(CowCaptureError::Protect)?;
        let mut protected = Vec::new();
        for range in plan.ranges() {
            let Range { start, end } = range.clone();
            let host =
                host_range(regions, range).ok_or(CowCaptureError::NotPrivate { start, end })?;
            protected.push(Protected {
                host: host as u64,
                guest: start,
                len: end - start,
            });
        }
        for range in &protected {
            userfault
                .register(range.host, range.len, Watch::WriteProtect)
                .map_err(CowCaptureError::Protect)?;
            userfault
                .write_protect(range.host, range.len, true)
                .map_err(CowCaptureError::Protect)?;
        }
        let encoder = Encoder {
            userfault,
            protected,
            saved: HashMap::new(),
        };
        let image = image.clone();
        // The program is held until the caller lets it go, right after this returns.
        let state_time = request.reached.elapsed();
        let (point, requested) = (request.point, request.requested);
        let thread = std::thread::Builder::new()
            .name("cow-capture".into())
            .spawn(move || {
                let mut report = encoder.run(plan, &image, path, state_time)?;
                report.point = point;
                report.response_latency = requested.map(|t| t.elapsed());
                Ok(report)
            })
            .map_err(CowCaptureError::Protect)?;
        Ok(BackgroundCapture { thread })
    }

    /// Waits for the checkpoint to be written.
    pub fn finish(self) -> Result<CaptureReport, CowCaptureError> {
        self.thread.join().unwrap_or(Err(CowCaptureError::Crashed))
    }
}

struct Encoder {
    userfault: Userfault,
    protected: Vec<Protected>,
    /// Pages written to after the capture, as they were before (by host address).
    saved: HashMap<u64, Box<[u8; PAGE_BYTES]>>,
}

impl Encoder {
    fn run(
        mut self,
        plan: CapturePlan,
        image: &Image,
        path: PathBuf,
        state_time: Duration,
    ) -> Result<CaptureReport, CowCaptureError> {
        let started = Instant::now();
        let frames = plan.frames();
        let mut protection_failed = None;
        let encoded = plan.encode(image, &mut |address, out| {
            if let Err(error) = self.serve_writes() {
                protection_failed = Some(error);
                return Err(SnapshotError::Read {
                    address,
                    length: PAGE,
                });
            }
            self.take_page(address, out)
        });
        // Whatever happened, the program must not stay blocked on a protected page.
        for range in &self.protected {
            let _ = self.userfault.write_protect(range.host, range.len, false);
            let _ = self.userfault.unregister(range.host, range.len);
        }
        if let Some(error) = protection_failed {
            return Err(CowCaptureError::Protect(error));
        }
        let checkpoint = encoded?;
        let mut report =
            snapshot::write_checkpoint(checkpoint, frames, &path, state_time, started.elapsed())?;
        report.background = true;
        Ok(report)
    }

    fn host_page(&self, address: u64) -> Option<u64> {
        self.protected.iter().find_map(|r| {
            let offset = address.checked_sub(r.guest)?;
            (offset < r.len).then_some(r.host + offset)
        })
    }

    /// Copies aside every page the program is waiting to write, and lets the writes through.
    fn serve_writes(&mut self) -> io::Result<()> {
        while let Some(fault) = self.userfault.next_fault(0)? {
            if fault.write_protect && !self.saved.contains_key(&fault.page) {
                let mut copy = Box::new([0u8; PAGE_BYTES]);
                // SAFETY: the page lies inside a protected range of guest memory this process
                // maps; it is still write-protected (only this thread unprotects), so nothing
                // changes it while it is copied.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        fault.page as *const u8,
                        copy.as_mut_ptr(),
                        PAGE_BYTES,
                    );
                }
                self.saved.insert(fault.page, copy);
            }
            self.userfault.write_protect(fault.page, PAGE, false)?;
        }
        Ok(())
    }

    /// The page at guest `address` as it was at the capture; unprotects it afterwards.
    fn take_page(&mut self, address: u64, out: &mut [u8; PAGE_BYTES]) -> Result<(), SnapshotError> {
        let host = self.host_page(address).ok_or(SnapshotError::Read {
            address,
            length: PAGE,
        })?;
        match self.saved.remove(&host) {
            Some(copy) => out.copy_from_slice(&copy[..]),
            None => {
                // SAFETY: as in `serve_writes`: a protected page of guest memory that nothing
                // else may change until this thread unprotects it below.
                unsafe {
                    std::ptr::copy_nonoverlapping(host as *const u8, out.as_mut_ptr(), PAGE_BYTES);
                }
                self.userfault
                    .write_protect(host, PAGE, false)
                    .map_err(|_| SnapshotError::Read {
                        address,
                        length: PAGE,
                    })?;
            }
        }
        Ok(())
    }
}
