//! Moving data through fds: read/write, their vector and positioned forms, lseek, and
//! getdents64 for directories.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

use cap_std::fs::MetadataExt;
use rustix::fs::SeekFrom as HostSeek;

use crate::abi::{
    IOV_MAX, Iovec, MAX_RW_COUNT, O_ACCMODE, O_APPEND, O_PATH, O_RDONLY, O_WRONLY, SEEK_CUR,
    SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_SET,
};
use crate::errno::Errno;
use crate::fs::dir_stream;
use crate::fs::fd_table::{Description, Object};
use crate::fs::path;
use crate::guest_io::{FromGuest, GuestLayout};
use crate::memory::GuestMemory;
use crate::personality::Personality;
use crate::sys::{SysResult, retry, with_stdio};

/// Which way data moves: read and its forms fill guest memory, write and its forms drain
/// it. Everything else about each pair of calls is the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// EBADF unless `d` was opened for this direction.
    fn check(self, d: &Description) -> Result<(), Errno> {
        let excluded = match self {
            Direction::Read => O_WRONLY,
            Direction::Write => O_RDONLY,
        };
        if d.flags & O_ACCMODE == excluded || d.flags & O_PATH != 0 {
            return Err(Errno::EBADF);
        }
        Ok(())
    }

    /// One transfer between guest memory `[addr, addr + len)` and `d`, at its offset.
    fn once(
        self,
        d: &mut Description,
        mem: &mut dyn GuestMemory,
        addr: u64,
        len: u64,
    ) -> Result<usize, Errno> {
        match self {
            Direction::Read => read_into(d, mem.bytes_mut(addr, len)?),
            Direction::Write => write_from(d, mem.bytes(addr, len)?),
        }
    }

    /// One transfer between guest memory `[addr, addr + len)` and `file` at `offset`,
    /// leaving the file's own offset alone.
    fn at(
        self,
        file: &File,
        mem: &mut dyn GuestMemory,
        addr: u64,
        len: u64,
        offset: u64,
    ) -> Result<usize, Errno> {
        match self {
            Direction::Read => {
                let out = mem.bytes_mut(addr, len)?;
                retry(|| file.read_at(out, offset))
            }
            Direction::Write => {
                let data = mem.bytes(addr, len)?;
                retry(|| file.write_at(data, offset))
            }
        }
    }
}

/// One read into `out` at the description's offset.
fn read_into(d: &mut Description, out: &mut [u8]) -> Result<usize, Errno> {
    match &mut d.object {
        Object::Stdio(stream) => {
            let stream = *stream;
            retry(|| {
                with_stdio(stream, |fd| {
                    rustix::io::read(fd, &mut *out).map_err(Into::into)
                })
            })
        }
        Object::File { file, .. } => retry(|| file.read(out)),
        Object::Dir { .. } => Err(Errno::EISDIR),
    }
}

/// One write of `data` at the description's offset (at the end with O_APPEND).
fn write_from(d: &mut Description, data: &[u8]) -> Result<usize, Errno> {
    let append = d.flags & O_APPEND != 0;
    match &mut d.object {
        Object::Stdio(stream) => {
            let stream = *stream;
            retry(|| with_stdio(stream, |fd| rustix::io::write(fd, data).map_err(Into::into)))
        }
        Object::File { file, .. } => {
            // O_APPEND is kept in the guest flags, not on the host fd, so F_SETFL can
            // change it and a restore reopens the file the same way.
            if append {
                retry(|| file.seek(SeekFrom::End(0)))?;
            }
            retry(|| file.write(data))
        }
        Object::Dir { .. } => Err(Errno::EBADF),
    }
}

/// Decode and check a readv/writev iovec array: every buffer must be valid up front.
fn iovecs(mem: &dyn GuestMemory, iov: u64, count: u64) -> Result<Vec<Iovec>, Errno> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let raw = mem.bytes(iov, count * Iovec::SIZE as u64)?;
    let list: Vec<Iovec> = raw.chunks_exact(Iovec::SIZE).map(Iovec::decode).collect();
    let mut total: u64 = 0;
    for v in &list {
        total = total
            .checked_add(v.len)
            .filter(|&t| t <= i64::MAX as u64)
            .ok_or(Errno::EINVAL)?;
        mem.bytes(v.base, v.len)?;
    }
    Ok(list)
}

impl Personality {
    /// read or write.
    pub(crate) fn sys_read_or_write(
        &mut self,
        mem: &mut dyn GuestMemory,
        fd: i32,
        buf: u64,
        count: u64,
        direction: Direction,
    ) -> SysResult {
        let d = self.fds.get_mut(fd)?;
        direction.check(d)?;
        Ok(direction.once(d, mem, buf, count.min(MAX_RW_COUNT))? as u64)
    }

    /// readv or writev: each buffer in turn, stopping after a short transfer or at
    /// `MAX_RW_COUNT` in all.
    pub(crate) fn sys_readv_or_writev(
        &mut self,
        mem: &mut dyn GuestMemory,
        fd: i32,
        iov: u64,
        count: u64,
        direction: Direction,
    ) -> SysResult {
        let d = self.fds.get_mut(fd)?;
        direction.check(d)?;
        let mut done: u64 = 0;
        for v in iovecs(mem, iov, count)? {
            let want = v.len.min(MAX_RW_COUNT - done);
            let n = match direction.once(d, mem, v.base, want) {
                Ok(n) => n as u64,
                // Bytes already moved are not lost: report them, as Linux does.
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            done += n;
            if n < v.len || done >= MAX_RW_COUNT {
                break;
            }
        }
        Ok(done)
    }

    /// pread64 or pwrite64: only regular files have positions.
    pub(crate) fn sys_pread_or_pwrite(
        &mut self,
        mem: &mut dyn GuestMemory,
        fd: i32,
        buf: u64,
        count: u64,
        offset: u64,
        direction: Direction,
    ) -> SysResult {
        let d = self.fds.get(fd)?;
        direction.check(d)?;
        let offset = i64::try_from(offset).map_err(|_| Errno::EINVAL)? as u64;
        match &d.object {
            Object::File { file, .. } => {
                let count = count.min(MAX_RW_COUNT);
                Ok(direction.at(file, mem, buf, count, offset)? as u64)
            }
            Object::Stdio(_) => Err(Errno::ESPIPE),
            Object::Dir { .. } if direction == Direction::Read => Err(Errno::EISDIR),
            Object::Dir { .. } => Err(Errno::EBADF),
        }
    }

    pub(crate) fn sys_lseek(&mut self, fd: i32, offset: u64, whence: u64) -> SysResult {
        let d = self.fds.get_mut(fd)?;
        let offset = offset as i64;
        let whence = u32::try_from(whence).map_err(|_| Errno::EINVAL)?;
        if let Object::Dir { stream, .. } = &mut d.object {
            // Directory positions are getdents64 cookies.
            let pos = match whence {
                SEEK_SET => offset,
                SEEK_CUR => (stream.pos as i64)
                    .checked_add(offset)
                    .ok_or(Errno::EINVAL)?,
                _ => return Err(Errno::EINVAL),
            };
            stream.pos = u64::try_from(pos).map_err(|_| Errno::EINVAL)?;
            return Ok(stream.pos);
        }
        let position = match whence {
            SEEK_SET => HostSeek::Start(u64::try_from(offset).map_err(|_| Errno::EINVAL)?),
            SEEK_CUR => HostSeek::Current(offset),
            SEEK_END => HostSeek::End(offset),
            SEEK_DATA => HostSeek::Data(u64::try_from(offset).map_err(|_| Errno::ENXIO)?),
            SEEK_HOLE => HostSeek::Hole(u64::try_from(offset).map_err(|_| Errno::ENXIO)?),
            _ => return Err(Errno::EINVAL),
        };
        let result = match &d.object {
            Object::File { file, .. } => rustix::fs::seek(file, position),
            Object::Stdio(stream) => with_stdio(*stream, |fd| rustix::fs::seek(fd, position)),
            Object::Dir { .. } => return Err(Errno::EINVAL),
        };
        let new = result?;
        i64::try_from(new).map_err(|_| Errno::EINVAL)?;
        Ok(new)
    }

    pub(crate) fn sys_getdents64(
        &mut self,
        mem: &mut dyn GuestMemory,
        fd: i32,
        buf: u64,
        count: u64,
    ) -> SysResult {
        let Personality { fds, sandbox, .. } = self;
        let Object::Dir { path, dir, stream } = &mut fds.get_mut(fd)?.object else {
            return Err(Errno::ENOTDIR);
        };
        let out = mem.bytes_mut(buf, count.min(MAX_RW_COUNT))?;
        let list = || {
            let dot = dir.dir_metadata()?.ino();
            // `..` of a mount root is outside the sandbox: report the root itself.
            let parent = path::resolve(path, b"..");
            let dotdot = sandbox
                .locate(&parent)
                .ok()
                .filter(|_| parent.path != *path)
                .and_then(|at| at.dir.metadata(&at.rel).ok())
                .map_or(dot, |m| m.ino());
            dir_stream::list(dir, dot, dotdot)
        };
        Ok(stream.read(list, out)? as u64)
    }
}
