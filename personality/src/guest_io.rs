//! Typed reads and writes of guest memory (little-endian, LP64), built on [`GuestMemory`].

use crate::errno::Errno;
use crate::memory::GuestMemory;

/// Longest path the guest may pass, including the terminating NUL (Linux `PATH_MAX`).
pub const PATH_MAX: u64 = 4096;

/// A guest ABI struct with a fixed little-endian byte layout.
pub trait GuestLayout {
    /// Size of the struct in guest memory, in bytes.
    const SIZE: usize;
}

/// A struct the personality writes into guest memory.
pub trait ToGuest: GuestLayout {
    /// Fill `out` (exactly `SIZE` bytes) with the guest layout of `self`.
    fn encode(&self, out: &mut [u8]);
}

/// A struct the personality reads from guest memory.
pub trait FromGuest: GuestLayout + Sized {
    /// Decode from exactly `SIZE` bytes.
    fn decode(bytes: &[u8]) -> Self;
}

/// Store `value` little-endian at `out[offset..]`; the caller sizes `out` by the layout.
pub(crate) fn put_u16(out: &mut [u8], offset: usize, value: u16) {
    out[offset..offset + 2].copy_from_slice(&value.to_le_bytes());
}

pub(crate) fn put_u32(out: &mut [u8], offset: usize, value: u32) {
    out[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
}

pub(crate) fn put_u64(out: &mut [u8], offset: usize, value: u64) {
    out[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
}

pub(crate) fn put_i64(out: &mut [u8], offset: usize, value: i64) {
    out[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
}

pub(crate) fn get_u64(bytes: &[u8], offset: usize) -> u64 {
    let mut raw = [0; 8];
    raw.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(raw)
}

pub(crate) fn get_i64(bytes: &[u8], offset: usize) -> i64 {
    get_u64(bytes, offset) as i64
}

/// Helpers every [`GuestMemory`] gets.
pub trait GuestMemoryExt: GuestMemory {
    fn read_u32(&self, addr: u64) -> Result<u32, Errno> {
        let mut raw = [0; 4];
        raw.copy_from_slice(self.bytes(addr, 4)?);
        Ok(u32::from_le_bytes(raw))
    }

    fn read_u64(&self, addr: u64) -> Result<u64, Errno> {
        Ok(get_u64(self.bytes(addr, 8)?, 0))
    }

    fn write_u32(&mut self, addr: u64, value: u32) -> Result<(), Errno> {
        self.write_bytes(addr, &value.to_le_bytes())
    }

    fn write_u64(&mut self, addr: u64, value: u64) -> Result<(), Errno> {
        self.write_bytes(addr, &value.to_le_bytes())
    }

    fn write_bytes(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.bytes_mut(addr, data.len() as u64)?
            .copy_from_slice(data);
        Ok(())
    }

    /// Read a NUL-terminated string of at most `max` bytes including the NUL (the NUL is
    /// not returned). `ENAMETOOLONG` if no NUL comes within `max` bytes, `EFAULT` if the
    /// string runs into memory the guest may not touch first.
    fn read_cstr(&self, addr: u64, max: u64) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut at = addr;
        while (out.len() as u64) < max {
            // Read up to the next page boundary: a string may end right before a guard.
            let to_boundary = 0x1000 - (at & 0xfff);
            let want = to_boundary.min(max - out.len() as u64);
            let chunk = self.bytes(at, want)?;
            if let Some(nul) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..nul]);
                return Ok(out);
            }
            out.extend_from_slice(chunk);
            at = at.checked_add(want).ok_or(Errno::EFAULT)?;
        }
        Err(Errno::ENAMETOOLONG)
    }

    /// Read a path argument (at most `PATH_MAX` bytes with its NUL).
    fn read_path(&self, addr: u64) -> Result<Vec<u8>, Errno> {
        self.read_cstr(addr, PATH_MAX)
    }

    fn read_struct<T: FromGuest>(&self, addr: u64) -> Result<T, Errno> {
        Ok(T::decode(self.bytes(addr, T::SIZE as u64)?))
    }

    fn write_struct<T: ToGuest>(&mut self, addr: u64, value: &T) -> Result<(), Errno> {
        let out = self.bytes_mut(addr, T::SIZE as u64)?;
        out.fill(0);
        value.encode(out);
        Ok(())
    }
}

impl<M: GuestMemory + ?Sized> GuestMemoryExt for M {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::tests::VecMemory;
    use xisa_format::memory_map::{SHADOW_STACK_GUARD, STARTUP};

    #[test]
    fn integers_are_little_endian() {
        let mut backing = VecMemory::new();
        let mut mem = backing.flat();
        let at = STARTUP.start;
        mem.write_u64(at, 0x0102_0304_0506_0708).unwrap();
        assert_eq!(mem.bytes(at, 8).unwrap(), &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(mem.read_u32(at).unwrap(), 0x0506_0708);
        mem.write_u32(at + 8, 0xdead_beef).unwrap();
        assert_eq!(mem.read_u64(at + 8).unwrap(), 0xdead_beef);
        assert_eq!(mem.read_u64(0), Err(Errno::EFAULT));
        assert_eq!(mem.write_u32(8, 1), Err(Errno::EFAULT));
    }

    #[test]
    fn c_strings() {
        let mut backing = VecMemory::new();
        let mut mem = backing.flat();
        let at = STARTUP.start + 0xff0; // crosses a page boundary
        mem.write_bytes(at, b"hello, world\0").unwrap();
        assert_eq!(mem.read_cstr(at, 100).unwrap(), b"hello, world");
        assert_eq!(mem.read_cstr(at, 5), Err(Errno::ENAMETOOLONG));
        assert_eq!(mem.read_cstr(at, 13).unwrap(), b"hello, world");
        assert_eq!(mem.read_cstr(0, 10), Err(Errno::EFAULT));
        // A string running into the shadow-stack guard faults.
        let near_guard = SHADOW_STACK_GUARD.start - 3;
        mem.write_bytes(near_guard, b"abc").unwrap();
        assert_eq!(mem.read_cstr(near_guard, 100), Err(Errno::EFAULT));
        // PATH_MAX bytes without NUL are too long.
        let long = STARTUP.start + 0x2000;
        mem.write_bytes(long, &[b'a'; PATH_MAX as usize]).unwrap();
        assert_eq!(mem.read_path(long), Err(Errno::ENAMETOOLONG));
        mem.write_bytes(long + PATH_MAX - 1, &[0]).unwrap();
        assert_eq!(mem.read_path(long).unwrap().len(), PATH_MAX as usize - 1);
    }
}
