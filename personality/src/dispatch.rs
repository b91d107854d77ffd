//! System call dispatch: generic Linux numbers to handlers, and the ENOSYS fallback.

use crate::errno::Errno;
use crate::fs::fd_table::fd_arg as fd;
use crate::memory::GuestMemory;
use crate::personality::{Outcome, Personality};
use crate::sys::SysResult;
use crate::sys::process::{PID, PPID};
use crate::sys::rw::Direction::{Read, Write};
use crate::syscall_names::{nr, syscall_name};

/// Stop recording (and warning about) new unsupported numbers past this many, so a guest
/// probing random numbers cannot grow the set without bound.
const MAX_WARNED: usize = 4096;

impl Personality {
    /// Serve one system call. `nr` and `args` are the guest's registers, unchecked;
    /// nothing here panics on any value of them.
    pub fn syscall(&mut self, mem: &mut dyn GuestMemory, nr: u64, args: [u64; 6]) -> Outcome {
        let [a0, a1, a2, a3, a4, _] = args;
        let result: SysResult = match nr {
            // Data on fds.
            nr::READ => self.sys_read_or_write(mem, fd(a0), a1, a2, Read),
            nr::WRITE => self.sys_read_or_write(mem, fd(a0), a1, a2, Write),
            nr::READV => self.sys_readv_or_writev(mem, fd(a0), a1, a2, Read),
            nr::WRITEV => self.sys_readv_or_writev(mem, fd(a0), a1, a2, Write),
            nr::PREAD64 => self.sys_pread_or_pwrite(mem, fd(a0), a1, a2, a3, Read),
            nr::PWRITE64 => self.sys_pread_or_pwrite(mem, fd(a0), a1, a2, a3, Write),
            nr::LSEEK => self.sys_lseek(fd(a0), a1, a2),
            nr::GETDENTS64 => self.sys_getdents64(mem, fd(a0), a1, a2),
            // Descriptors.
            nr::CLOSE => self.sys_close(fd(a0)),
            nr::DUP => self.sys_dup(fd(a0)),
            nr::DUP3 => self.sys_dup3(fd(a0), fd(a1), a2),
            nr::FCNTL => self.sys_fcntl(mem, fd(a0), a1, a2),
            nr::IOCTL => self.sys_ioctl(fd(a0)),
            nr::FTRUNCATE => self.sys_ftruncate(fd(a0), a1),
            nr::FSYNC | nr::FDATASYNC | nr::FADVISE64 => self.sys_fsync(fd(a0)),
            nr::FSTAT => self.sys_fstat(mem, fd(a0), a1),
            nr::FCHMOD => self.sys_fchmod(fd(a0), a1),
            nr::FCHOWN => self.sys_fchown(fd(a0)),
            nr::FCHDIR => self.sys_fchdir(fd(a0)),
            // Paths.
            nr::OPENAT => self.sys_openat(mem, fd(a0), a1, a2, a3),
            nr::NEWFSTATAT => self.sys_newfstatat(mem, fd(a0), a1, a2, a3),
            nr::STATX => self.sys_statx(mem, fd(a0), a1, a2, a3, a4),
            nr::UNLINKAT => self.sys_unlinkat(mem, fd(a0), a1, a2),
            nr::MKDIRAT => self.sys_mkdirat(mem, fd(a0), a1, a2),
            nr::RENAMEAT => self.sys_renameat2(mem, fd(a0), a1, fd(a2), a3, 0),
            nr::RENAMEAT2 => self.sys_renameat2(mem, fd(a0), a1, fd(a2), a3, a4),
            nr::LINKAT => self.sys_linkat(mem, fd(a0), a1, fd(a2), a3, a4),
            nr::SYMLINKAT => self.sys_symlinkat(mem, a0, fd(a1), a2),
            nr::READLINKAT => self.sys_readlinkat(mem, fd(a0), a1, a2, a3),
            nr::FACCESSAT => self.sys_faccessat(mem, fd(a0), a1, a2, 0),
            nr::FACCESSAT2 => self.sys_faccessat(mem, fd(a0), a1, a2, a3),
            nr::FCHMODAT => self.sys_fchmodat(mem, fd(a0), a1, a2),
            nr::FCHOWNAT => self.sys_fchownat(mem, fd(a0), a1, a4),
            nr::UTIMENSAT => self.sys_utimensat(mem, fd(a0), a1, a2, a3),
            nr::TRUNCATE => self.sys_truncate(mem, a0, a1),
            nr::GETCWD => self.sys_getcwd(mem, a0, a1),
            nr::CHDIR => self.sys_chdir(mem, a0),
            nr::UMASK => self.sys_umask(a0),
            // Memory.
            nr::BRK => self.sys_brk(mem, a0),
            nr::MMAP => self.sys_mmap(mem, args),
            nr::MUNMAP => self.sys_munmap(a0, a1),
            nr::MREMAP => self.sys_mremap(mem, args),
            nr::MADVISE => self.sys_madvise(mem, a0, a1, a2),
            nr::MPROTECT => self.sys_mprotect(a0, a1, a2),
            nr::MSYNC => self.sys_msync(a0, a1),
            // Time and randomness.
            nr::CLOCK_GETTIME => self.sys_clock_gettime(mem, a0, a1),
            nr::CLOCK_GETRES => self.sys_clock_getres(mem, a0, a1),
            nr::GETTIMEOFDAY => self.sys_gettimeofday(mem, a0, a1),
            nr::NANOSLEEP => self.sys_nanosleep(mem, a0),
            nr::CLOCK_NANOSLEEP => self.sys_clock_nanosleep(mem, a0, a1, a2),
            nr::GETRANDOM => self.sys_getrandom(mem, a0, a1, a2),
            // Process.
            nr::EXIT | nr::EXIT_GROUP => return Outcome::Exit((a0 & 0xff) as i32),
            nr::UNAME => self.sys_uname(mem, a0),
            nr::GETPID | nr::GETTID | nr::SET_TID_ADDRESS => Ok(PID),
            nr::GETPPID => Ok(PPID),
            nr::GETUID | nr::GETEUID | nr::GETGID | nr::GETEGID => Ok(0),
            nr::SCHED_YIELD => Ok(0),
            nr::SCHED_GETAFFINITY => self.sys_sched_getaffinity(mem, a0, a1, a2),
            nr::PRLIMIT64 => self.sys_prlimit64(mem, a0, a1, a2, a3),
            nr::GETRLIMIT => self.sys_prlimit64(mem, 0, a0, 0, a1),
            nr::SETRLIMIT => self.sys_prlimit64(mem, 0, a0, a1, 0),
            nr::SYSINFO => self.sys_sysinfo(mem, a0),
            // Signals.
            nr::RT_SIGACTION => self.sys_rt_sigaction(mem, args),
            nr::RT_SIGPROCMASK => self.sys_rt_sigprocmask(mem, a0, a1, a2, a3),
            nr::SIGALTSTACK => self.sys_sigaltstack(mem, a0, a1),
            nr::KILL => return self.sys_signal_self(a0, a1),
            nr::TKILL => {
                if (a0 as i32) <= 0 {
                    Err(Errno::EINVAL)
                } else {
                    return self.sys_signal_self(a0, a1);
                }
            }
            nr::TGKILL => {
                if (a0 as i32) <= 0 || (a1 as i32) <= 0 {
                    Err(Errno::EINVAL)
                } else if a0 as i32 != PID as i32 {
                    Err(Errno::ESRCH)
                } else {
                    return self.sys_signal_self(a1, a2);
                }
            }
            _ => return self.unsupported(nr),
        };
        Outcome::Return(match result {
            Ok(value) => value as i64,
            Err(errno) => errno.as_return(),
        })
    }

    /// ENOSYS, with a warning the first time each number is seen.
    fn unsupported(&mut self, nr: u64) -> Outcome {
        if self.warned.len() < MAX_WARNED && self.warned.insert(nr) {
            let message = match syscall_name(nr) {
                Some(name) => format!(
                    "xisa: warning: guest called unsupported syscall '{name}' ({nr}); returning ENOSYS"
                ),
                None => {
                    format!("xisa: warning: guest called unknown syscall {nr}; returning ENOSYS")
                }
            };
            (self.warn)(&message);
        }
        Outcome::Return(Errno::ENOSYS.as_return())
    }
}
