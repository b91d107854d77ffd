//! The guest's linear memory as [`GuestMemory`] for the host side: the personality's system
//! calls, migration points, captures and restores.

use xisa_format::memory_map::MemoryMap;
use xisa_personality::{Errno, GuestMemory};
use xisa_runtime::HostRegion;

/// A view of a linear memory that never moves (the engine reserves the whole guest address
/// space and never relocates it), valid for as long as its store lives.
pub struct LinearMemory {
    base: *mut u8,
    len: usize,
    map: MemoryMap,
}

impl LinearMemory {
    /// # Safety
    /// `[base, base + len)` must be the linear memory of a store that outlives this view and
    /// never moves; the host must touch it only while the guest is not running, or from host
    /// functions the guest called.
    pub unsafe fn new(base: *mut u8, len: usize, map: MemoryMap) -> Self {
        LinearMemory { base, len, map }
    }

    /// The whole linear memory: guest address N is byte N.
    pub fn host_region(&self) -> HostRegion {
        HostRegion {
            guest: 0,
            size: self.len as u64,
            host: self.base,
        }
    }

    /// The one place wasm64 guest addresses are checked: inside the memory, clear of guards.
    fn range(&self, addr: u64, len: u64) -> Result<(usize, usize), Errno> {
        if len == 0 {
            return Ok((0, 0));
        }
        if !self.map.is_accessible(addr, len) {
            return Err(Errno::EFAULT);
        }
        let start = usize::try_from(addr).map_err(|_| Errno::EFAULT)?;
        let len = usize::try_from(len).map_err(|_| Errno::EFAULT)?;
        if start.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(Errno::EFAULT);
        }
        Ok((start, len))
    }
}

impl GuestMemory for LinearMemory {
    fn map(&self) -> &MemoryMap {
        &self.map
    }

    fn bytes(&self, addr: u64, len: u64) -> Result<&[u8], Errno> {
        let (start, len) = self.range(addr, len)?;
        if len == 0 {
            return Ok(&[]);
        }
        // SAFETY: `range` checked that the bytes lie inside the live linear memory (see `new`).
        Ok(unsafe { std::slice::from_raw_parts(self.base.add(start), len) })
    }

    fn bytes_mut(&mut self, addr: u64, len: u64) -> Result<&mut [u8], Errno> {
        let (start, len) = self.range(addr, len)?;
        if len == 0 {
            return Ok(&mut []);
        }
        // SAFETY: as in `bytes`; `&mut self` makes this the only view the host holds.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.base.add(start), len) })
    }
}

// SAFETY: the memory belongs to the store that owns this view; both move together between
// threads and are used by one thread at a time.
unsafe impl Send for LinearMemory {}

#[cfg(test)]
mod tests {
    use super::*;
    use xisa_format::memory_map::{ImageLayout, MIN_MEM_TOP, NULL_GUARD_END};

    #[test]
    fn addresses_are_checked_against_guards_and_the_memory() {
        let map = MemoryMap {
            image: ImageLayout {
                rodata_size: 0x100,
                data_size: 0,
                bss_size: 0,
            },
            mem_top: MIN_MEM_TOP,
        };
        let mut data = vec![0u8; MIN_MEM_TOP as usize];
        // SAFETY: `data` outlives the view and does not move while it lives.
        let mut memory = unsafe { LinearMemory::new(data.as_mut_ptr(), data.len(), map) };
        assert_eq!(memory.bytes(0, 1).err(), Some(Errno::EFAULT));
        assert_eq!(memory.bytes(MIN_MEM_TOP - 4, 8).err(), Some(Errno::EFAULT));
        assert_eq!(memory.bytes(u64::MAX, 2).err(), Some(Errno::EFAULT));
        memory
            .bytes_mut(NULL_GUARD_END, 3)
            .unwrap()
            .copy_from_slice(b"abc");
        assert_eq!(memory.bytes(NULL_GUARD_END, 3).unwrap(), b"abc");
        assert_eq!(memory.bytes(5, 0).unwrap(), b"");
    }
}
