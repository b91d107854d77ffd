//! Opening a located guest path on the host with the guest's `openat` flags.

use std::io;

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};

use crate::abi::{O_ACCMODE, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
use crate::errno::Errno;
use crate::fs::dir_stream::DirStream;
use crate::fs::fd_table::Object;
use crate::fs::sandbox::Located;

/// Open `at` as the guest asked. `want_dir` (O_DIRECTORY or a trailing slash) requires a
/// directory. A directory opened without it still becomes a directory object, as
/// `open(dir, O_RDONLY)` does on Linux. Guest access flags are translated, never passed
/// through: the host's numbering may differ (aarch64 hosts do).
pub(crate) fn open_object(
    at: &Located<'_>,
    guest_path: Vec<u8>,
    flags: u32,
    create_mode: u32,
    want_dir: bool,
) -> Result<Object, Errno> {
    let access = flags & O_ACCMODE;
    let nofollow = flags & O_NOFOLLOW != 0;
    if want_dir {
        if access != O_RDONLY {
            return Err(Errno::EISDIR);
        }
        let dir = if nofollow {
            at.dir.open_dir_nofollow(&at.rel)?
        } else {
            at.dir.open_dir(&at.rel)?
        };
        return Ok(Object::Dir {
            path: guest_path,
            dir,
            stream: DirStream::at(0),
        });
    }
    let file = open_file(at, flags, create_mode)?;
    if file.metadata()?.is_dir() {
        if access != O_RDONLY {
            return Err(Errno::EISDIR);
        }
        let dir = Dir::from_std_file(file);
        return Ok(Object::Dir {
            path: guest_path,
            dir,
            stream: DirStream::at(0),
        });
    }
    Ok(Object::File {
        path: guest_path,
        file,
    })
}

fn open_file(at: &Located<'_>, flags: u32, create_mode: u32) -> Result<std::fs::File, Errno> {
    let access = flags & O_ACCMODE;
    let readable = access == O_RDONLY || access == O_RDWR;
    let writable = access == O_WRONLY || access == O_RDWR;
    let mut options = OpenOptions::new();
    options.read(readable).write(writable);
    if flags & O_NOFOLLOW != 0 {
        options.follow(FollowSymlinks::No);
    }
    let exclusive = flags & O_EXCL != 0;
    if flags & O_CREAT != 0 {
        if writable {
            if exclusive {
                options.create_new(true);
            } else {
                options.create(true);
            }
            options.mode(create_mode);
        } else {
            // std-style options cannot create without write access, but Linux can:
            // create the file first, then open it read-only.
            let mut create = OpenOptions::new();
            create.write(true).create_new(true).mode(create_mode);
            match at.dir.open_with(&at.rel, &create) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !exclusive => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    if flags & O_TRUNC != 0 && writable {
        options.truncate(true);
    }
    Ok(at.dir.open_with(&at.rel, &options)?.into_std())
}
