//! Process, time, signal and fallback calls.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::*;

#[test]
fn unsupported_calls_warn_once() {
    let mut h = Harness::new();
    assert_eq!(h.ret(nr::SOCKET, &[2, 1, 0]), ENOSYS);
    assert_eq!(h.ret(nr::SOCKET, &[2, 1, 0]), ENOSYS);
    assert_eq!(h.ret(99_999, &[]), ENOSYS);
    assert_eq!(h.ret(99_999, &[]), ENOSYS);
    let warnings = h.warnings.lock().unwrap().clone();
    assert_eq!(
        warnings,
        vec![
            "xisa: warning: guest called unsupported syscall 'socket' (198); returning ENOSYS"
                .to_string(),
            "xisa: warning: guest called unknown syscall 99999; returning ENOSYS".to_string(),
        ]
    );
}

#[test]
fn exit_and_exit_group() {
    let mut h = Harness::new();
    assert_eq!(h.call(nr::EXIT_GROUP, &[3]), Outcome::Exit(3));
    assert_eq!(h.call(nr::EXIT, &[0x1ff]), Outcome::Exit(0xff));
}

#[test]
fn identity_and_uname() {
    let mut h = Harness::new();
    assert_eq!(h.ret(nr::GETPID, &[]), 1);
    assert_eq!(h.ret(nr::GETTID, &[]), 1);
    assert_eq!(h.ret(nr::GETPPID, &[]), 0);
    assert_eq!(h.ret(nr::SET_TID_ADDRESS, &[BUF]), 1);
    for call in [nr::GETUID, nr::GETEUID, nr::GETGID, nr::GETEGID] {
        assert_eq!(h.ret(call, &[]), 0);
    }
    assert_eq!(h.ret(nr::UNAME, &[BUF]), 0);
    let uts = h.get(BUF, 390);
    let field = |i: usize| {
        let f = &uts[i * 65..(i + 1) * 65];
        String::from_utf8(f[..f.iter().position(|&b| b == 0).unwrap()].to_vec()).unwrap()
    };
    assert_eq!(
        [field(0), field(1), field(2), field(4)],
        ["Linux", "xisa", "6.1.0", "xisa"]
    );
    assert_eq!(h.ret(nr::SCHED_YIELD, &[]), 0);
    assert_eq!(h.ret(nr::SCHED_GETAFFINITY, &[0, 128, BUF]), 8);
    assert_eq!(h.u64_at(BUF), 1);
}

#[test]
fn limits_and_sysinfo() {
    let mut h = Harness::new();
    const RLIMIT_NOFILE: u64 = 7;
    assert_eq!(h.ret(nr::PRLIMIT64, &[0, RLIMIT_NOFILE, 0, BUF]), 0);
    assert_eq!((h.u64_at(BUF), h.u64_at(BUF + 8)), (1024, 1024));
    assert_eq!(h.ret(nr::GETRLIMIT, &[3, BUF]), 0); // RLIMIT_STACK: the shadow stack
    assert_eq!(h.u64_at(BUF), 16 << 20);
    assert_eq!(h.ret(nr::GETRLIMIT, &[6, BUF]), 0); // RLIMIT_NPROC: unlimited
    assert_eq!(h.u64_at(BUF), u64::MAX);
    assert_eq!(h.ret(nr::PRLIMIT64, &[0, 99, 0, BUF]), EINVAL);
    assert_eq!(h.ret(nr::PRLIMIT64, &[5, 7, 0, BUF]), -3); // ESRCH
    h.put(
        BUF,
        &[&10u64.to_le_bytes()[..], &5u64.to_le_bytes()[..]].concat(),
    );
    assert_eq!(h.ret(nr::SETRLIMIT, &[7, BUF]), EINVAL, "soft above hard");
    assert_eq!(h.ret(nr::SYSINFO, &[BUF]), 0);
    let info = h.get(BUF, 112);
    let word = |o: usize| u64::from_le_bytes(info[o..o + 8].try_into().unwrap());
    assert_eq!(word(32), h.mem.map.mem_top, "totalram");
    assert!(word(40) > 0 && word(40) < h.mem.map.mem_top, "freeram");
    assert_eq!(
        u32::from_le_bytes(info[104..108].try_into().unwrap()),
        1,
        "mem_unit"
    );
}

#[test]
fn clocks() {
    let mut h = Harness::new();
    assert_eq!(h.ret(nr::CLOCK_GETTIME, &[0, BUF]), 0);
    let sec = h.u64_at(BUF);
    let host = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(sec.abs_diff(host) <= 2, "realtime {sec} vs host {host}");
    assert!(h.u64_at(BUF + 8) < 1_000_000_000);
    let mono = |h: &mut Harness| {
        assert_eq!(h.ret(nr::CLOCK_GETTIME, &[1, BUF]), 0);
        h.u64_at(BUF) as u128 * 1_000_000_000 + h.u64_at(BUF + 8) as u128
    };
    let a = mono(&mut h);
    let b = mono(&mut h);
    assert!(b >= a);
    for clock in [2, 3, 4, 5, 6, 7] {
        assert_eq!(h.ret(nr::CLOCK_GETTIME, &[clock, BUF]), 0, "clock {clock}");
    }
    assert_eq!(h.ret(nr::CLOCK_GETTIME, &[10, BUF]), EINVAL);
    assert_eq!(h.ret(nr::CLOCK_GETRES, &[1, BUF]), 0);
    assert_eq!((h.u64_at(BUF), h.u64_at(BUF + 8)), (0, 1));
    assert_eq!(h.ret(nr::CLOCK_GETRES, &[1, 0]), 0);
    assert_eq!(h.ret(nr::CLOCK_GETRES, &[77, 0]), EINVAL);
    assert_eq!(h.ret(nr::GETTIMEOFDAY, &[BUF, BUF + 16]), 0);
    assert!(h.u64_at(BUF).abs_diff(host) <= 2);
    assert!(h.u64_at(BUF + 8) < 1_000_000, "microseconds");
}

#[test]
fn sleeps_really_sleep() {
    let mut h = Harness::new();
    h.put(
        BUF,
        &[&0u64.to_le_bytes()[..], &20_000_000u64.to_le_bytes()[..]].concat(),
    );
    let start = Instant::now();
    assert_eq!(h.ret(nr::NANOSLEEP, &[BUF, 0]), 0);
    assert!(start.elapsed() >= Duration::from_millis(20));
    let start = Instant::now();
    assert_eq!(h.ret(nr::CLOCK_NANOSLEEP, &[1, 0, BUF, 0]), 0);
    assert!(start.elapsed() >= Duration::from_millis(20));
    // An absolute deadline 30ms ahead on CLOCK_MONOTONIC.
    assert_eq!(h.ret(nr::CLOCK_GETTIME, &[1, BUF + 32]), 0);
    let now = h.u64_at(BUF + 32) as u128 * 1_000_000_000 + h.u64_at(BUF + 40) as u128;
    let deadline = now + 30_000_000;
    let (s, ns) = (
        (deadline / 1_000_000_000) as u64,
        (deadline % 1_000_000_000) as u64,
    );
    h.put(
        BUF + 64,
        &[&s.to_le_bytes()[..], &ns.to_le_bytes()[..]].concat(),
    );
    let start = Instant::now();
    assert_eq!(h.ret(nr::CLOCK_NANOSLEEP, &[1, 1, BUF + 64, 0]), 0);
    assert!(start.elapsed() >= Duration::from_millis(25));
    // Invalid requests.
    h.put(
        BUF,
        &[&0u64.to_le_bytes()[..], &1_000_000_000u64.to_le_bytes()[..]].concat(),
    );
    assert_eq!(h.ret(nr::NANOSLEEP, &[BUF, 0]), EINVAL);
    assert_eq!(h.ret(nr::NANOSLEEP, &[0, 0]), EFAULT);
    assert_eq!(h.ret(nr::CLOCK_NANOSLEEP, &[1, 2, BUF, 0]), EINVAL);
    assert_eq!(h.ret(nr::CLOCK_NANOSLEEP, &[2, 0, BUF, 0]), EINVAL);
}

#[test]
fn getrandom_fills() {
    let mut h = Harness::new();
    assert_eq!(h.ret(nr::GETRANDOM, &[BUF, 64, 0]), 64);
    let a = h.get(BUF, 64);
    assert_eq!(h.ret(nr::GETRANDOM, &[BUF, 64, 1]), 64);
    assert_ne!(a, h.get(BUF, 64));
    assert_ne!(a, vec![0; 64]);
    assert_eq!(h.ret(nr::GETRANDOM, &[BUF, 64, 8]), EINVAL);
    assert_eq!(h.ret(nr::GETRANDOM, &[BUF, 0, 0]), 0);
}

#[test]
fn signals() {
    let mut h = Harness::new();
    // rt_sigaction stores and returns handler and flags.
    h.put(
        BUF,
        &[
            &0x1234u64.to_le_bytes()[..],
            &0x4000_0000u64.to_le_bytes()[..],
            &[0; 16],
        ]
        .concat(),
    );
    assert_eq!(h.ret(nr::RT_SIGACTION, &[10, BUF, 0, 8]), 0);
    h.put(BUF + 64, &[0xaa; 32]);
    assert_eq!(h.ret(nr::RT_SIGACTION, &[10, 0, BUF + 64, 8]), 0);
    assert_eq!(h.u64_at(BUF + 64), 0x1234);
    assert_eq!(h.u64_at(BUF + 72), 0x4000_0000);
    assert_eq!(h.u64_at(BUF + 80), 0);
    assert_eq!(h.get(BUF + 88, 8), [0xaa; 8], "never writes past 24 bytes");
    assert_eq!(h.ret(nr::RT_SIGACTION, &[9, BUF, 0, 8]), EINVAL, "SIGKILL");
    assert_eq!(h.ret(nr::RT_SIGACTION, &[65, 0, 0, 8]), EINVAL);
    assert_eq!(h.ret(nr::RT_SIGACTION, &[10, 0, 0, 16]), EINVAL);
    // rt_sigprocmask keeps a mask.
    h.put(BUF, &0b1010u64.to_le_bytes());
    assert_eq!(h.ret(nr::RT_SIGPROCMASK, &[0, BUF, 0, 8]), 0);
    assert_eq!(h.ret(nr::RT_SIGPROCMASK, &[1, 0, BUF + 8, 8]), 0);
    assert_eq!(h.u64_at(BUF + 8), 0b1010);
    assert_eq!(h.ret(nr::RT_SIGPROCMASK, &[7, BUF, 0, 8]), EINVAL);
    // sigaltstack reports "disabled".
    assert_eq!(h.ret(nr::SIGALTSTACK, &[0, BUF]), 0);
    assert_eq!(h.u64_at(BUF + 8) as u32, 2);
    // Signals to ourselves: ignored ones return, fatal ones end the program.
    assert_eq!(h.call(nr::KILL, &[1, 0]), Outcome::Return(0));
    assert_eq!(
        h.call(nr::KILL, &[1, 17]),
        Outcome::Return(0),
        "SIGCHLD is ignored"
    );
    assert_eq!(h.call(nr::KILL, &[42, 6]), Outcome::Return(-3), "ESRCH");
    assert_eq!(h.call(nr::TKILL, &[0, 6]), Outcome::Return(EINVAL));
    assert_eq!(
        h.call(nr::TGKILL, &[1, 1, 6]),
        Outcome::Exit(134),
        "abort()"
    );
    assert_eq!(h.call(nr::KILL, &[0, 15]), Outcome::Exit(143));
}
