//! File attributes: access checks, permissions, ownership, times, size.

use std::time::{Duration, UNIX_EPOCH};

use cap_fs_ext::{AccessType, DirExt, SystemTimeSpec};
use cap_std::fs::{OpenOptions, Permissions, PermissionsExt};

use crate::abi::{AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, Timespec};
use crate::errno::Errno;
use crate::fs::fd_table::Object;
use crate::guest_io::GuestMemoryExt;
use crate::memory::GuestMemory;
use crate::personality::Personality;
use crate::sys::resolve::{at_flags, lookup};
use crate::sys::{SysResult, check_flags};

/// `utimensat` special nanosecond values.
const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;

/// A guest timespec of utimensat as a cap-std time: `None` leaves it unchanged.
fn time_spec(t: Timespec) -> Result<Option<SystemTimeSpec>, Errno> {
    match t.nsec {
        UTIME_NOW => Ok(Some(SystemTimeSpec::SymbolicNow)),
        UTIME_OMIT => Ok(None),
        0..1_000_000_000 => {
            let since = Duration::new(t.sec.unsigned_abs(), t.nsec as u32);
            let at = if t.sec >= 0 {
                UNIX_EPOCH.checked_add(since)
            } else {
                UNIX_EPOCH.checked_sub(since)
            };
            let at = at.ok_or(Errno::EINVAL)?;
            Ok(Some(SystemTimeSpec::Absolute(
                cap_std::time::SystemTime::from_std(at),
            )))
        }
        _ => Err(Errno::EINVAL),
    }
}

/// The same, as the raw timespec rustix's futimens takes.
fn host_timespec(t: Timespec) -> rustix::fs::Timespec {
    let nsec = match t.nsec {
        UTIME_NOW => rustix::fs::UTIME_NOW,
        UTIME_OMIT => rustix::fs::UTIME_OMIT,
        n => n as _,
    };
    rustix::fs::Timespec {
        tv_sec: t.sec as _,
        tv_nsec: nsec,
    }
}

impl Personality {
    pub(crate) fn sys_faccessat(
        &mut self,
        mem: &mut dyn GuestMemory,
        dirfd: i32,
        addr: u64,
        mode: u64,
        flags: u64,
    ) -> SysResult {
        check_flags(mode, 7)?;
        let flags = at_flags(flags, AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)?;
        let Some(path) = Self::optional_path(mem, addr, flags)? else {
            // The fd itself: it is open, so it exists; report it accessible.
            if dirfd != AT_FDCWD {
                self.fds.get(dirfd)?;
            }
            return Ok(0);
        };
        let target = self.guest_path_at(dirfd, &path)?;
        let at = self.sandbox.locate(&target)?;
        let kind = if mode == 0 {
            AccessType::Exists
        } else {
            AccessType::Access(cap_primitives::fs::AccessModes {
                readable: mode & 4 != 0,
                writable: mode & 2 != 0,
                executable: mode & 1 != 0,
            })
        };
        let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
        // cap-std's access() resolves the parent beneath the root but lets the host
        // follow a final symlink unchecked; a confined lookup first refuses escapes.
        lookup(&at, follow)?;
        if !follow {
            at.dir.access_symlink(&at.rel, kind)?;
        } else {
            at.dir.access(&at.rel, kind)?;
        }
        Ok(0)
    }

    pub(crate) fn sys_fchmod(&mut self, fd: i32, mode: u64) -> SysResult {
        let mode = rustix::fs::Mode::from_raw_mode((mode as u32 & 0o7777) as _);
        match &self.fds.get(fd)?.object {
            Object::File { file, .. } => rustix::fs::fchmod(file, mode)?,
            Object::Dir { dir, .. } => rustix::fs::fchmod(dir, mode)?,
            // The host's terminal or pipe is not the guest's to change.
            Object::Stdio(_) => {}
        }
        Ok(0)
    }

    pub(crate) fn sys_fchmodat(
        &mut self,
        mem: &mut dyn GuestMemory,
        dirfd: i32,
        addr: u64,
        mode: u64,
    ) -> SysResult {
        let (_, at) = self.locate_arg(mem, dirfd, addr)?;
        at.dir
            .set_permissions(&at.rel, Permissions::from_mode(mode as u32 & 0o7777))?;
        Ok(0)
    }

    pub(crate) fn sys_fchown(&mut self, fd: i32) -> SysResult {
        // Ownership is not the guest's to change on the host; succeed as root would.
        self.fds.get(fd)?;
        Ok(0)
    }

    pub(crate) fn sys_fchownat(
        &mut self,
        mem: &mut dyn GuestMemory,
        dirfd: i32,
        addr: u64,
        flags: u64,
    ) -> SysResult {
        let flags = at_flags(flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)?;
        let path = Self::optional_path(mem, addr, flags)?;
        self.stat_target(dirfd, path.as_deref(), flags & AT_SYMLINK_NOFOLLOW == 0)?;
        Ok(0)
    }

    pub(crate) fn sys_utimensat(
        &mut self,
        mem: &mut dyn GuestMemory,
        dirfd: i32,
        addr: u64,
        times: u64,
        flags: u64,
    ) -> SysResult {
        let flags = at_flags(flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)?;
        let (atime, mtime) = if times == 0 {
            let now = Timespec {
                sec: 0,
                nsec: UTIME_NOW,
            };
            (now, now)
        } else {
            (
                mem.read_struct::<Timespec>(times)?,
                mem.read_struct::<Timespec>(times + 16)?,
            )
        };
        let (a, m) = (time_spec(atime)?, time_spec(mtime)?);
        // A null path (futimens) or an empty one with AT_EMPTY_PATH means dirfd itself.
        let path = if addr == 0 {
            None
        } else {
            Self::optional_path(mem, addr, flags)?
        };
        let Some(path) = path else {
            if dirfd == AT_FDCWD {
                return Err(Errno::EFAULT);
            }
            let stamps = rustix::fs::Timestamps {
                last_access: host_timespec(atime),
                last_modification: host_timespec(mtime),
            };
            match &self.fds.get(dirfd)?.object {
                Object::File { file, .. } => rustix::fs::futimens(file, &stamps)?,
                Object::Dir { dir, .. } => rustix::fs::futimens(dir, &stamps)?,
                Object::Stdio(_) => {}
            }
            return Ok(0);
        };
        let target = self.guest_path_at(dirfd, &path)?;
        let at = self.sandbox.locate(&target)?;
        if flags & AT_SYMLINK_NOFOLLOW != 0 {
            at.dir.set_symlink_times(&at.rel, a, m)?;
        } else {
            at.dir.set_times(&at.rel, a, m)?;
        }
        Ok(0)
    }

    pub(crate) fn sys_truncate(
        &mut self,
        mem: &mut dyn GuestMemory,
        addr: u64,
        length: u64,
    ) -> SysResult {
        let length = i64::try_from(length).map_err(|_| Errno::EINVAL)? as u64;
        let (_, at) = self.locate_arg(mem, AT_FDCWD, addr)?;
        let file = at.dir.open_with(&at.rel, OpenOptions::new().write(true))?;
        file.set_len(length)?;
        Ok(0)
    }
}
