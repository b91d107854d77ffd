//! Nothing outside the mounted folders is reachable.

use super::*;

/// A host layout with a secret next to (outside) the mounted folder `jail`.
fn jailed() -> Harness {
    let top = tempfile::tempdir().unwrap();
    std::fs::write(top.path().join("secret"), b"top secret").unwrap();
    std::fs::create_dir(top.path().join("jail")).unwrap();
    std::fs::write(top.path().join("jail/inside"), b"ok").unwrap();
    let mounts = vec![Mount {
        host: top.path().join("jail"),
        guest: "/".into(),
    }];
    Harness::with_mounts(top, mounts)
}

#[test]
fn dot_dot_cannot_leave_the_root() {
    let mut h = jailed();
    // `/..` is `/`, as in a chroot: these name files inside the jail, which do not exist.
    for path in [
        "/../secret",
        "../secret",
        "/../../../secret",
        "/inside/../../secret",
    ] {
        assert_eq!(h.open(path, O_RDONLY), ENOENT, "{path}");
    }
    assert_eq!(h.open("/../inside", O_RDONLY), 3);
    // Even from a directory fd, relative `..` stays inside.
    let root = h.open("/", O_RDONLY | O_DIRECTORY) as u64;
    assert_eq!(h.openat(root, "../secret", O_RDONLY, 0), ENOENT);
    let p = h.cstr(PATH_A, "../..");
    assert_eq!(h.ret(nr::CHDIR, &[p]), 0);
    assert_eq!(h.ret(nr::GETCWD, &[BUF, 100]), 2);
    assert_eq!(h.open("secret", O_RDONLY), ENOENT);
}

#[test]
fn symlinks_out_are_refused() {
    let mut h = jailed();
    let secret = h.root.path().join("secret");
    let jail = h.root.path().join("jail");
    std::os::unix::fs::symlink(&secret, jail.join("abs")).unwrap();
    std::os::unix::fs::symlink("../secret", jail.join("rel")).unwrap();
    std::os::unix::fs::symlink("..", jail.join("up")).unwrap();
    std::os::unix::fs::symlink(h.root.path(), jail.join("absdir")).unwrap();
    std::os::unix::fs::symlink("inside", jail.join("fine")).unwrap();
    for path in ["/abs", "/rel", "/up/secret", "/absdir/secret"] {
        assert_eq!(h.open(path, O_RDONLY), EACCES, "open {path}");
        assert_eq!(h.stat(path, 0).0, EACCES, "stat {path}");
        let p = h.cstr(PATH_A, path);
        assert_eq!(
            h.ret(nr::FACCESSAT, &[AT_FDCWD, p, 0]),
            EACCES,
            "access {path}"
        );
        assert_eq!(h.ret(nr::CHDIR, &[p]), EACCES, "chdir {path}");
        let t = BUF + 0x800;
        h.put(t, &[0u8; 32]);
        assert_eq!(
            h.ret(nr::UTIMENSAT, &[AT_FDCWD, p, t, 0]),
            EACCES,
            "utimensat {path}"
        );
        assert_eq!(
            h.ret(nr::FCHMODAT, &[AT_FDCWD, p, 0o777]),
            EACCES,
            "chmod {path}"
        );
        assert_eq!(
            h.ret(nr::FCHOWNAT, &[AT_FDCWD, p, 0, 0, 0]),
            EACCES,
            "chown {path}"
        );
        assert_eq!(h.ret(nr::TRUNCATE, &[p, 0]), EACCES, "truncate {path}");
        // Writing through the link must not create or change anything outside.
        assert_eq!(
            h.open(path, O_WRONLY | O_CREAT | O_TRUNC),
            EACCES,
            "create {path}"
        );
    }
    assert_eq!(std::fs::read(&secret).unwrap(), b"top secret");
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&secret).unwrap();
    assert_ne!(meta.mode() & 0o777, 0o777, "mode unchanged");
    assert_ne!(meta.mtime(), 0, "times unchanged");
    // The links themselves are inside: lstat and readlink work.
    let (r, mode, _) = h.stat("/abs", 0x100);
    assert_eq!((r, mode & 0o170000), (0, 0o120000));
    let p = h.cstr(PATH_A, "/rel");
    assert_eq!(h.ret(nr::READLINKAT, &[AT_FDCWD, p, BUF, 100]), 9);
    assert_eq!(h.get(BUF, 9), b"../secret");
    // A symlink that stays inside is followed.
    let fd = h.open("/fine", O_RDONLY);
    assert_eq!(h.read_fd(fd, 10).unwrap(), b"ok");
    // Directories listing through an escaping link are refused too.
    assert_eq!(h.open("/up", O_RDONLY | O_DIRECTORY), EACCES);
}

#[test]
fn unmounted_paths_and_several_mounts() {
    let top = tempfile::tempdir().unwrap();
    std::fs::create_dir(top.path().join("data")).unwrap();
    std::fs::create_dir(top.path().join("out")).unwrap();
    std::fs::write(top.path().join("data/in.txt"), b"input").unwrap();
    let mounts = vec![
        Mount {
            host: top.path().join("data"),
            guest: "/data".into(),
        },
        Mount {
            host: top.path().join("out"),
            guest: "/out".into(),
        },
    ];
    let mut h = Harness::with_mounts(top, mounts);
    let fd = h.open("/data/in.txt", O_RDONLY);
    assert_eq!(h.read_fd(fd, 10).unwrap(), b"input");
    assert_eq!(h.open("/etc/passwd", O_RDONLY), ENOENT);
    assert_eq!(h.open("/", O_RDONLY), ENOENT);
    assert_eq!(h.open("/data/../out/../data/in.txt", O_RDONLY), 4);
    // `..` out of one mount lands in the guest tree, not in the host's parent folder.
    assert_eq!(h.open("/data/../in.txt", O_RDONLY), ENOENT);
    // Rename across mounts is EXDEV.
    let a = h.cstr(PATH_A, "/data/in.txt");
    let b = h.cstr(PATH_B, "/out/in.txt");
    assert_eq!(h.ret(nr::RENAMEAT2, &[AT_FDCWD, a, AT_FDCWD, b, 0]), EXDEV);
    assert_eq!(h.ret(nr::LINKAT, &[AT_FDCWD, a, AT_FDCWD, b, 0]), EXDEV);
    let fd = h.open("/out/result", O_WRONLY | O_CREAT);
    assert_eq!(h.write_fd(fd, b"r"), 1);
    assert_eq!(
        std::fs::read(h.root.path().join("out/result")).unwrap(),
        b"r"
    );
    // getdents64 of a mount root lists its host folder.
    let d = h.open("/out", O_RDONLY | O_DIRECTORY) as u64;
    let n = h.ret(nr::GETDENTS64, &[d, BUF, 4096]);
    assert!(n > 0);
    let text = h.get(BUF, n as u64);
    assert!(text.windows(6).any(|w| w == b"result"));
}
