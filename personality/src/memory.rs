//! Guest memory as the personality sees it: the one place guest addresses are checked.

use xisa_format::memory_map::MemoryMap;

use crate::errno::Errno;

/// Guest memory, one flat 64-bit address space laid out by a [`MemoryMap`].
///
/// Every access the personality makes on the guest's behalf goes through `bytes` or
/// `bytes_mut`, so an implementation that checks there checks everything.
pub trait GuestMemory {
    /// The layout of this guest's address space.
    fn map(&self) -> &MemoryMap;

    /// Borrow `[addr, addr + len)`, or `EFAULT` if any byte of it is outside guest memory or
    /// inside a guard range. An empty range is always valid (as `read(fd, NULL, 0)` is).
    fn bytes(&self, addr: u64, len: u64) -> Result<&[u8], Errno>;

    /// Mutable form of [`GuestMemory::bytes`].
    fn bytes_mut(&mut self, addr: u64, len: u64) -> Result<&mut [u8], Errno>;

    /// Make `[addr, addr + len)` read as zero, as fresh anonymous pages do. A backend with
    /// real page tables may drop the pages instead.
    fn zero(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        self.bytes_mut(addr, len)?.fill(0);
        Ok(())
    }

    /// Copy `len` bytes from `src` to `dst` (the ranges may overlap), as `memmove` does.
    fn copy(&mut self, src: u64, dst: u64, len: u64) -> Result<(), Errno> {
        // Check both ends first so a failure leaves memory untouched.
        self.bytes(src, len)?;
        self.bytes_mut(dst, len)?;
        // Bounce through a bounded buffer; walk backwards when dst is above src so an
        // overlapping copy never reads bytes it already overwrote.
        const CHUNK: u64 = 1 << 16;
        let mut buffer = Vec::new();
        let mut done = 0;
        while done < len {
            let n = CHUNK.min(len - done);
            let offset = if dst > src { len - done - n } else { done };
            buffer.clear();
            buffer.extend_from_slice(self.bytes(src + offset, n)?);
            self.bytes_mut(dst + offset, n)?.copy_from_slice(&buffer);
            done += n;
        }
        Ok(())
    }
}

/// A [`GuestMemory`] over one host buffer that starts at guest address 0, as a Wasmtime
/// linear memory does. The buffer may be shorter than `mem_top` (memory not grown yet):
/// addresses past its end fault too.
pub struct FlatMemory<'a> {
    data: &'a mut [u8],
    map: MemoryMap,
}

impl<'a> FlatMemory<'a> {
    pub fn new(data: &'a mut [u8], map: MemoryMap) -> Self {
        FlatMemory { data, map }
    }

    /// The host index range of `[addr, addr + len)` if the guest may touch it.
    fn range(&self, addr: u64, len: u64) -> Result<std::ops::Range<usize>, Errno> {
        if len == 0 {
            return Ok(0..0);
        }
        if !self.map.is_accessible(addr, len) {
            return Err(Errno::EFAULT);
        }
        let start = usize::try_from(addr).map_err(|_| Errno::EFAULT)?;
        let len = usize::try_from(len).map_err(|_| Errno::EFAULT)?;
        let end = start.checked_add(len).ok_or(Errno::EFAULT)?;
        if end > self.data.len() {
            return Err(Errno::EFAULT);
        }
        Ok(start..end)
    }
}

impl GuestMemory for FlatMemory<'_> {
    fn map(&self) -> &MemoryMap {
        &self.map
    }

    fn bytes(&self, addr: u64, len: u64) -> Result<&[u8], Errno> {
        let range = self.range(addr, len)?;
        Ok(&self.data[range])
    }

    fn bytes_mut(&mut self, addr: u64, len: u64) -> Result<&mut [u8], Errno> {
        let range = self.range(addr, len)?;
        Ok(&mut self.data[range])
    }

    fn zero(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        let range = self.range(addr, len)?;
        // Only write pages that are not zero already: a fresh host mapping reads from the
        // shared zero page, and a large guest mmap should not commit memory it never uses.
        for page in self.data[range].chunks_mut(4096) {
            if page.iter().any(|&b| b != 0) {
                page.fill(0);
            }
        }
        Ok(())
    }

    fn copy(&mut self, src: u64, dst: u64, len: u64) -> Result<(), Errno> {
        let from = self.range(src, len)?;
        let to = self.range(dst, len)?;
        self.data.copy_within(from, to.start);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use xisa_format::memory_map::{
        ImageLayout, MIN_MEM_TOP, NULL_GUARD_END, SHADOW_STACK_GUARD, STARTUP,
    };

    /// The map most tests use: a small image and the smallest memory top.
    pub(crate) fn test_map() -> MemoryMap {
        MemoryMap {
            image: ImageLayout {
                rodata_size: 0x100,
                data_size: 0x100,
                bss_size: 0x100,
            },
            mem_top: MIN_MEM_TOP,
        }
    }

    /// A Vec-backed guest memory covering the whole map (calloc'ed, so cheap).
    pub(crate) struct VecMemory {
        pub data: Vec<u8>,
        pub map: MemoryMap,
    }

    impl VecMemory {
        pub(crate) fn new() -> Self {
            let map = test_map();
            VecMemory {
                data: vec![0; map.mem_top as usize],
                map,
            }
        }

        pub(crate) fn flat(&mut self) -> FlatMemory<'_> {
            FlatMemory::new(&mut self.data, self.map)
        }
    }

    #[test]
    fn accessible_ranges_borrow_the_right_bytes() {
        let mut backing = VecMemory::new();
        backing.data[STARTUP.start as usize] = 7;
        let mut mem = backing.flat();
        assert_eq!(mem.bytes(STARTUP.start, 2).unwrap(), &[7, 0]);
        mem.bytes_mut(STARTUP.start + 1, 1).unwrap()[0] = 9;
        assert_eq!(mem.bytes(STARTUP.start, 2).unwrap(), &[7, 9]);
        assert_eq!(mem.bytes(0, 0).unwrap(), &[] as &[u8]);
    }

    #[test]
    fn bad_ranges_fault() {
        let mut backing = VecMemory::new();
        let mut mem = backing.flat();
        let top = mem.map().mem_top;
        assert_eq!(mem.bytes(0, 1), Err(Errno::EFAULT));
        assert_eq!(mem.bytes(NULL_GUARD_END - 1, 2), Err(Errno::EFAULT));
        assert_eq!(mem.bytes(SHADOW_STACK_GUARD.start, 1), Err(Errno::EFAULT));
        assert_eq!(mem.bytes(top - 1, 2), Err(Errno::EFAULT));
        assert_eq!(mem.bytes(u64::MAX, 2), Err(Errno::EFAULT));
        assert_eq!(mem.bytes_mut(u64::MAX - 1, u64::MAX), Err(Errno::EFAULT));
        assert_eq!(mem.zero(top, 1), Err(Errno::EFAULT));
        assert!(mem.bytes(top - 1, 1).is_ok());
    }

    #[test]
    fn short_buffers_fault_past_their_end() {
        let mut data = vec![0u8; STARTUP.end as usize];
        let mut mem = FlatMemory::new(&mut data, test_map());
        assert!(mem.bytes(STARTUP.end - 4, 4).is_ok());
        assert_eq!(mem.bytes_mut(STARTUP.end - 4, 5), Err(Errno::EFAULT));
    }

    #[test]
    fn zero_and_copy() {
        let mut backing = VecMemory::new();
        let mut mem = backing.flat();
        let base = STARTUP.start;
        mem.bytes_mut(base, 4)
            .unwrap()
            .copy_from_slice(&[1, 2, 3, 4]);
        mem.copy(base, base + 2, 4).unwrap();
        assert_eq!(mem.bytes(base, 6).unwrap(), &[1, 2, 1, 2, 3, 4]);
        mem.zero(base + 1, 3).unwrap();
        assert_eq!(mem.bytes(base, 6).unwrap(), &[1, 0, 0, 0, 3, 4]);
        assert_eq!(mem.copy(base, 0, 4), Err(Errno::EFAULT));
    }

    /// The trait's default `copy` (used by backends that do not override it) handles
    /// overlap in both directions.
    #[test]
    fn default_copy_handles_overlap() {
        struct Plain<'a>(FlatMemory<'a>);
        impl GuestMemory for Plain<'_> {
            fn map(&self) -> &MemoryMap {
                self.0.map()
            }
            fn bytes(&self, addr: u64, len: u64) -> Result<&[u8], Errno> {
                self.0.bytes(addr, len)
            }
            fn bytes_mut(&mut self, addr: u64, len: u64) -> Result<&mut [u8], Errno> {
                self.0.bytes_mut(addr, len)
            }
        }
        let mut backing = VecMemory::new();
        let mut mem = Plain(backing.flat());
        let base = STARTUP.start;
        let len = 200_000u64;
        let pattern: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        mem.bytes_mut(base, len).unwrap().copy_from_slice(&pattern);
        mem.copy(base, base + 1000, len).unwrap();
        assert_eq!(mem.bytes(base + 1000, len).unwrap(), &pattern[..]);
        mem.copy(base + 1000, base, len).unwrap();
        assert_eq!(mem.bytes(base, len).unwrap(), &pattern[..]);
        mem.zero(base, 10).unwrap();
        assert_eq!(mem.bytes(base, 10).unwrap(), &[0; 10]);
    }
}
