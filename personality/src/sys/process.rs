//! Process-level calls: identity, uname, limits, sysinfo, signals, randomness, umask.

use crate::abi::{Rlimit, StackT, Sysinfo, Utsname};
use crate::errno::Errno;
use crate::guest_io::{GuestMemoryExt, get_u64, put_u64};
use crate::memory::GuestMemory;
use crate::personality::{Outcome, Personality};
use crate::sys::{SysResult, check_flags};

/// The guest is the only process: pid 1 with no parent, single-threaded (tid == pid).
pub(crate) const PID: u64 = 1;
pub(crate) const PPID: u64 = 0;

const SIGKILL: u32 = 9;
const SIGSTOP: u32 = 19;
const SIG_IGN: u64 = 1;
/// Signals whose default action is to do nothing: SIGCHLD, SIGCONT, SIGURG, SIGWINCH.
const DEFAULT_IGNORED: [u32; 4] = [17, 18, 23, 28];
const NSIG: u32 = 64;
const SIGSET_SIZE: u64 = 8;
const SS_DISABLE: i32 = 2;

const RLIM_INFINITY: u64 = u64::MAX;
const RLIMIT_DATA: u32 = 2;
const RLIMIT_STACK: u32 = 3;
const RLIMIT_CORE: u32 = 4;
const RLIMIT_NOFILE: u32 = 7;
const RLIMIT_AS: u32 = 9;
const RLIM_NLIMITS: u32 = 16;

/// Most bytes one getrandom call returns (Linux: 32 MiB - 1).
const GETRANDOM_MAX: u64 = (1 << 25) - 1;
const GRND_VALID: u64 = 1 | 2 | 4; // NONBLOCK | RANDOM | INSECURE

/// Fill `out` from the host's random source.
pub(crate) fn host_random(out: &mut [u8]) -> Result<(), Errno> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut done = 0;
        while done < out.len() {
            match rustix::rand::getrandom(&mut out[done..], rustix::rand::GetRandomFlags::empty()) {
                Ok(n) => done += n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        use std::io::Read;
        std::fs::File::open("/dev/urandom")?.read_exact(out)?;
        Ok(())
    }
}

fn is_self(pid: u64) -> bool {
    let pid = pid as u32 as i32;
    // 0 is our process group and -1 "every process we may signal": both only us.
    pid == PID as i32 || pid == 0 || pid == -1
}

/// ESRCH unless `pid` is 0 (the caller) or the guest's own pid, for calls that take a pid.
fn check_own_pid(pid: u64) -> Result<(), Errno> {
    if pid != 0 && pid != PID {
        return Err(Errno::ESRCH);
    }
    Ok(())
}

impl Personality {
    fn limit(&self, resource: u32) -> Rlimit {
        let both = |v| Rlimit { cur: v, max: v };
        match resource {
            RLIMIT_STACK => both(
                xisa_format::memory_map::SHADOW_STACK.end
                    - xisa_format::memory_map::SHADOW_STACK.start,
            ),
            RLIMIT_NOFILE => both(crate::fs::fd_table::MAX_FDS as u64),
            RLIMIT_CORE => both(0),
            RLIMIT_DATA | RLIMIT_AS => both(self.map.mem_top),
            _ => both(RLIM_INFINITY),
        }
    }

    pub(crate) fn sys_uname(&mut self, mem: &mut dyn GuestMemory, buf: u64) -> SysResult {
        let uts = Utsname {
            sysname: "Linux",
            nodename: "xisa",
            release: "6.1.0",
            version: "#1 SMP xisa",
            machine: "xisa",
            domainname: "(none)",
        };
        mem.write_struct(buf, &uts)?;
        Ok(0)
    }

    pub(crate) fn sys_umask(&mut self, mask: u64) -> SysResult {
        let old = self.umask;
        self.umask = mask as u32 & 0o777;
        Ok(u64::from(old))
    }

    pub(crate) fn sys_prlimit64(
        &mut self,
        mem: &mut dyn GuestMemory,
        pid: u64,
        resource: u64,
        new: u64,
        old: u64,
    ) -> SysResult {
        check_own_pid(pid)?;
        let resource = u32::try_from(resource)
            .ok()
            .filter(|&r| r < RLIM_NLIMITS)
            .ok_or(Errno::EINVAL)?;
        if new != 0 {
            let wanted: Rlimit = mem.read_struct(new)?;
            if wanted.cur > wanted.max {
                return Err(Errno::EINVAL);
            }
            // Accepted but not enforced beyond the fixed limits of the sandbox.
        }
        if old != 0 {
            mem.write_struct(old, &self.limit(resource))?;
        }
        Ok(0)
    }

    pub(crate) fn sys_sysinfo(&mut self, mem: &mut dyn GuestMemory, buf: u64) -> SysResult {
        let info = Sysinfo {
            uptime: (self.clock.monotonic_ns() / 1_000_000_000) as i64,
            totalram: self.map.mem_top,
            freeram: self.mm.free_bytes(),
            procs: 1,
        };
        mem.write_struct(buf, &info)?;
        Ok(0)
    }

    pub(crate) fn sys_sched_getaffinity(
        &mut self,
        mem: &mut dyn GuestMemory,
        pid: u64,
        len: u64,
        mask: u64,
    ) -> SysResult {
        check_own_pid(pid)?;
        if len < 8 || !len.is_multiple_of(8) {
            return Err(Errno::EINVAL);
        }
        mem.write_u64(mask, 1)?; // one CPU
        Ok(8)
    }

    pub(crate) fn sys_getrandom(
        &mut self,
        mem: &mut dyn GuestMemory,
        buf: u64,
        len: u64,
        flags: u64,
    ) -> SysResult {
        check_flags(flags, GRND_VALID)?;
        let len = len.min(GETRANDOM_MAX);
        host_random(mem.bytes_mut(buf, len)?)?;
        Ok(len)
    }

    pub(crate) fn sys_rt_sigaction(
        &mut self,
        mem: &mut dyn GuestMemory,
        args: [u64; 6],
    ) -> SysResult {
        let [signal, act, old, size, ..] = args;
        if size != SIGSET_SIZE {
            return Err(Errno::EINVAL);
        }
        let signal = u32::try_from(signal)
            .ok()
            .filter(|s| (1..=NSIG).contains(s))
            .ok_or(Errno::EINVAL)?;
        let new = if act != 0 {
            if signal == SIGKILL || signal == SIGSTOP {
                return Err(Errno::EINVAL);
            }
            let raw = mem.bytes(act, 16)?;
            Some((get_u64(raw, 0), get_u64(raw, 8)))
        } else {
            None
        };
        if old != 0 {
            let (handler, flags) = self.signals.actions.get(&signal).copied().unwrap_or((0, 0));
            // handler, flags, then 8 zero bytes: the mask on riscv64, sa_restorer on
            // aarch64. Both layouts are at least 24 bytes, so this never overruns.
            let mut out = [0u8; 24];
            put_u64(&mut out, 0, handler);
            put_u64(&mut out, 8, flags);
            mem.write_bytes(old, &out)?;
        }
        if let Some(action) = new {
            self.signals.actions.insert(signal, action);
        }
        Ok(0)
    }

    pub(crate) fn sys_rt_sigprocmask(
        &mut self,
        mem: &mut dyn GuestMemory,
        how: u64,
        set: u64,
        old: u64,
        size: u64,
    ) -> SysResult {
        if size != SIGSET_SIZE {
            return Err(Errno::EINVAL);
        }
        let current = self.signals.mask;
        let new = if set != 0 {
            let set = mem.read_u64(set)?;
            let unblockable = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));
            let mask = match how {
                0 => current | set,
                1 => current & !set,
                2 => set,
                _ => return Err(Errno::EINVAL),
            };
            Some(mask & !unblockable)
        } else {
            None
        };
        if old != 0 {
            mem.write_u64(old, current)?;
        }
        if let Some(mask) = new {
            self.signals.mask = mask;
        }
        Ok(0)
    }

    pub(crate) fn sys_sigaltstack(
        &mut self,
        mem: &mut dyn GuestMemory,
        new: u64,
        old: u64,
    ) -> SysResult {
        if new != 0 {
            mem.bytes(new, 24)?;
        }
        if old != 0 {
            mem.write_struct(
                old,
                &StackT {
                    sp: 0,
                    flags: SS_DISABLE,
                    size: 0,
                },
            )?;
        }
        Ok(0)
    }

    /// kill/tkill/tgkill aimed at ourselves. Handlers never run (there is no way to
    /// interrupt the guest), so a signal is either ignored or ends the program with the
    /// status a shell reports for it (128 + n): what `abort()` expects.
    pub(crate) fn sys_signal_self(&mut self, target: u64, signal: u64) -> Outcome {
        let Ok(signal) = u32::try_from(signal) else {
            return Outcome::Return(Errno::EINVAL.as_return());
        };
        if signal > NSIG {
            return Outcome::Return(Errno::EINVAL.as_return());
        }
        if !is_self(target) {
            return Outcome::Return(Errno::ESRCH.as_return());
        }
        if signal == 0 {
            return Outcome::Return(0);
        }
        let handler = self.signals.actions.get(&signal).map_or(0, |&(h, _)| h);
        let blocked = self.signals.mask & (1 << (signal - 1)) != 0;
        let ignored = handler == SIG_IGN || (handler == 0 && DEFAULT_IGNORED.contains(&signal));
        if ignored || (blocked && signal != SIGKILL && signal != SIGSTOP) {
            return Outcome::Return(0);
        }
        Outcome::Exit(128 + signal as i32)
    }
}
