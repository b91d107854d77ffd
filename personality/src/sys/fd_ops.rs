//! Descriptor bookkeeping: close, dup, fcntl, ioctl, ftruncate, fsync.

use crate::abi::{
    F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_GETLK, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW,
    F_SETFD, F_SETFL, F_SETLK, F_SETLKW, F_UNLCK, FD_CLOEXEC, O_ACCMODE, O_APPEND, O_CLOEXEC,
    O_DIRECT, O_NOATIME, O_NONBLOCK, O_RDONLY,
};
use crate::errno::Errno;
use crate::fs::fd_table::{MAX_FDS, Object};
use crate::guest_io::GuestMemoryExt;
use crate::memory::GuestMemory;
use crate::personality::Personality;
use crate::sys::{SysResult, check_flags, retry};

/// Status flags `F_SETFL` may change.
const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;

impl Personality {
    pub(crate) fn sys_close(&mut self, fd: i32) -> SysResult {
        self.fds.close(fd)?;
        Ok(0)
    }

    pub(crate) fn sys_dup(&mut self, fd: i32) -> SysResult {
        Ok(self.fds.dup(fd, 0, false)? as u64)
    }

    pub(crate) fn sys_dup3(&mut self, old: i32, new: i32, flags: u64) -> SysResult {
        check_flags(flags, u64::from(O_CLOEXEC))?;
        Ok(self.fds.dup_to(old, new, flags != 0)? as u64)
    }

    pub(crate) fn sys_fcntl(
        &mut self,
        mem: &mut dyn GuestMemory,
        fd: i32,
        cmd: u64,
        arg: u64,
    ) -> SysResult {
        let cmd = u32::try_from(cmd).map_err(|_| Errno::EINVAL)?;
        match cmd {
            F_DUPFD | F_DUPFD_CLOEXEC => {
                let min = usize::try_from(arg as i32)
                    .ok()
                    .filter(|&m| m < MAX_FDS)
                    .ok_or(Errno::EINVAL)?;
                Ok(self.fds.dup(fd, min, cmd == F_DUPFD_CLOEXEC)? as u64)
            }
            F_GETFD => Ok(if self.fds.cloexec(fd)? { FD_CLOEXEC } else { 0 }),
            F_SETFD => {
                self.fds.set_cloexec(fd, arg & FD_CLOEXEC != 0)?;
                Ok(0)
            }
            F_GETFL => Ok(u64::from(self.fds.get(fd)?.flags)),
            F_SETFL => {
                let d = self.fds.get_mut(fd)?;
                d.flags = (d.flags & !SETFL_MASK) | (arg as u32 & SETFL_MASK);
                Ok(0)
            }
            F_GETLK | F_OFD_GETLK => {
                self.fds.get(fd)?;
                // No other process can hold a lock: report the range as unlocked.
                mem.bytes(arg, 32)?;
                mem.write_bytes(arg, &F_UNLCK.to_le_bytes())?;
                Ok(0)
            }
            F_SETLK | F_SETLKW | F_OFD_SETLK | F_OFD_SETLKW => {
                self.fds.get(fd)?;
                mem.bytes(arg, 32)?;
                Ok(0)
            }
            _ => {
                self.fds.get(fd)?;
                Err(Errno::EINVAL)
            }
        }
    }

    pub(crate) fn sys_ioctl(&mut self, fd: i32) -> SysResult {
        // No fd is a terminal to the guest (so stdio buffering does not depend on the
        // host), and no other device is reachable.
        self.fds.get(fd)?;
        Err(Errno::ENOTTY)
    }

    pub(crate) fn sys_ftruncate(&mut self, fd: i32, length: u64) -> SysResult {
        let d = self.fds.get(fd)?;
        let length = i64::try_from(length).map_err(|_| Errno::EINVAL)? as u64;
        match &d.object {
            Object::File { file, .. } if d.flags & O_ACCMODE != O_RDONLY => {
                retry(|| file.set_len(length))?;
                Ok(0)
            }
            _ => Err(Errno::EINVAL),
        }
    }

    pub(crate) fn sys_fsync(&mut self, fd: i32) -> SysResult {
        // Durability is the host's business; the call only has to succeed on a valid fd.
        self.fds.get(fd)?;
        Ok(0)
    }
}
