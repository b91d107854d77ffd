//! Directory entries and the cwd: unlink, mkdir, rename, links, readlink, getcwd, chdir.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use cap_std::fs::{DirBuilder, DirBuilderExt};

use crate::abi::{AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW};
use crate::errno::Errno;
use crate::fs::fd_table::Object;
use crate::fs::path;
use crate::fs::sandbox::Located;
use crate::guest_io::GuestMemoryExt;
use crate::memory::GuestMemory;
use crate::personality::{Personality, PersonalityError};
use crate::sys::SysResult;
use crate::sys::resolve::{at_flags, lookup};

impl Personality {
    pub(crate) fn sys_unlinkat(
        &mut self,
        mem: &mut dyn GuestMemory,
        dirfd: i32,
        addr: u64,
        flags: u64,
    ) -> SysResult {
        let flags = at_flags(flags, AT_REMOVEDIR)?;
        let (target, at) = self.locate_arg(mem, dirfd, addr)?;
        if flags != 0 {
            if at.is_root() {
                return Err(Errno::EBUSY);
            }
            at.dir.remove_dir(&at.rel)?;
        } else {
            if at.is_root() {
                return Err(Errno::EISDIR);
            }
            if target.must_be_dir {
                // unlink("x/"): a directory is EISDIR, anything else is not a directory.
                let meta = lookup(&at, true)?;
                return Err(if meta.is_dir() {
                    Errno::EISDIR
                } else {
                    Errno::ENOTDIR
                });
            }
            at.dir.remove_file(&at.rel)?;
        }
        Ok(0)
    }

    pub(crate) fn sys_mkdirat(
        &mut self,
        mem: &mut dyn GuestMemory,
        dirfd: i32,
        addr: u64,
        mode: u64,
    ) -> SysResult {
        let (_, at) = self.locate_arg(mem, dirfd, addr)?;
        if at.is_root() {
            return Err(Errno::EEXIST);
        }
        let mut builder = DirBuilder::new();
        builder.mode((mode as u32) & 0o7777 & !self.umask);
        at.dir.create_dir_with(&at.rel, &builder)?;
        Ok(0)
    }

    /// The two paths of a rename or link, located; both must be on one mount.
    fn same_mount_pair(
        &self,
        mem: &dyn GuestMemory,
        old_dirfd: i32,
        old_addr: u64,
        new_dirfd: i32,
        new_addr: u64,
    ) -> Result<(Located<'_>, Located<'_>), Errno> {
        let from = self.path_arg(mem, old_dirfd, old_addr)?;
        let to = self.path_arg(mem, new_dirfd, new_addr)?;
        let (from, to) = (self.sandbox.locate(&from)?, self.sandbox.locate(&to)?);
        if from.mount != to.mount {
            return Err(Errno::EXDEV);
        }
        Ok((from, to))
    }

    pub(crate) fn sys_renameat2(
        &mut self,
        mem: &mut dyn GuestMemory,
        old_dirfd: i32,
        old_addr: u64,
        new_dirfd: i32,
        new_addr: u64,
        flags: u64,
    ) -> SysResult {
        if flags != 0 {
            return Err(Errno::EINVAL);
        }
        let (from, to) = self.same_mount_pair(mem, old_dirfd, old_addr, new_dirfd, new_addr)?;
        if from.is_root() || to.is_root() {
            return Err(Errno::EBUSY);
        }
        from.dir.rename(&from.rel, to.dir, &to.rel)?;
        Ok(0)
    }

    pub(crate) fn sys_linkat(
        &mut self,
        mem: &mut dyn GuestMemory,
        old_dirfd: i32,
        old_addr: u64,
        new_dirfd: i32,
        new_addr: u64,
        flags: u64,
    ) -> SysResult {
        at_flags(flags, AT_SYMLINK_FOLLOW)?;
        let (from, to) = self.same_mount_pair(mem, old_dirfd, old_addr, new_dirfd, new_addr)?;
        from.dir.hard_link(&from.rel, to.dir, &to.rel)?;
        Ok(0)
    }

    pub(crate) fn sys_symlinkat(
        &mut self,
        mem: &mut dyn GuestMemory,
        target_addr: u64,
        dirfd: i32,
        addr: u64,
    ) -> SysResult {
        let contents = mem.read_path(target_addr)?;
        if contents.is_empty() {
            return Err(Errno::ENOENT);
        }
        let (_, at) = self.locate_arg(mem, dirfd, addr)?;
        // The link text is stored as given; following it later is still confined.
        at.dir
            .symlink_contents(OsStr::from_bytes(&contents), &at.rel)?;
        Ok(0)
    }

    pub(crate) fn sys_readlinkat(
        &mut self,
        mem: &mut dyn GuestMemory,
        dirfd: i32,
        addr: u64,
        buf: u64,
        size: u64,
    ) -> SysResult {
        let size = u64::try_from(size as i32)
            .ok()
            .filter(|&s| s > 0)
            .ok_or(Errno::EINVAL)?;
        let (target, at) = self.locate_arg(mem, dirfd, addr)?;
        if at.is_root() || target.must_be_dir {
            return Err(Errno::EINVAL);
        }
        let contents = at.dir.read_link_contents(&at.rel)?;
        let bytes = contents.as_os_str().as_bytes();
        let n = bytes.len().min(size as usize);
        mem.write_bytes(buf, &bytes[..n])?;
        Ok(n as u64)
    }

    pub(crate) fn sys_getcwd(
        &mut self,
        mem: &mut dyn GuestMemory,
        buf: u64,
        size: u64,
    ) -> SysResult {
        let len = self.cwd.len() as u64 + 1;
        if size < len {
            return Err(Errno::ERANGE);
        }
        let out = mem.bytes_mut(buf, len)?;
        out[..self.cwd.len()].copy_from_slice(&self.cwd);
        out[self.cwd.len()] = 0;
        Ok(len)
    }

    pub(crate) fn sys_chdir(&mut self, mem: &mut dyn GuestMemory, addr: u64) -> SysResult {
        let (target, at) = self.locate_arg(mem, AT_FDCWD, addr)?;
        if !lookup(&at, true)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        self.cwd = target.path;
        Ok(0)
    }

    /// Sets the working directory before the program starts (`xisa run --cwd`, an OCI
    /// bundle's `process.cwd`): an absolute guest path naming a directory of the sandbox.
    pub fn set_start_dir(&mut self, dir: &str) -> Result<(), PersonalityError> {
        let bad = |errno: Errno| PersonalityError::StartDir {
            dir: dir.to_string(),
            errno,
        };
        if !dir.starts_with('/') {
            return Err(bad(Errno::EINVAL));
        }
        let target = path::resolve(b"/", dir.as_bytes());
        if target.path == b"/" {
            // The root always exists for the guest, even with no folder mounted there.
            self.cwd = target.path;
            return Ok(());
        }
        let found = self.sandbox.locate(&target).map_err(bad)?;
        if !lookup(&found, true).map_err(bad)?.is_dir() {
            return Err(bad(Errno::ENOTDIR));
        }
        self.cwd = target.path;
        Ok(())
    }

    pub(crate) fn sys_fchdir(&mut self, fd: i32) -> SysResult {
        match &self.fds.get(fd)?.object {
            Object::Dir { path, .. } => {
                self.cwd = path.clone();
                Ok(0)
            }
            _ => Err(Errno::ENOTDIR),
        }
    }
}
