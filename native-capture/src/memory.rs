//! Guest RAM of a native guest: host mappings (vm-memory) for every accessible part of the
//! memory map, identity-mapped into the guest. The guard ranges (null guard, native-stack guard,
//! shadow-stack guard) are holes: any guest access there leaves the guest as a fault.

use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use vm_memory::{
    GuestAddress, GuestMemoryBackend as _, GuestMemoryMmap, GuestMemoryRegion, GuestRegionMmap,
    MemoryRegionAddress, MmapRegion,
};
use xisa_format::memory_map::{
    MemoryMap, NULL_GUARD_END, SHADOW_STACK_GUARD, merge_ranges, native,
};
use xisa_personality::{Errno, GuestMemory};

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("cannot reserve {size:#x} bytes of guest memory at {start:#x}: {reason}")]
    Reserve {
        start: u64,
        size: u64,
        reason: String,
    },
}

/// Huge-page size of both ISAs' hosts: guest RAM is placed so that host and guest addresses
/// agree modulo this, which lets the host back it with transparent huge pages and the
/// hypervisor map it with 2 MiB second-level entries.
const HUGE_PAGE: u64 = 0x20_0000;

/// Guest page size, the granule of write tracking.
pub const PAGE: u64 = 4096;

/// Below this size `zero` clears bytes in place rather than handing pages back to the host:
/// small mmap/munmap churn (malloc) would otherwise fault every page in again, and discarding
/// part of a huge page splits it.
const DISCARD_THRESHOLD: usize = 0x20_0000;

/// One host mapping covering guest addresses `[0, mem_top)`, huge-page aligned: private
/// anonymous memory, or a memory file shared with a guest process.
struct Reservation {
    base: *mut u8,
    len: usize,
    /// The memory file behind a shared reservation (its offsets are guest addresses).
    file: Option<OwnedFd>,
}

impl Reservation {
    fn new(mem_top: u64, shared: bool) -> Result<Self, MemoryError> {
        let fail = |reason: String| MemoryError::Reserve {
            start: 0,
            size: mem_top,
            reason,
        };
        let len = usize::try_from(mem_top).map_err(|e| fail(e.to_string()))?;
        let padded = len
            .checked_add(HUGE_PAGE as usize)
            .ok_or_else(|| fail("size overflows".into()))?;
        // SAFETY: a fresh private anonymous mapping with no fixed address touches nothing
        // that exists.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                padded,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(fail(std::io::Error::last_os_error().to_string()));
        }
        let start = raw as usize;
        let aligned = start.next_multiple_of(HUGE_PAGE as usize);
        let head = aligned - start;
        let tail = padded - head - len;
        // SAFETY: head and tail are the unused ends of the mapping just made.
        unsafe {
            if head > 0 {
                libc::munmap(raw, head);
            }
            if tail > 0 {
                libc::munmap((aligned + len) as *mut libc::c_void, tail);
            }
        }
        let file = if shared {
            Some(Self::map_file(aligned, len).map_err(|e| fail(e.to_string()))?)
        } else {
            // SAFETY: advice on the mapping just made; it only changes how the kernel backs
            // it, and is best effort: without transparent huge pages the mapping still works.
            unsafe { libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
            None
        };
        Ok(Reservation {
            base: aligned as *mut u8,
            len,
            file,
        })
    }

    /// Replaces the anonymous mapping at `[base, base + len)` with a shared mapping of a new
    /// memory file of that size.
    fn map_file(base: usize, len: usize) -> std::io::Result<OwnedFd> {
        // SAFETY: a plain system call with a static name; the returned descriptor is owned
        // by the OwnedFd below.
        let raw = unsafe { libc::memfd_create(c"xisa-guest-memory".as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let file = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: resizing the file we own; `len` came from a usize.
        if unsafe { libc::ftruncate(file.as_raw_fd(), len as libc::off_t) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the range is the reservation's own anonymous mapping, which nothing refers
        // to yet; MAP_FIXED replaces it with the file.
        let mapped = unsafe {
            libc::mmap(
                base as *mut libc::c_void,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_FIXED | libc::MAP_NORESERVE,
                file.as_raw_fd(),
                0,
            )
        };
        if mapped == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(file)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by Reservation::new and every view of it (the
        // vm-memory regions, declared before it in GuestRam) is gone.
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.len) };
    }
}

pub struct GuestRam {
    // Field order matters: the regions borrow the reservation's mapping and drop first.
    memory: GuestMemoryMmap,
    _reservation: Reservation,
    map: MemoryMap,
    /// While tracking: the guest ranges the monitor has written since last asked.
    written: Option<Vec<Range<u64>>>,
}

/// One contiguous accessible range with its host address.
#[derive(Clone, Copy, Debug)]
pub struct HostRange {
    pub guest: u64,
    pub size: u64,
    pub host: *mut u8,
}

impl GuestRam {
    /// The guest-accessible ranges of `map`: everything below `mem_top` except the guards.
    pub fn accessible_ranges(map: &MemoryMap) -> Vec<Range<u64>> {
        let holes = [0..NULL_GUARD_END, native::STACK_GUARD, SHADOW_STACK_GUARD];
        let mut ranges = Vec::new();
        let mut start = 0;
        for hole in holes {
            if hole.start > start {
                ranges.push(start..hole.start);
            }
            start = hole.end;
        }
        ranges.push(start..map.mem_top);
        ranges
    }

    /// Private guest memory, for guests that run inside this process (KVM, emulation).
    pub fn new(map: MemoryMap) -> Result<Self, MemoryError> {
        Self::reserve(map, false)
    }

    /// Guest memory backed by a memory file that a guest process maps too (process mode):
    /// offset N of [`GuestRam::shared_file`] is guest address N.
    pub fn new_shared(map: MemoryMap) -> Result<Self, MemoryError> {
        Self::reserve(map, true)
    }

    /// The memory file behind shared guest memory.
    pub fn shared_file(&self) -> Option<BorrowedFd<'_>> {
        self._reservation.file.as_ref().map(|f| f.as_fd())
    }

    fn reserve(map: MemoryMap, shared: bool) -> Result<Self, MemoryError> {
        let reservation = Reservation::new(map.mem_top, shared)?;
        let mut regions = Vec::new();
        for range in Self::accessible_ranges(&map) {
            let fail = |reason: String| MemoryError::Reserve {
                start: range.start,
                size: range.end - range.start,
                reason,
            };
            // SAFETY: range lies inside [0, mem_top), so the pointer and length stay inside
            // the reservation, which outlives the region (see GuestRam's field order).
            let region = unsafe {
                MmapRegion::build_raw(
                    reservation.base.add(range.start as usize),
                    (range.end - range.start) as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                    if shared {
                        libc::MAP_SHARED | libc::MAP_NORESERVE
                    } else {
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE
                    },
                )
            }
            .map_err(|e| fail(e.to_string()))?;
            let region = GuestRegionMmap::new(region, GuestAddress(range.start))
                .ok_or_else(|| fail("region wraps the address space".into()))?;
            regions.push(region);
        }
        let memory = GuestMemoryMmap::from_regions(regions).map_err(|e| MemoryError::Reserve {
            start: 0,
            size: map.mem_top,
            reason: e.to_string(),
        })?;
        // The guard holes stay mapped in the host but are never registered with a vCPU;
        // making them inaccessible catches any host-side slip as well.
        for hole in [0..NULL_GUARD_END, native::STACK_GUARD, SHADOW_STACK_GUARD] {
            // SAFETY: each hole lies inside the reservation and nothing refers to it.
            unsafe {
                libc::mprotect(
                    reservation.base.add(hole.start as usize) as *mut libc::c_void,
                    (hole.end - hole.start) as usize,
                    libc::PROT_NONE,
                );
            }
        }
        Ok(GuestRam {
            memory,
            _reservation: reservation,
            map,
            written: None,
        })
    }

    pub fn map(&self) -> &MemoryMap {
        &self.map
    }

    /// Host views of every region, for registering with a hypervisor or emulator.
    pub fn host_ranges(&self) -> Vec<HostRange> {
        self.memory
            .iter()
            .map(|region| HostRange {
                guest: region.start_addr().0,
                size: region.len(),
                host: region
                    .get_host_address(MemoryRegionAddress(0))
                    .expect("region start is mapped"),
            })
            .collect()
    }

    /// The one place native guest addresses are checked: `[addr, addr + len)` must lie inside
    /// one accessible region, clear of every guard.
    fn host_slice(&self, addr: u64, len: u64) -> Result<(*mut u8, usize), Errno> {
        if len == 0 {
            return Ok((std::ptr::NonNull::dangling().as_ptr(), 0));
        }
        let end = addr.checked_add(len).ok_or(Errno::EFAULT)?;
        if !self.map.is_accessible(addr, len) {
            return Err(Errno::EFAULT);
        }
        let region = self
            .memory
            .find_region(GuestAddress(addr))
            .ok_or(Errno::EFAULT)?;
        let region_end = region.start_addr().0 + region.len();
        if end > region_end {
            return Err(Errno::EFAULT);
        }
        let host = region
            .get_host_address(MemoryRegionAddress(addr - region.start_addr().0))
            .map_err(|_| Errno::EFAULT)?;
        Ok((host, len as usize))
    }

    /// Copies `bytes` into guest memory (loader use; the vCPU is not running).
    pub fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
        self.bytes_mut(addr, bytes.len() as u64)?
            .copy_from_slice(bytes);
        Ok(())
    }

    /// Starts noting the guest pages the monitor writes (system calls' results, zeroed
    /// ranges): a hypervisor's dirty log sees only the guest's own writes.
    pub fn track_writes(&mut self) {
        self.written = Some(Vec::new());
    }

    /// The pages the monitor wrote since tracking started or this was last asked, ascending
    /// and page-aligned; `None` when not tracking.
    pub fn take_written(&mut self) -> Option<Vec<Range<u64>>> {
        let written = self.written.as_mut()?;
        Some(merge_ranges(std::mem::take(written)))
    }

    fn note_written(&mut self, addr: u64, len: usize) {
        if let Some(written) = &mut self.written
            && len > 0
        {
            let end = addr + len as u64;
            let range = addr / PAGE * PAGE..end.div_ceil(PAGE) * PAGE;
            // Runs of small writes to one place (a loop of reads into a buffer) stay one entry.
            match written.last_mut() {
                Some(last) if last.start <= range.start && range.end <= last.end => {}
                _ => written.push(range),
            }
        }
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64, Errno> {
        let bytes = self.bytes(addr, 8)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }
}

impl GuestMemory for GuestRam {
    fn map(&self) -> &MemoryMap {
        &self.map
    }

    fn bytes(&self, addr: u64, len: u64) -> Result<&[u8], Errno> {
        let (host, len) = self.host_slice(addr, len)?;
        // SAFETY: host_slice checked that [host, host + len) lies inside one live mapping owned
        // by self.memory; the vCPU is stopped whenever the monitor holds a view of guest memory,
        // so nothing else writes it while the slice lives.
        Ok(unsafe { std::slice::from_raw_parts(host, len) })
    }

    fn bytes_mut(&mut self, addr: u64, len: u64) -> Result<&mut [u8], Errno> {
        let (host, len) = self.host_slice(addr, len)?;
        self.note_written(addr, len);
        // SAFETY: as in `bytes`; `&mut self` makes this the only view.
        Ok(unsafe { std::slice::from_raw_parts_mut(host, len) })
    }

    fn zero(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        let (host, len) = self.host_slice(addr, len)?;
        self.note_written(addr, len);
        if len < DISCARD_THRESHOLD {
            // SAFETY: the whole range was checked by host_slice.
            unsafe { std::ptr::write_bytes(host, 0, len) };
            return Ok(());
        }
        // Whole pages go back to the host (they read as zero again); the edges are cleared.
        let page = 4096usize;
        let start = host as usize;
        let aligned_start = start.next_multiple_of(page);
        let aligned_end = (start + len) / page * page;
        if aligned_end > aligned_start {
            // Private anonymous pages read as zero after MADV_DONTNEED; pages of a memory file
            // only after MADV_REMOVE frees them from the file.
            let advice = if self._reservation.file.is_some() {
                libc::MADV_REMOVE
            } else {
                libc::MADV_DONTNEED
            };
            // SAFETY: the range is inside a mapping we own; the advice makes the pages read
            // as zero and has no other effect.
            let result = unsafe {
                libc::madvise(
                    aligned_start as *mut libc::c_void,
                    aligned_end - aligned_start,
                    advice,
                )
            };
            if result == 0 {
                // SAFETY: both edges lie inside the checked range.
                unsafe {
                    std::ptr::write_bytes(host, 0, aligned_start - start);
                    std::ptr::write_bytes(aligned_end as *mut u8, 0, start + len - aligned_end);
                }
                return Ok(());
            }
        }
        // SAFETY: the whole range was checked by host_slice.
        unsafe { std::ptr::write_bytes(host, 0, len) };
        Ok(())
    }
}

// SAFETY: the mappings are owned by GuestRam and only touched through &self/&mut self or by
// the vCPU thread that owns the GuestRam.
unsafe impl Send for GuestRam {}

#[cfg(test)]
mod tests {
    use super::*;
    use xisa_format::memory_map::{ImageLayout, MIN_MEM_TOP};

    fn ram() -> GuestRam {
        let map = MemoryMap {
            image: ImageLayout {
                rodata_size: 0x100,
                data_size: 0,
                bss_size: 0,
            },
            mem_top: MIN_MEM_TOP,
        };
        GuestRam::new(map).unwrap()
    }

    #[test]
    fn guards_are_holes_and_bounds_are_checked() {
        let mut ram = ram();
        assert_eq!(ram.bytes(0, 1).err(), Some(Errno::EFAULT));
        assert_eq!(
            ram.bytes(native::STACK_GUARD.start, 8).err(),
            Some(Errno::EFAULT)
        );
        assert_eq!(
            ram.bytes(native::STACK_GUARD.start - 4, 8).err(),
            Some(Errno::EFAULT)
        );
        assert_eq!(
            ram.bytes(SHADOW_STACK_GUARD.start, 1).err(),
            Some(Errno::EFAULT)
        );
        assert_eq!(ram.bytes(MIN_MEM_TOP - 4, 8).err(), Some(Errno::EFAULT));
        assert_eq!(ram.bytes(u64::MAX - 3, 8).err(), Some(Errno::EFAULT));
        ram.write(0x600_0000, b"neutral").unwrap();
        assert_eq!(ram.bytes(0x600_0000, 7).unwrap(), b"neutral");
        ram.write(native::STACK.end - 8, &7u64.to_le_bytes())
            .unwrap();
        assert_eq!(ram.read_u64(native::STACK.end - 8).unwrap(), 7);
    }

    #[test]
    fn zero_clears_pages_and_edges() {
        let mut ram = ram();
        let base = 0x700_0000;
        ram.write(base, &[0xaa; 3 * 4096]).unwrap();
        ram.zero(base + 10, 2 * 4096).unwrap();
        let bytes = ram.bytes(base, 3 * 4096).unwrap();
        assert!(bytes[..10].iter().all(|b| *b == 0xaa));
        assert!(bytes[10..10 + 2 * 4096].iter().all(|b| *b == 0));
        assert!(bytes[10 + 2 * 4096..].iter().all(|b| *b == 0xaa));

        // A range past the threshold goes back to the host in whole pages.
        let big = DISCARD_THRESHOLD as u64 * 2;
        ram.write(base, &vec![0x55; big as usize + 3 * 4096])
            .unwrap();
        ram.zero(base + 10, big).unwrap();
        let bytes = ram.bytes(base, big + 3 * 4096).unwrap();
        assert!(bytes[..10].iter().all(|b| *b == 0x55));
        assert!(bytes[10..10 + big as usize].iter().all(|b| *b == 0));
        assert!(bytes[10 + big as usize..].iter().all(|b| *b == 0x55));
    }

    #[test]
    fn shared_memory_is_one_file_and_zeroes_like_private_memory() {
        let map = *ram().map();
        let mut shared = GuestRam::new_shared(map).unwrap();
        let fd = shared.shared_file().unwrap().as_raw_fd();
        let base = 0x700_0000u64;
        let big = DISCARD_THRESHOLD as u64 * 2;
        shared.write(base, &vec![0x77; big as usize]).unwrap();
        // The file holds the bytes at the guest address.
        let mut byte = [0u8; 1];
        // SAFETY: reading one byte from our own descriptor into a local buffer.
        let n = unsafe { libc::pread(fd, byte.as_mut_ptr().cast(), 1, base as libc::off_t + 5) };
        assert_eq!((n, byte[0]), (1, 0x77));
        shared.zero(base, big).unwrap();
        assert!(shared.bytes(base, big).unwrap().iter().all(|b| *b == 0));
        // SAFETY: as above.
        let n = unsafe { libc::pread(fd, byte.as_mut_ptr().cast(), 1, base as libc::off_t + 5) };
        assert_eq!((n, byte[0]), (1, 0));
        assert!(ram().shared_file().is_none());
    }

    #[test]
    fn host_and_guest_addresses_agree_modulo_huge_pages() {
        let ram = ram();
        for range in ram.host_ranges() {
            assert_eq!(range.host as u64 % HUGE_PAGE, range.guest % HUGE_PAGE);
        }
    }
}
