//! End-to-end tests through `Personality::syscall`, with a Vec-backed guest memory and a
//! temporary directory as the sandbox.

use std::sync::{Arc, Mutex};

use tempfile::TempDir;
use xisa_format::memory_map::SHADOW_STACK;

use crate::memory::tests::VecMemory;
use crate::syscall_names::nr;
use crate::{Config, GuestMemory, GuestMemoryExt, Mount, Outcome, Personality};

mod files;
mod fuzz;
mod memory;
mod process;
mod sandbox;
mod state;

pub(crate) const AT_FDCWD: u64 = -100i64 as u64;
/// Scratch guest addresses, in the (otherwise unused here) shadow stack.
pub(crate) const PATH_A: u64 = SHADOW_STACK.start;
pub(crate) const PATH_B: u64 = SHADOW_STACK.start + 0x1000;
pub(crate) const BUF: u64 = SHADOW_STACK.start + 0x10000;

pub(crate) const ENOENT: i64 = -2;
pub(crate) const EBADF: i64 = -9;
pub(crate) const EACCES: i64 = -13;
pub(crate) const EFAULT: i64 = -14;
pub(crate) const EEXIST: i64 = -17;
pub(crate) const ENOTDIR: i64 = -20;
pub(crate) const EISDIR: i64 = -21;
pub(crate) const EINVAL: i64 = -22;
pub(crate) const ENOTTY: i64 = -25;
pub(crate) const ENOSYS: i64 = -38;
pub(crate) const ENOTEMPTY: i64 = -39;
pub(crate) const ENOMEM: i64 = -12;
pub(crate) const EXDEV: i64 = -18;
pub(crate) const ENODEV: i64 = -19;
pub(crate) const ERANGE: i64 = -34;

pub(crate) const O_RDONLY: u64 = 0;
pub(crate) const O_WRONLY: u64 = 1;
pub(crate) const O_RDWR: u64 = 2;
pub(crate) const O_CREAT: u64 = 0o100;
pub(crate) const O_EXCL: u64 = 0o200;
pub(crate) const O_TRUNC: u64 = 0o1000;
pub(crate) const O_APPEND: u64 = 0o2000;
pub(crate) const O_DIRECTORY: u64 = 0o200000;
pub(crate) const O_NOFOLLOW: u64 = 0o400000;
pub(crate) const O_CLOEXEC: u64 = 0o2000000;

/// A personality over a fresh sandbox, plus guest memory and captured warnings.
pub(crate) struct Harness {
    pub root: TempDir,
    pub p: Personality,
    pub mem: VecMemory,
    pub warnings: Arc<Mutex<Vec<String>>>,
}

impl Harness {
    /// The sandbox directory mounted at `/`.
    pub(crate) fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let mounts = vec![Mount {
            host: root.path().to_path_buf(),
            guest: "/".into(),
        }];
        Self::with_mounts(root, mounts)
    }

    pub(crate) fn with_mounts(root: TempDir, mounts: Vec<Mount>) -> Self {
        let mem = VecMemory::new();
        let config = Config {
            mounts,
            map: mem.map,
        };
        let mut p = Personality::new(config).unwrap();
        let warnings = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&warnings);
        p.set_warning_sink(Box::new(move |m| sink.lock().unwrap().push(m.to_string())));
        Harness {
            root,
            p,
            mem,
            warnings,
        }
    }

    pub(crate) fn config(&self) -> Config {
        Config {
            mounts: vec![Mount {
                host: self.root.path().to_path_buf(),
                guest: "/".into(),
            }],
            map: self.mem.map,
        }
    }

    pub(crate) fn call(&mut self, nr: u64, args: &[u64]) -> Outcome {
        let mut all = [0u64; 6];
        all[..args.len()].copy_from_slice(args);
        self.p.syscall(&mut self.mem.flat(), nr, all)
    }

    /// The return value of a call that must not exit.
    pub(crate) fn ret(&mut self, nr: u64, args: &[u64]) -> i64 {
        match self.call(nr, args) {
            Outcome::Return(v) => v,
            other => panic!("syscall {nr} gave {other:?}"),
        }
    }

    pub(crate) fn put(&mut self, addr: u64, data: &[u8]) {
        self.mem.flat().write_bytes(addr, data).unwrap();
    }

    pub(crate) fn get(&mut self, addr: u64, len: u64) -> Vec<u8> {
        self.mem.flat().bytes(addr, len).unwrap().to_vec()
    }

    pub(crate) fn u64_at(&mut self, addr: u64) -> u64 {
        self.mem.flat().read_u64(addr).unwrap()
    }

    /// Write `s` NUL-terminated at `addr`; returns `addr`.
    pub(crate) fn cstr(&mut self, addr: u64, s: &str) -> u64 {
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        self.put(addr, &bytes);
        addr
    }

    pub(crate) fn openat(&mut self, dirfd: u64, path: &str, flags: u64, mode: u64) -> i64 {
        let p = self.cstr(PATH_A, path);
        self.ret(nr::OPENAT, &[dirfd, p, flags, mode])
    }

    pub(crate) fn open(&mut self, path: &str, flags: u64) -> i64 {
        self.openat(AT_FDCWD, path, flags, 0o644)
    }

    pub(crate) fn write_fd(&mut self, fd: i64, data: &[u8]) -> i64 {
        self.put(BUF, data);
        self.ret(nr::WRITE, &[fd as u64, BUF, data.len() as u64])
    }

    /// Read up to `len` bytes from `fd`; the bytes, or the negative return as Err.
    pub(crate) fn read_fd(&mut self, fd: i64, len: u64) -> Result<Vec<u8>, i64> {
        let n = self.ret(nr::READ, &[fd as u64, BUF, len]);
        if n < 0 {
            Err(n)
        } else {
            Ok(self.get(BUF, n as u64))
        }
    }

    /// Path-based stat: (return value, st_mode, st_size).
    pub(crate) fn stat(&mut self, path: &str, flags: u64) -> (i64, u32, i64) {
        let p = self.cstr(PATH_A, path);
        let r = self.ret(nr::NEWFSTATAT, &[AT_FDCWD, p, BUF, flags]);
        let raw = self.get(BUF, 128);
        let mode = u32::from_le_bytes(raw[16..20].try_into().unwrap());
        let size = i64::from_le_bytes(raw[48..56].try_into().unwrap());
        (r, mode, size)
    }

    pub(crate) fn host(&self, rel: &str) -> std::path::PathBuf {
        self.root.path().join(rel)
    }
}

#[test]
fn personality_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Personality>();
}
