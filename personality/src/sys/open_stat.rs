//! openat and the stat family.

use crate::abi::{
    AT_EMPTY_PATH, AT_NO_AUTOMOUNT, AT_STATX_SYNC_TYPE, AT_SYMLINK_NOFOLLOW, O_ACCMODE, O_CLOEXEC,
    O_CREAT, O_DIRECTORY, O_EXCL, O_LARGEFILE, O_NOCTTY, O_TMPFILE_BIT, O_TRUNC,
};
use crate::errno::Errno;
use crate::fs::fd_table::Description;
use crate::fs::open::open_object;
use crate::fs::stat::{stat_of, statx_of};
use crate::guest_io::GuestMemoryExt;
use crate::memory::GuestMemory;
use crate::personality::Personality;
use crate::sys::SysResult;
use crate::sys::resolve::{at_flags, metadata_of};

/// Open flags that only matter at open time and are not kept (Linux drops them too).
const OPEN_ONLY_FLAGS: u32 = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC;

impl Personality {
    pub(crate) fn sys_openat(
        &mut self,
        mem: &mut dyn GuestMemory,
        dirfd: i32,
        addr: u64,
        flags: u64,
        mode: u64,
    ) -> SysResult {
        let flags = flags as u32;
        let target = self.path_arg(mem, dirfd, addr)?;
        if flags & O_TMPFILE_BIT != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        // Access mode 3 (read and write bits both set) means nothing for a file.
        if flags & O_ACCMODE == O_ACCMODE {
            return Err(Errno::EINVAL);
        }
        if flags & O_CREAT != 0 && (flags & O_DIRECTORY != 0 || target.must_be_dir) {
            return Err(if target.must_be_dir {
                Errno::EISDIR
            } else {
                Errno::EINVAL
            });
        }
        let want_dir = flags & O_DIRECTORY != 0 || target.must_be_dir;
        let create_mode = (mode as u32) & 0o7777 & !self.umask;
        let at = self.sandbox.locate(&target)?;
        let object = open_object(&at, target.path.clone(), flags, create_mode, want_dir)?;
        let kept = (flags & !OPEN_ONLY_FLAGS) | O_LARGEFILE;
        let fd = self.fds.open(
            Description {
                flags: kept,
                object,
            },
            flags & O_CLOEXEC != 0,
        )?;
        Ok(fd as u64)
    }

    pub(crate) fn sys_fstat(&mut self, mem: &mut dyn GuestMemory, fd: i32, buf: u64) -> SysResult {
        let meta = metadata_of(&self.fds.get(fd)?.object)?;
        mem.write_struct(buf, &stat_of(&meta))?;
        Ok(0)
    }

    pub(crate) fn sys_newfstatat(
        &mut self,
        mem: &mut dyn GuestMemory,
        dirfd: i32,
        addr: u64,
        buf: u64,
        flags: u64,
    ) -> SysResult {
        let flags = at_flags(flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT)?;
        let path = Self::optional_path(mem, addr, flags)?;
        let meta = self.stat_target(dirfd, path.as_deref(), flags & AT_SYMLINK_NOFOLLOW == 0)?;
        mem.write_struct(buf, &stat_of(&meta))?;
        Ok(0)
    }

    pub(crate) fn sys_statx(
        &mut self,
        mem: &mut dyn GuestMemory,
        dirfd: i32,
        addr: u64,
        flags: u64,
        mask: u64,
        buf: u64,
    ) -> SysResult {
        let known = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE;
        let flags = at_flags(flags, known)?;
        if flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE {
            return Err(Errno::EINVAL);
        }
        if mask & 0x8000_0000 != 0 {
            return Err(Errno::EINVAL); // STATX__RESERVED
        }
        let path = Self::optional_path(mem, addr, flags)?;
        let meta = self.stat_target(dirfd, path.as_deref(), flags & AT_SYMLINK_NOFOLLOW == 0)?;
        mem.write_struct(buf, &statx_of(&meta))?;
        Ok(0)
    }
}
