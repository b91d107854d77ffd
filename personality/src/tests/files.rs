//! File system calls through the dispatcher.

use super::*;

#[test]
fn create_write_seek_read() {
    let mut h = Harness::new();
    let fd = h.open("/hello.txt", O_RDWR | O_CREAT | O_TRUNC);
    assert_eq!(fd, 3, "lowest free fd after stdio");
    assert_eq!(h.write_fd(fd, b"hello world"), 11);
    assert_eq!(std::fs::read(h.host("hello.txt")).unwrap(), b"hello world");
    assert_eq!(h.ret(nr::LSEEK, &[fd as u64, 6, 0]), 6);
    assert_eq!(h.read_fd(fd, 100).unwrap(), b"world");
    assert_eq!(h.read_fd(fd, 100).unwrap(), b"");
    assert_eq!(h.ret(nr::LSEEK, &[fd as u64, -5i64 as u64, 2]), 6); // SEEK_END
    assert_eq!(h.ret(nr::LSEEK, &[fd as u64, 1, 1]), 7); // SEEK_CUR
    assert_eq!(h.ret(nr::LSEEK, &[fd as u64, -1i64 as u64, 0]), EINVAL);
    assert_eq!(h.ret(nr::LSEEK, &[fd as u64, 0, 9]), EINVAL);
    assert_eq!(h.ret(nr::CLOSE, &[fd as u64]), 0);
    assert_eq!(h.ret(nr::CLOSE, &[fd as u64]), EBADF);
    assert_eq!(h.read_fd(fd, 1), Err(EBADF));
}

#[test]
fn open_flags() {
    let mut h = Harness::new();
    std::fs::write(h.host("f"), b"abcdef").unwrap();
    assert_eq!(h.open("/missing", O_RDONLY), ENOENT);
    assert_eq!(h.open("/f", O_WRONLY | O_CREAT | O_EXCL), EEXIST);
    // O_APPEND writes land at the end whatever the offset.
    let fd = h.open("/f", O_WRONLY | O_APPEND);
    assert_eq!(h.write_fd(fd, b"gh"), 2);
    assert_eq!(std::fs::read(h.host("f")).unwrap(), b"abcdefgh");
    // Access mode is enforced.
    assert_eq!(h.read_fd(fd, 4), Err(EBADF));
    let ro = h.open("/f", O_RDONLY);
    assert_eq!(h.write_fd(ro, b"x"), EBADF);
    // O_TRUNC empties.
    let fd = h.open("/f", O_RDWR | O_TRUNC);
    assert!(fd >= 0);
    assert_eq!(std::fs::metadata(h.host("f")).unwrap().len(), 0);
    // O_CREAT with read-only access still creates, with mode & ~umask.
    let fd = h.openat(AT_FDCWD, "/new", O_RDONLY | O_CREAT, 0o666);
    assert!(fd >= 0);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(h.host("new"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    // Invalid combinations.
    assert_eq!(h.open("/f", 3), EINVAL);
    assert_eq!(h.open("/d", O_CREAT | O_DIRECTORY | O_RDWR), EINVAL);
    assert_eq!(h.open("/f/", O_RDONLY), ENOTDIR);
    assert_eq!(h.open("/g/", O_CREAT | O_WRONLY), EISDIR);
    assert_eq!(h.open("/f", O_RDONLY | O_DIRECTORY), ENOTDIR);
    assert_eq!(h.open("/", O_WRONLY), EISDIR);
}

#[test]
fn pread_pwrite_readv_writev() {
    let mut h = Harness::new();
    let fd = h.open("/v", O_RDWR | O_CREAT) as u64;
    // writev of two buffers.
    h.put(BUF + 0x100, b"abc");
    h.put(BUF + 0x200, b"defg");
    let iov = BUF + 0x300;
    for (i, (base, len)) in [(BUF + 0x100, 3u64), (BUF + 0x200, 4)].iter().enumerate() {
        h.put(iov + 16 * i as u64, &base.to_le_bytes());
        h.put(iov + 16 * i as u64 + 8, &len.to_le_bytes());
    }
    assert_eq!(h.ret(nr::WRITEV, &[fd, iov, 2]), 7);
    assert_eq!(std::fs::read(h.host("v")).unwrap(), b"abcdefg");
    // pwrite/pread do not move the offset.
    h.put(BUF, b"XY");
    assert_eq!(h.ret(nr::PWRITE64, &[fd, BUF, 2, 1]), 2);
    assert_eq!(h.ret(nr::PREAD64, &[fd, BUF + 0x400, 4, 0]), 4);
    assert_eq!(h.get(BUF + 0x400, 4), b"aXYd");
    assert_eq!(h.ret(nr::LSEEK, &[fd, 0, 1]), 7);
    assert_eq!(h.ret(nr::PREAD64, &[fd, BUF, 4, -1i64 as u64]), EINVAL);
    // readv scatters.
    assert_eq!(h.ret(nr::LSEEK, &[fd, 0, 0]), 0);
    assert_eq!(h.ret(nr::READV, &[fd, iov, 2]), 7);
    assert_eq!(h.get(BUF + 0x100, 3), b"aXY");
    assert_eq!(h.get(BUF + 0x200, 4), b"defg");
    // Too many iovecs, and stdio is not seekable for pread.
    assert_eq!(h.ret(nr::READV, &[fd, iov, 1025]), EINVAL);
    assert_eq!(h.ret(nr::PREAD64, &[0, BUF, 1, 0]), -29); // ESPIPE
}

#[test]
fn stdout_writes_reach_the_host() {
    let mut h = Harness::new();
    // Empty writes are still checked and succeed on the host's stdout and stderr.
    assert_eq!(h.ret(nr::WRITE, &[1, BUF, 0]), 0);
    assert_eq!(h.ret(nr::WRITE, &[2, BUF, 0]), 0);
    assert_eq!(h.ret(nr::WRITE, &[0, BUF, 1]), EBADF, "stdin is read-only");
    assert_eq!(h.ret(nr::WRITE, &[7, BUF, 1]), EBADF);
}

#[test]
fn stat_family() {
    let mut h = Harness::new();
    std::fs::write(h.host("s"), b"12345").unwrap();
    std::os::unix::fs::symlink("s", h.host("link")).unwrap();
    let (r, mode, size) = h.stat("/s", 0);
    assert_eq!((r, mode & 0o170000, size), (0, 0o100000, 5));
    let (r, mode, size) = h.stat("/link", 0);
    assert_eq!((r, mode & 0o170000, size), (0, 0o100000, 5), "stat follows");
    let (r, mode, _) = h.stat("/link", 0x100);
    assert_eq!((r, mode & 0o170000), (0, 0o120000), "lstat does not");
    assert_eq!(h.stat("/", 0).1 & 0o170000, 0o040000);
    assert_eq!(h.stat("/nope", 0).0, ENOENT);
    assert_eq!(h.stat("/s/", 0).0, ENOTDIR);
    assert_eq!(h.stat("/s", 0x8000).0, EINVAL);
    // fstat and AT_EMPTY_PATH agree.
    let fd = h.open("/s", O_RDONLY) as u64;
    assert_eq!(h.ret(nr::FSTAT, &[fd, BUF]), 0);
    let fstat = h.get(BUF, 128);
    let empty = h.cstr(PATH_A, "");
    assert_eq!(h.ret(nr::NEWFSTATAT, &[fd, empty, BUF, 0x1000]), 0);
    assert_eq!(h.get(BUF, 128)[..72], fstat[..72]);
    assert_eq!(h.ret(nr::NEWFSTATAT, &[fd, empty, BUF, 0]), ENOENT);
    // statx.
    let p = h.cstr(PATH_A, "/s");
    assert_eq!(h.ret(nr::STATX, &[AT_FDCWD, p, 0, 0x7ff, BUF]), 0);
    let sx = h.get(BUF, 256);
    assert_eq!(
        u32::from_le_bytes(sx[0..4].try_into().unwrap()) & 0x7ff,
        0x7ff
    );
    assert_eq!(u64::from_le_bytes(sx[40..48].try_into().unwrap()), 5);
    assert_eq!(
        u16::from_le_bytes(sx[28..30].try_into().unwrap()) as u32 & 0o170000,
        0o100000
    );
    assert_eq!(h.ret(nr::STATX, &[AT_FDCWD, p, 0x6000, 0x7ff, BUF]), EINVAL);
    assert_eq!(
        h.ret(nr::STATX, &[fd, 0, 0x1000, 0x7ff, BUF]),
        0,
        "null path + AT_EMPTY_PATH"
    );
    // fstat on stdio works (host fds).
    assert_eq!(h.ret(nr::FSTAT, &[2, BUF]), 0);
}

#[test]
fn fcntl_dup_and_fd_numbers() {
    let mut h = Harness::new();
    std::fs::write(h.host("d"), b"0123456789").unwrap();
    let fd = h.open("/d", O_RDONLY | O_CLOEXEC) as u64;
    assert_eq!(h.ret(nr::FCNTL, &[fd, 1, 0]), 1, "F_GETFD shows FD_CLOEXEC");
    assert_eq!(h.ret(nr::FCNTL, &[fd, 2, 0]), 0);
    assert_eq!(h.ret(nr::FCNTL, &[fd, 1, 0]), 0);
    assert_eq!(
        h.ret(nr::FCNTL, &[fd, 3, 0]),
        0o100000,
        "F_GETFL: O_RDONLY|O_LARGEFILE"
    );
    assert_eq!(h.ret(nr::FCNTL, &[fd, 4, O_APPEND | 0o4000]), 0);
    assert_eq!(
        h.ret(nr::FCNTL, &[fd, 3, 0]),
        0o100000 | O_APPEND as i64 | 0o4000
    );
    // dup shares the offset.
    let copy = h.ret(nr::DUP, &[fd]) as u64;
    assert_eq!(copy, 4);
    assert_eq!(h.read_fd(fd as i64, 3).unwrap(), b"012");
    assert_eq!(h.read_fd(copy as i64, 3).unwrap(), b"345");
    // F_DUPFD picks the lowest free fd >= arg; F_DUPFD_CLOEXEC sets the flag.
    assert_eq!(h.ret(nr::FCNTL, &[fd, 0, 10]), 10);
    assert_eq!(h.ret(nr::FCNTL, &[fd, 1030, 10]), 11);
    assert_eq!(h.ret(nr::FCNTL, &[11, 1, 0]), 1);
    // dup3 replaces the target, rejects bad flags and same fds.
    assert_eq!(h.ret(nr::DUP3, &[fd, 1, O_CLOEXEC]), 1);
    assert_eq!(h.read_fd(1, 2).unwrap(), b"67");
    assert_eq!(h.ret(nr::DUP3, &[fd, 5, 1]), EINVAL);
    assert_eq!(h.ret(nr::DUP3, &[fd, fd, 0]), EINVAL);
    // Closing frees the lowest number for the next open.
    assert_eq!(h.ret(nr::CLOSE, &[0]), 0);
    assert_eq!(h.open("/d", O_RDONLY), 0);
    // Locks always succeed; F_GETLK reports unlocked.
    h.put(BUF, &[0xff; 32]);
    assert_eq!(h.ret(nr::FCNTL, &[fd, 5, BUF]), 0);
    assert_eq!(h.get(BUF, 2), 2u16.to_le_bytes());
    assert_eq!(h.ret(nr::FCNTL, &[fd, 6, BUF]), 0);
    assert_eq!(h.ret(nr::FCNTL, &[fd, 6, 0]), EFAULT);
    assert_eq!(h.ret(nr::FCNTL, &[fd, 9999, 0]), EINVAL);
    assert_eq!(h.ret(nr::FCNTL, &[99, 1, 0]), EBADF);
}

#[test]
fn ioctl_is_enotty() {
    let mut h = Harness::new();
    const TIOCGWINSZ: u64 = 0x5413;
    assert_eq!(h.ret(nr::IOCTL, &[1, TIOCGWINSZ, BUF]), ENOTTY);
    assert_eq!(h.ret(nr::IOCTL, &[0, 0x5401, BUF]), ENOTTY); // TCGETS
    assert_eq!(h.ret(nr::IOCTL, &[42, TIOCGWINSZ, BUF]), EBADF);
}

#[test]
fn truncate_sync_chmod_chown_utimens() {
    let mut h = Harness::new();
    std::fs::write(h.host("t"), b"0123456789").unwrap();
    let fd = h.open("/t", O_RDWR) as u64;
    assert_eq!(h.ret(nr::FTRUNCATE, &[fd, 4]), 0);
    assert_eq!(std::fs::read(h.host("t")).unwrap(), b"0123");
    assert_eq!(h.ret(nr::FTRUNCATE, &[fd, -1i64 as u64]), EINVAL);
    let ro = h.open("/t", O_RDONLY) as u64;
    assert_eq!(h.ret(nr::FTRUNCATE, &[ro, 0]), EINVAL);
    let p = h.cstr(PATH_B, "/t");
    assert_eq!(h.ret(nr::TRUNCATE, &[p, 2]), 0);
    assert_eq!(std::fs::read(h.host("t")).unwrap(), b"01");
    assert_eq!(h.ret(nr::FSYNC, &[fd]), 0);
    assert_eq!(h.ret(nr::FDATASYNC, &[fd]), 0);
    assert_eq!(h.ret(nr::FSYNC, &[77]), EBADF);

    use std::os::unix::fs::PermissionsExt;
    let mode = |h: &Harness| std::fs::metadata(h.host("t")).unwrap().permissions().mode() & 0o777;
    assert_eq!(h.ret(nr::FCHMOD, &[fd, 0o600]), 0);
    assert_eq!(mode(&h), 0o600);
    assert_eq!(h.ret(nr::FCHMODAT, &[AT_FDCWD, p, 0o640]), 0);
    assert_eq!(mode(&h), 0o640);
    assert_eq!(h.ret(nr::FCHOWN, &[fd, 0, 0]), 0);
    assert_eq!(h.ret(nr::FCHOWNAT, &[AT_FDCWD, p, 0, 0, 0]), 0);
    let missing = h.cstr(PATH_A, "/missing");
    assert_eq!(h.ret(nr::FCHOWNAT, &[AT_FDCWD, missing, 0, 0, 0]), ENOENT);

    // utimensat with explicit times, by path and by fd (futimens: null path).
    let times = BUF + 0x800;
    let put_times = |h: &mut Harness, a: (i64, i64), m: (i64, i64)| {
        for (i, v) in [a.0, a.1, m.0, m.1].iter().enumerate() {
            h.put(times + 8 * i as u64, &v.to_le_bytes());
        }
    };
    put_times(&mut h, (1_000_000, 0), (2_000_000, 500));
    assert_eq!(h.ret(nr::UTIMENSAT, &[AT_FDCWD, p, times, 0]), 0);
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(h.host("t")).unwrap();
    assert_eq!(
        (meta.atime(), meta.mtime(), meta.mtime_nsec()),
        (1_000_000, 2_000_000, 500)
    );
    const UTIME_OMIT: i64 = (1 << 30) - 2;
    put_times(&mut h, (3_000_000, 0), (0, UTIME_OMIT));
    assert_eq!(h.ret(nr::UTIMENSAT, &[fd, 0, times, 0]), 0);
    let meta = std::fs::metadata(h.host("t")).unwrap();
    assert_eq!((meta.atime(), meta.mtime()), (3_000_000, 2_000_000));
    put_times(&mut h, (0, 2_000_000_000), (0, 0));
    assert_eq!(h.ret(nr::UTIMENSAT, &[fd, 0, times, 0]), EINVAL);
    assert_eq!(h.ret(nr::UTIMENSAT, &[AT_FDCWD, 0, 0, 0]), EFAULT);
    // Null times means now.
    assert_eq!(h.ret(nr::UTIMENSAT, &[AT_FDCWD, p, 0, 0]), 0);
    let meta = std::fs::metadata(h.host("t")).unwrap();
    assert!(meta.mtime() > 1_600_000_000);
}

#[test]
fn directories_mkdir_unlink_rename() {
    let mut h = Harness::new();
    let p = h.cstr(PATH_A, "/dir");
    assert_eq!(h.ret(nr::MKDIRAT, &[AT_FDCWD, p, 0o755]), 0);
    assert!(h.host("dir").is_dir());
    assert_eq!(h.ret(nr::MKDIRAT, &[AT_FDCWD, p, 0o755]), EEXIST);
    std::fs::write(h.host("dir/f"), b"x").unwrap();
    assert_eq!(h.ret(nr::UNLINKAT, &[AT_FDCWD, p, 0x200]), ENOTEMPTY);
    assert_eq!(h.ret(nr::UNLINKAT, &[AT_FDCWD, p, 0]), EISDIR);
    assert_eq!(h.ret(nr::UNLINKAT, &[AT_FDCWD, p, 0x1]), EINVAL);
    // renameat and renameat2 (flags 0 only).
    let from = h.cstr(PATH_A, "/dir/f");
    let to = h.cstr(PATH_B, "/dir/g");
    assert_eq!(
        h.ret(nr::RENAMEAT2, &[AT_FDCWD, from, AT_FDCWD, to, 1]),
        EINVAL
    );
    assert_eq!(h.ret(nr::RENAMEAT2, &[AT_FDCWD, from, AT_FDCWD, to, 0]), 0);
    assert!(h.host("dir/g").exists() && !h.host("dir/f").exists());
    assert_eq!(h.ret(nr::RENAMEAT, &[AT_FDCWD, to, AT_FDCWD, from]), 0);
    assert!(h.host("dir/f").exists());
    // unlink the file with a dirfd-relative path, then rmdir.
    let dirfd = h.open("/dir", O_RDONLY | O_DIRECTORY) as u64;
    let f = h.cstr(PATH_A, "f");
    assert_eq!(h.ret(nr::UNLINKAT, &[dirfd, f, 0]), 0);
    assert!(!h.host("dir/f").exists());
    let d = h.cstr(PATH_A, "/dir");
    assert_eq!(h.ret(nr::UNLINKAT, &[AT_FDCWD, d, 0x200]), 0);
    assert!(!h.host("dir").exists());
    // The root of a mount cannot be removed or renamed.
    let root = h.cstr(PATH_A, "/");
    assert_eq!(h.ret(nr::UNLINKAT, &[AT_FDCWD, root, 0x200]), -16); // EBUSY
    // A dirfd that is not a directory.
    let file_fd = h.open("/x", O_CREAT | O_RDWR) as u64;
    let f = h.cstr(PATH_A, "f");
    assert_eq!(h.ret(nr::MKDIRAT, &[file_fd, f, 0o755]), ENOTDIR);
}

/// Read a whole directory with getdents64 in chunks of `chunk` bytes: (name, d_off, type).
fn getdents_all(h: &mut Harness, fd: u64, chunk: u64) -> Vec<(String, u64, u8)> {
    let mut out = Vec::new();
    loop {
        let n = h.ret(nr::GETDENTS64, &[fd, BUF, chunk]);
        assert!(n >= 0, "getdents64 failed: {n}");
        if n == 0 {
            return out;
        }
        let raw = h.get(BUF, n as u64);
        let mut at = 0;
        while at < raw.len() {
            let off = u64::from_le_bytes(raw[at + 8..at + 16].try_into().unwrap());
            let reclen = u16::from_le_bytes(raw[at + 16..at + 18].try_into().unwrap()) as usize;
            let kind = raw[at + 18];
            let name = &raw[at + 19..at + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap()];
            out.push((String::from_utf8(name.to_vec()).unwrap(), off, kind));
            at += reclen;
        }
    }
}

#[test]
fn getdents64_walks_a_directory() {
    let mut h = Harness::new();
    std::fs::create_dir(h.host("d")).unwrap();
    for name in ["c", "a", "b"] {
        std::fs::write(h.host(&format!("d/{name}")), b"").unwrap();
    }
    std::fs::create_dir(h.host("d/sub")).unwrap();
    let fd = h.open("/d", O_RDONLY | O_DIRECTORY) as u64;
    // A small buffer forces several calls.
    let all = getdents_all(&mut h, fd, 64);
    let names: Vec<&str> = all.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, [".", "..", "a", "b", "c", "sub"]);
    assert_eq!(
        all.iter().map(|e| e.1).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(all[2].2, 8, "DT_REG");
    assert_eq!(all[5].2, 4, "DT_DIR");
    // Seek to the cookie of "a" (3): the next entry is "b".
    assert_eq!(h.ret(nr::LSEEK, &[fd, 3, 0]), 3);
    let rest = getdents_all(&mut h, fd, 4096);
    assert_eq!(
        rest.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["b", "c", "sub"]
    );
    // rewinddir sees new entries.
    std::fs::write(h.host("d/aa"), b"").unwrap();
    assert_eq!(h.ret(nr::LSEEK, &[fd, 0, 0]), 0);
    let again = getdents_all(&mut h, fd, 4096);
    assert_eq!(again.len(), 7);
    assert_eq!(again[3].0, "aa");
    // Errors: buffer too small, not a directory, bad pointer.
    assert_eq!(h.ret(nr::LSEEK, &[fd, 0, 0]), 0);
    assert_eq!(h.ret(nr::GETDENTS64, &[fd, BUF, 8]), EINVAL);
    let file = h.open("/d/a", O_RDONLY) as u64;
    assert_eq!(h.ret(nr::GETDENTS64, &[file, BUF, 4096]), ENOTDIR);
    assert_eq!(h.ret(nr::GETDENTS64, &[fd, 0, 4096]), EFAULT);
    // A directory opened without O_DIRECTORY can be listed too; reading it is EISDIR.
    let plain = h.open("/d", O_RDONLY) as u64;
    assert_eq!(getdents_all(&mut h, plain, 4096).len(), 7);
    assert_eq!(h.read_fd(plain as i64, 10), Err(EISDIR));
}

#[test]
fn cwd_chdir_relative_paths() {
    let mut h = Harness::new();
    assert_eq!(h.ret(nr::GETCWD, &[BUF, 100]), 2);
    assert_eq!(h.get(BUF, 2), b"/\0");
    std::fs::create_dir_all(h.host("a/b")).unwrap();
    std::fs::write(h.host("a/b/file"), b"rel").unwrap();
    let p = h.cstr(PATH_A, "a/b");
    assert_eq!(h.ret(nr::CHDIR, &[p]), 0);
    assert_eq!(h.ret(nr::GETCWD, &[BUF, 100]), 5);
    assert_eq!(h.get(BUF, 5), b"/a/b\0");
    assert_eq!(h.ret(nr::GETCWD, &[BUF, 4]), ERANGE);
    let fd = h.open("file", O_RDONLY);
    assert_eq!(h.read_fd(fd, 10).unwrap(), b"rel");
    let fd = h.open("../b/./file", O_RDONLY);
    assert!(fd >= 0);
    let file = h.cstr(PATH_A, "file");
    assert_eq!(h.ret(nr::CHDIR, &[file]), ENOTDIR);
    let up = h.cstr(PATH_A, "..");
    assert_eq!(h.ret(nr::CHDIR, &[up]), 0);
    assert_eq!(h.ret(nr::GETCWD, &[BUF, 100]), 3);
    assert_eq!(h.get(BUF, 3), b"/a\0");
    // fchdir to an open directory.
    let dirfd = h.open("/a/b", O_RDONLY | O_DIRECTORY) as u64;
    assert_eq!(h.ret(nr::FCHDIR, &[dirfd]), 0);
    assert_eq!(h.ret(nr::GETCWD, &[BUF, 100]), 5);
    assert_eq!(h.ret(nr::FCHDIR, &[1]), ENOTDIR);
    // umask: returns the old value and applies to creation.
    assert_eq!(h.ret(nr::UMASK, &[0o077]), 0o022);
    assert_eq!(h.ret(nr::UMASK, &[0o077]), 0o077);
    let fd = h.openat(AT_FDCWD, "/m", O_CREAT | O_WRONLY, 0o666);
    assert!(fd >= 0);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(h.host("m")).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn links_readlink_access() {
    let mut h = Harness::new();
    std::fs::write(h.host("target"), b"t").unwrap();
    let t = h.cstr(PATH_A, "target");
    let l = h.cstr(PATH_B, "/ln");
    assert_eq!(h.ret(nr::SYMLINKAT, &[t, AT_FDCWD, l]), 0);
    assert_eq!(h.ret(nr::READLINKAT, &[AT_FDCWD, l, BUF, 100]), 6);
    assert_eq!(h.get(BUF, 6), b"target");
    assert_eq!(
        h.ret(nr::READLINKAT, &[AT_FDCWD, l, BUF, 3]),
        3,
        "truncated"
    );
    assert_eq!(h.ret(nr::READLINKAT, &[AT_FDCWD, l, BUF, 0]), EINVAL);
    let plain = h.cstr(PATH_A, "/target");
    assert_eq!(
        h.ret(nr::READLINKAT, &[AT_FDCWD, plain, BUF, 100]),
        EINVAL,
        "not a symlink"
    );
    let fd = h.open("/ln", O_RDONLY);
    assert_eq!(h.read_fd(fd, 5).unwrap(), b"t");
    assert_eq!(h.open("/ln", O_RDONLY | O_NOFOLLOW), -40); // ELOOP
    // Hard link.
    let hl = h.cstr(PATH_B, "/hard");
    assert_eq!(h.ret(nr::LINKAT, &[AT_FDCWD, plain, AT_FDCWD, hl, 0]), 0);
    assert_eq!(std::fs::read(h.host("hard")).unwrap(), b"t");
    // faccessat / faccessat2.
    assert_eq!(h.ret(nr::FACCESSAT, &[AT_FDCWD, plain, 0]), 0);
    assert_eq!(h.ret(nr::FACCESSAT, &[AT_FDCWD, plain, 4]), 0);
    let missing = h.cstr(PATH_A, "/missing");
    assert_eq!(h.ret(nr::FACCESSAT, &[AT_FDCWD, missing, 0]), ENOENT);
    assert_eq!(h.ret(nr::FACCESSAT, &[AT_FDCWD, missing, 8]), EINVAL);
    assert_eq!(h.ret(nr::FACCESSAT2, &[AT_FDCWD, missing, 0, 0x8]), EINVAL);
    assert_eq!(h.ret(nr::FACCESSAT2, &[AT_FDCWD, l, 0, 0x100]), 0);
}

#[test]
fn bad_pointers_are_efault() {
    let mut h = Harness::new();
    std::fs::write(h.host("f"), b"data").unwrap();
    let fd = h.open("/f", O_RDWR) as u64;
    let top = h.mem.map.mem_top;
    let guard = xisa_format::memory_map::SHADOW_STACK_GUARD.start;
    let bad: [(u64, u64); 6] = [
        (0, 4),            // null
        (0x8000, 4),       // null guard
        (guard + 16, 4),   // shadow-stack guard
        (top, 4),          // past mem_top
        (top - 2, 4),      // straddles mem_top
        (u64::MAX - 1, 4), // addr + len overflows
    ];
    for (addr, len) in bad {
        assert_eq!(h.ret(nr::READ, &[fd, addr, len]), EFAULT, "read {addr:#x}");
        assert_eq!(
            h.ret(nr::WRITE, &[fd, addr, len]),
            EFAULT,
            "write {addr:#x}"
        );
        assert_eq!(h.ret(nr::FSTAT, &[fd, addr]), EFAULT, "fstat {addr:#x}");
        if addr != top - 2 {
            // From top - 2, the two bytes below the top are a valid empty string, and
            // room enough for the cwd "/" and its NUL.
            assert_eq!(
                h.ret(nr::OPENAT, &[AT_FDCWD, addr, 0, 0]),
                EFAULT,
                "openat {addr:#x}"
            );
            assert_eq!(h.ret(nr::GETCWD, &[addr, 100]), EFAULT, "getcwd {addr:#x}");
        }
        assert_eq!(
            h.ret(nr::CLOCK_GETTIME, &[0, addr]),
            EFAULT,
            "clock_gettime {addr:#x}"
        );
        assert_eq!(h.ret(nr::UNAME, &[addr]), EFAULT, "uname {addr:#x}");
        assert_eq!(h.ret(nr::PREAD64, &[fd, addr, len, 0]), EFAULT);
        assert_eq!(h.ret(nr::GETRANDOM, &[addr, len, 0]), EFAULT);
    }
    // Huge lengths at a valid address.
    assert_eq!(h.ret(nr::WRITE, &[fd, BUF, u64::MAX]), EFAULT);
    assert_eq!(h.ret(nr::READ, &[fd, BUF, 1 << 40]), EFAULT);
    // A file offset did not move through all of that.
    assert_eq!(h.ret(nr::LSEEK, &[fd, 0, 1]), 0);
    // A failed read into a bad buffer wrote nothing to the file either.
    assert_eq!(std::fs::read(h.host("f")).unwrap(), b"data");
}
