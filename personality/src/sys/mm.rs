//! Memory calls: brk, mmap, munmap, mremap, madvise, mprotect, msync.

use std::os::unix::fs::FileExt;

use crate::abi::{
    MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED,
    MAP_SHARED_VALIDATE, MAP_TYPE, MREMAP_FIXED, MREMAP_MAYMOVE, O_ACCMODE, O_WRONLY, PROT_EXEC,
    PROT_READ, PROT_WRITE,
};
use crate::errno::Errno;
use crate::fs::fd_table::{Object, fd_arg};
use crate::memory::GuestMemory;
use crate::mm::{Placement, is_page_aligned, page_up};
use crate::personality::Personality;
use crate::sys::{SysResult, retry};

/// `PROT_GROWSDOWN | PROT_GROWSUP`, accepted and ignored like every protection.
const PROT_GROWS: u64 = 0x0100_0000 | 0x0200_0000;

/// Check an (addr, len) pair of munmap/madvise/mprotect; returns the page-rounded end.
fn page_range(addr: u64, len: u64) -> Result<u64, Errno> {
    if !is_page_aligned(addr) {
        return Err(Errno::EINVAL);
    }
    page_up(len)
        .and_then(|len| addr.checked_add(len))
        .ok_or(Errno::EINVAL)
}

impl Personality {
    pub(crate) fn sys_brk(&mut self, mem: &mut dyn GuestMemory, addr: u64) -> SysResult {
        Ok(self.mm.set_brk(mem, addr))
    }

    pub(crate) fn sys_mmap(&mut self, mem: &mut dyn GuestMemory, args: [u64; 6]) -> SysResult {
        let [addr, len, prot, flags, fd, offset] = args;
        if len == 0 || !is_page_aligned(offset) {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        let kind = flags & MAP_TYPE;
        if !matches!(kind, MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE) {
            return Err(Errno::EINVAL);
        }
        let placement = if flags & MAP_FIXED != 0 {
            Placement::Fixed
        } else if flags & MAP_FIXED_NOREPLACE != 0 {
            Placement::FixedNoReplace
        } else {
            Placement::Anywhere
        };
        if placement != Placement::Anywhere && !is_page_aligned(addr) {
            return Err(Errno::EINVAL);
        }
        let Personality { fds, mm, .. } = self;
        // File-backed: a private copy of the file's bytes. Shared writable mappings would
        // need write-back, which a flat guest memory cannot observe: refuse them.
        let file = if flags & MAP_ANONYMOUS != 0 {
            None
        } else {
            let d = fds.get(fd_arg(fd))?;
            let Object::File { file, .. } = &d.object else {
                return Err(Errno::ENODEV);
            };
            if d.flags & O_ACCMODE == O_WRONLY {
                return Err(Errno::EACCES);
            }
            if kind != MAP_PRIVATE && prot & PROT_WRITE != 0 {
                return Err(Errno::ENODEV);
            }
            offset
                .checked_add(len)
                .filter(|&end| end <= i64::MAX as u64)
                .ok_or(Errno::EOVERFLOW)?;
            Some(file)
        };
        let start = mm.map(mem, addr, len, placement)?;
        if let Some(file) = file {
            let filled = (|| {
                let out = mem.bytes_mut(start, len)?;
                let mut done = 0;
                while done < out.len() {
                    let n = retry(|| file.read_at(&mut out[done..], offset + done as u64))?;
                    if n == 0 {
                        break; // past end of file: the rest stays zero
                    }
                    done += n;
                }
                Ok::<(), Errno>(())
            })();
            if let Err(e) = filled {
                mm.remove(start, start + len);
                return Err(e);
            }
        }
        Ok(start)
    }

    pub(crate) fn sys_munmap(&mut self, addr: u64, len: u64) -> SysResult {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let end = page_range(addr, len)?;
        self.mm.remove(addr, end);
        Ok(0)
    }

    pub(crate) fn sys_mremap(&mut self, mem: &mut dyn GuestMemory, args: [u64; 6]) -> SysResult {
        let [old, old_len, new_len, flags, new_addr, _] = args;
        if !is_page_aligned(old) || flags & !(MREMAP_MAYMOVE | MREMAP_FIXED) != 0 {
            return Err(Errno::EINVAL);
        }
        let may_move = flags & MREMAP_MAYMOVE != 0;
        let fixed = flags & MREMAP_FIXED != 0;
        if fixed && (!may_move || !is_page_aligned(new_addr)) {
            return Err(Errno::EINVAL);
        }
        // old_len == 0 duplicates a shared mapping on Linux; there is nothing to share here.
        if old_len == 0 || new_len == 0 {
            return Err(Errno::EINVAL);
        }
        let old_len = page_up(old_len).ok_or(Errno::EINVAL)?;
        let new_len = page_up(new_len).ok_or(Errno::EINVAL)?;
        self.mm.remap(
            mem,
            old,
            old_len,
            new_len,
            may_move,
            fixed.then_some(new_addr),
        )
    }

    pub(crate) fn sys_madvise(
        &mut self,
        mem: &mut dyn GuestMemory,
        addr: u64,
        len: u64,
        advice: u64,
    ) -> SysResult {
        let end = page_range(addr, len)?;
        if advice == MADV_DONTNEED {
            self.mm.discard(mem, addr, end)?;
        }
        Ok(0)
    }

    pub(crate) fn sys_mprotect(&mut self, addr: u64, len: u64, prot: u64) -> SysResult {
        // Protections are not enforced (a wasm memory cannot), only validated.
        page_range(addr, len)?;
        if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWS) != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(0)
    }

    pub(crate) fn sys_msync(&mut self, addr: u64, len: u64) -> SysResult {
        page_range(addr, len)?;
        Ok(0)
    }
}
