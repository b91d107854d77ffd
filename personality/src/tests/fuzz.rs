//! Random system calls with random arguments never panic, against a real FlatMemory.

use proptest::prelude::*;
use xisa_format::memory_map::{MIN_MEM_TOP, SHADOW_STACK, SHADOW_STACK_GUARD, STARTUP};

use crate::memory::tests::test_map;
use crate::{Config, FlatMemory, GuestMemory, Mount, Outcome, Personality};

use super::nr;

/// Scratch area holding a few valid paths and buffers the random arguments may point at.
const SCRATCH: u64 = SHADOW_STACK.start;
const PATHS: [&str; 6] = ["/f", "/d", ".", "/d/g", "..", "/missing"];

fn argument() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 0u64..4, // mostly valid fds, small lengths and flags
        3 => 0u64..16,
        1 => Just(0u64),
        1 => Just(u64::MAX),
        1 => Just(u64::MAX - 1),
        1 => Just(-100i64 as u64), // AT_FDCWD
        1 => Just(0x8000u64),      // null guard
        1 => Just(SHADOW_STACK_GUARD.start),
        1 => Just(MIN_MEM_TOP - 1),
        1 => Just(MIN_MEM_TOP),
        3 => (0usize..PATHS.len()).prop_map(|i| SCRATCH + 0x100 * i as u64),
        3 => SCRATCH..SCRATCH + 0x10000,
        1 => STARTUP.start..STARTUP.end,
        2 => 0u64..0x10_0000,
        2 => any::<u64>(),
    ]
}

/// The numbers the dispatcher serves, so most random calls get past the ENOSYS fallback.
const SERVED: &[u64] = &[
    nr::READ,
    nr::WRITE,
    nr::READV,
    nr::WRITEV,
    nr::PREAD64,
    nr::PWRITE64,
    nr::LSEEK,
    nr::GETDENTS64,
    nr::CLOSE,
    nr::DUP,
    nr::DUP3,
    nr::FCNTL,
    nr::IOCTL,
    nr::FTRUNCATE,
    nr::FSYNC,
    nr::FDATASYNC,
    nr::FADVISE64,
    nr::FSTAT,
    nr::FCHMOD,
    nr::FCHOWN,
    nr::FCHDIR,
    nr::OPENAT,
    nr::NEWFSTATAT,
    nr::STATX,
    nr::UNLINKAT,
    nr::MKDIRAT,
    nr::RENAMEAT,
    nr::RENAMEAT2,
    nr::LINKAT,
    nr::SYMLINKAT,
    nr::READLINKAT,
    nr::FACCESSAT,
    nr::FACCESSAT2,
    nr::FCHMODAT,
    nr::FCHOWNAT,
    nr::UTIMENSAT,
    nr::TRUNCATE,
    nr::GETCWD,
    nr::CHDIR,
    nr::UMASK,
    nr::BRK,
    nr::MMAP,
    nr::MUNMAP,
    nr::MREMAP,
    nr::MADVISE,
    nr::MPROTECT,
    nr::MSYNC,
    nr::CLOCK_GETTIME,
    nr::CLOCK_GETRES,
    nr::GETTIMEOFDAY,
    nr::NANOSLEEP,
    nr::CLOCK_NANOSLEEP,
    nr::GETRANDOM,
    nr::UNAME,
    nr::GETPID,
    nr::SCHED_GETAFFINITY,
    nr::PRLIMIT64,
    nr::GETRLIMIT,
    nr::SETRLIMIT,
    nr::SYSINFO,
    nr::RT_SIGACTION,
    nr::RT_SIGPROCMASK,
    nr::SIGALTSTACK,
    nr::KILL,
    nr::TKILL,
    nr::TGKILL,
    nr::EXIT_GROUP,
];

fn number() -> impl Strategy<Value = u64> {
    prop_oneof![
        12 => prop::sample::select(SERVED),
        3 => 0u64..460,
        1 => any::<u64>(),
    ]
}

/// Calls that would block or sleep on guest-chosen values are made harmless: a sleep
/// request is forced to zero (the sleep paths still run), nothing reads the host stdin.
fn defuse(mem: &mut FlatMemory<'_>, number: u64, args: &[u64; 6]) {
    let request = match number {
        nr::NANOSLEEP => args[0],
        nr::CLOCK_NANOSLEEP => args[2],
        _ => return,
    };
    if let Ok(bytes) = mem.bytes_mut(request, 16) {
        bytes.fill(0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_syscalls_never_panic(
        calls in prop::collection::vec((number(), [argument(), argument(), argument(), argument(), argument(), argument()]), 1..64)
    ) {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("f"), b"some file content").unwrap();
        std::fs::create_dir(root.path().join("d")).unwrap();
        std::fs::write(root.path().join("d/g"), b"g").unwrap();
        let map = test_map();
        let config = Config { mounts: vec![Mount { host: root.path().into(), guest: "/".into() }], map };
        let mut p = Personality::new(config).unwrap();
        p.set_warning_sink(Box::new(|_| {}));
        let mut data = vec![0u8; map.mem_top as usize];
        let mut mem = FlatMemory::new(&mut data, map);
        for (i, path) in PATHS.iter().enumerate() {
            let at = SCRATCH + 0x100 * i as u64;
            mem.bytes_mut(at, path.len() as u64 + 1).unwrap()[..path.len()].copy_from_slice(path.as_bytes());
        }
        // Keep the host's stdio out of it: the guest closes 0, 1 and 2 first.
        for fd in 0..3 {
            prop_assert_eq!(p.syscall(&mut mem, nr::CLOSE, [fd, 0, 0, 0, 0, 0]), Outcome::Return(0));
        }
        // Give the random fds something to refer to: 0 = /f (rw), 1 = /d, 2 = /d/g.
        let opens = [(0u64, 2u64), (0x100, 0o200000), (0x300, 0)];
        for (fd, (path, flags)) in opens.into_iter().enumerate() {
            let args = [-100i64 as u64, SCRATCH + path, flags, 0, 0, 0];
            prop_assert_eq!(p.syscall(&mut mem, nr::OPENAT, args), Outcome::Return(fd as i64));
        }
        for (number, args) in calls {
            defuse(&mut mem, number, &args);
            match p.syscall(&mut mem, number, args) {
                Outcome::Return(value) => prop_assert!(value >= -4095, "nr {} gave {}", number, value),
                // An executor would stop here; carrying on exercises more calls and the
                // personality must not care.
                Outcome::Exit(code) => prop_assert!((0..=255).contains(&code)),
            }
        }
        // Whatever happened, the state can still be captured and restored.
        let state = p.state().unwrap();
        let config = Config { mounts: vec![Mount { host: root.path().into(), guest: "/".into() }], map };
        if let Err(e) = Personality::restore(&state, config) {
            // Only files the random calls removed or renamed may be missing.
            prop_assert!(matches!(e, crate::PersonalityError::Reopen { .. }), "{}", e);
        }
    }
}
