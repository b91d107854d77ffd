//! Path arguments of the *at calls: from guest bytes to a normalized guest path, and to
//! host metadata through the sandbox.

use cap_std::fs::Metadata;

use crate::abi::{AT_EMPTY_PATH, AT_FDCWD};
use crate::errno::Errno;
use crate::fs::fd_table::Object;
use crate::fs::path::{self, GuestPath};
use crate::fs::sandbox::Located;
use crate::guest_io::GuestMemoryExt;
use crate::memory::GuestMemory;
use crate::personality::Personality;
use crate::sys::{check_flags, with_stdio};

/// Metadata of whatever a description refers to.
pub(crate) fn metadata_of(object: &Object) -> Result<Metadata, Errno> {
    match object {
        Object::Stdio(stream) => {
            // Borrowed host fd -> a temporary owned duplicate to stat through std.
            let owned = with_stdio(*stream, |fd| fd.try_clone_to_owned())?;
            Ok(Metadata::from_file(&std::fs::File::from(owned))?)
        }
        Object::File { file, .. } => Ok(Metadata::from_file(file)?),
        Object::Dir { dir, .. } => Ok(dir.dir_metadata()?),
    }
}

/// Metadata of a located path, following a final symlink or not (always confined).
pub(crate) fn lookup(at: &Located<'_>, follow: bool) -> Result<Metadata, Errno> {
    Ok(if follow {
        at.dir.metadata(&at.rel)?
    } else {
        at.dir.symlink_metadata(&at.rel)?
    })
}

/// The flags word of an *at call, or EINVAL if it sets a bit outside `known`.
pub(crate) fn at_flags(flags: u64, known: u32) -> Result<u32, Errno> {
    check_flags(flags, u64::from(known))?;
    Ok(flags as u32)
}

impl Personality {
    /// The normalized guest path `path` names when resolved against `dirfd` (or the cwd).
    pub(crate) fn guest_path_at(&self, dirfd: i32, path: &[u8]) -> Result<GuestPath, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.starts_with(b"/") {
            return Ok(path::resolve(b"/", path));
        }
        if dirfd == AT_FDCWD {
            return Ok(path::resolve(&self.cwd, path));
        }
        match &self.fds.get(dirfd)?.object {
            Object::Dir { path: base, .. } => Ok(path::resolve(base, path)),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Read a path argument and resolve it.
    pub(crate) fn path_arg(
        &self,
        mem: &dyn GuestMemory,
        dirfd: i32,
        addr: u64,
    ) -> Result<GuestPath, Errno> {
        let raw = mem.read_path(addr)?;
        self.guest_path_at(dirfd, &raw)
    }

    /// Read a path argument, resolve it and find where it lives in the sandbox.
    pub(crate) fn locate_arg(
        &self,
        mem: &dyn GuestMemory,
        dirfd: i32,
        addr: u64,
    ) -> Result<(GuestPath, Located<'_>), Errno> {
        let target = self.path_arg(mem, dirfd, addr)?;
        let at = self.sandbox.locate(&target)?;
        Ok((target, at))
    }

    /// Metadata for the stat family: `path` (None for an empty path with AT_EMPTY_PATH,
    /// meaning `dirfd` itself).
    pub(crate) fn stat_target(
        &self,
        dirfd: i32,
        path: Option<&[u8]>,
        follow: bool,
    ) -> Result<Metadata, Errno> {
        let Some(path) = path else {
            if dirfd == AT_FDCWD {
                let cwd = path::resolve(&self.cwd, b"");
                return lookup(&self.sandbox.locate(&cwd)?, true);
            }
            return metadata_of(&self.fds.get(dirfd)?.object);
        };
        let target = self.guest_path_at(dirfd, path)?;
        let meta = lookup(&self.sandbox.locate(&target)?, follow)?;
        if target.must_be_dir && !meta.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(meta)
    }

    /// Read the path of a call that accepts AT_EMPTY_PATH: `None` means "dirfd itself".
    pub(crate) fn optional_path(
        mem: &dyn GuestMemory,
        addr: u64,
        flags: u32,
    ) -> Result<Option<Vec<u8>>, Errno> {
        let empty_ok = flags & AT_EMPTY_PATH != 0;
        if addr == 0 && empty_ok {
            return Ok(None);
        }
        let path = mem.read_path(addr)?;
        Ok(if path.is_empty() && empty_ok {
            None
        } else {
            Some(path)
        })
    }
}
