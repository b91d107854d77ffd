//! Constants and struct layouts of the generic Linux ABI (riscv64/aarch64 LP64 view).

use crate::guest_io::{
    FromGuest, GuestLayout, ToGuest, get_i64, get_u64, put_i64, put_u16, put_u32, put_u64,
};

// openat flags (asm-generic/fcntl.h).
pub const O_ACCMODE: u32 = 0o3;
pub const O_RDONLY: u32 = 0o0;
pub const O_WRONLY: u32 = 0o1;
pub const O_RDWR: u32 = 0o2;
pub const O_CREAT: u32 = 0o100;
pub const O_EXCL: u32 = 0o200;
pub const O_NOCTTY: u32 = 0o400;
pub const O_TRUNC: u32 = 0o1000;
pub const O_APPEND: u32 = 0o2000;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_DSYNC: u32 = 0o10000;
pub const O_DIRECT: u32 = 0o40000;
pub const O_LARGEFILE: u32 = 0o100000;
pub const O_DIRECTORY: u32 = 0o200000;
pub const O_NOFOLLOW: u32 = 0o400000;
pub const O_NOATIME: u32 = 0o1000000;
pub const O_CLOEXEC: u32 = 0o2000000;
pub const O_SYNC: u32 = 0o4010000;
pub const O_PATH: u32 = 0o10000000;
pub const O_TMPFILE_BIT: u32 = 0o20000000;

// *at flags.
pub const AT_FDCWD: i32 = -100;
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
pub const AT_REMOVEDIR: u32 = 0x200;
pub const AT_EACCESS: u32 = 0x200;
pub const AT_SYMLINK_FOLLOW: u32 = 0x400;
pub const AT_NO_AUTOMOUNT: u32 = 0x800;
pub const AT_EMPTY_PATH: u32 = 0x1000;
pub const AT_STATX_SYNC_TYPE: u32 = 0x6000;

// fcntl.
pub const F_DUPFD: u32 = 0;
pub const F_GETFD: u32 = 1;
pub const F_SETFD: u32 = 2;
pub const F_GETFL: u32 = 3;
pub const F_SETFL: u32 = 4;
pub const F_GETLK: u32 = 5;
pub const F_SETLK: u32 = 6;
pub const F_SETLKW: u32 = 7;
pub const F_OFD_GETLK: u32 = 36;
pub const F_OFD_SETLK: u32 = 37;
pub const F_OFD_SETLKW: u32 = 38;
pub const F_DUPFD_CLOEXEC: u32 = 1030;
pub const FD_CLOEXEC: u64 = 1;
pub const F_UNLCK: u16 = 2;

// lseek.
pub const SEEK_SET: u32 = 0;
pub const SEEK_CUR: u32 = 1;
pub const SEEK_END: u32 = 2;
pub const SEEK_DATA: u32 = 3;
pub const SEEK_HOLE: u32 = 4;

// mmap and friends.
pub const PROT_READ: u64 = 1;
pub const PROT_WRITE: u64 = 2;
pub const PROT_EXEC: u64 = 4;
pub const MAP_SHARED: u64 = 0x01;
pub const MAP_PRIVATE: u64 = 0x02;
pub const MAP_SHARED_VALIDATE: u64 = 0x03;
pub const MAP_TYPE: u64 = 0x0f;
pub const MAP_FIXED: u64 = 0x10;
pub const MAP_ANONYMOUS: u64 = 0x20;
pub const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
pub const MREMAP_MAYMOVE: u64 = 1;
pub const MREMAP_FIXED: u64 = 2;
pub const MADV_DONTNEED: u64 = 4;

// Clocks.
pub const CLOCK_REALTIME: u32 = 0;
pub const CLOCK_MONOTONIC: u32 = 1;
pub const CLOCK_PROCESS_CPUTIME_ID: u32 = 2;
pub const CLOCK_THREAD_CPUTIME_ID: u32 = 3;
pub const CLOCK_MONOTONIC_RAW: u32 = 4;
pub const CLOCK_REALTIME_COARSE: u32 = 5;
pub const CLOCK_MONOTONIC_COARSE: u32 = 6;
pub const CLOCK_BOOTTIME: u32 = 7;
pub const CLOCK_REALTIME_ALARM: u32 = 8;
pub const CLOCK_BOOTTIME_ALARM: u32 = 9;
pub const CLOCK_TAI: u32 = 11;
pub const TIMER_ABSTIME: u64 = 1;

// Auxiliary vector keys.
pub const AT_NULL: u64 = 0;
pub const AT_PAGESZ: u64 = 6;
pub const AT_UID: u64 = 11;
pub const AT_EUID: u64 = 12;
pub const AT_GID: u64 = 13;
pub const AT_EGID: u64 = 14;
pub const AT_HWCAP: u64 = 16;
pub const AT_CLKTCK: u64 = 17;
pub const AT_SECURE: u64 = 23;
pub const AT_RANDOM: u64 = 25;

// getdents64 d_type values.
pub const DT_UNKNOWN: u8 = 0;
pub const DT_FIFO: u8 = 1;
pub const DT_CHR: u8 = 2;
pub const DT_DIR: u8 = 4;
pub const DT_BLK: u8 = 6;
pub const DT_REG: u8 = 8;
pub const DT_LNK: u8 = 10;
pub const DT_SOCK: u8 = 12;

pub const S_IFMT: u32 = 0o170000;
pub const S_IFDIR: u32 = 0o040000;

/// Largest byte count one read or write moves, as on Linux (`MAX_RW_COUNT`).
pub const MAX_RW_COUNT: u64 = 0x7fff_f000;
/// Most iovecs one readv/writev accepts (`UIO_MAXIOV`).
pub const IOV_MAX: u64 = 1024;

/// `struct timespec`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

impl Timespec {
    pub fn from_nanos(nanos: u128) -> Self {
        Timespec {
            sec: i64::try_from(nanos / 1_000_000_000).unwrap_or(i64::MAX),
            nsec: (nanos % 1_000_000_000) as i64,
        }
    }

    /// Total nanoseconds, or `None` for a value Linux rejects (negative, nsec out of range).
    pub fn to_nanos(self) -> Option<u128> {
        if self.sec < 0 || !(0..1_000_000_000).contains(&self.nsec) {
            return None;
        }
        Some(self.sec as u128 * 1_000_000_000 + self.nsec as u128)
    }
}

impl GuestLayout for Timespec {
    const SIZE: usize = 16;
}

impl ToGuest for Timespec {
    fn encode(&self, out: &mut [u8]) {
        put_i64(out, 0, self.sec);
        put_i64(out, 8, self.nsec);
    }
}

impl FromGuest for Timespec {
    fn decode(bytes: &[u8]) -> Self {
        Timespec {
            sec: get_i64(bytes, 0),
            nsec: get_i64(bytes, 8),
        }
    }
}

/// `struct timeval`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeval {
    pub sec: i64,
    pub usec: i64,
}

impl GuestLayout for Timeval {
    const SIZE: usize = 16;
}

impl ToGuest for Timeval {
    fn encode(&self, out: &mut [u8]) {
        put_i64(out, 0, self.sec);
        put_i64(out, 8, self.usec);
    }
}

/// `struct iovec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iovec {
    pub base: u64,
    pub len: u64,
}

impl GuestLayout for Iovec {
    const SIZE: usize = 16;
}

impl FromGuest for Iovec {
    fn decode(bytes: &[u8]) -> Self {
        Iovec {
            base: get_u64(bytes, 0),
            len: get_u64(bytes, 8),
        }
    }
}

/// The asm-generic `struct stat` (128 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: i64,
    pub blksize: i32,
    pub blocks: i64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

impl GuestLayout for Stat {
    const SIZE: usize = 128;
}

impl ToGuest for Stat {
    fn encode(&self, out: &mut [u8]) {
        put_u64(out, 0, self.dev);
        put_u64(out, 8, self.ino);
        put_u32(out, 16, self.mode);
        put_u32(out, 20, self.nlink);
        put_u32(out, 24, self.uid);
        put_u32(out, 28, self.gid);
        put_u64(out, 32, self.rdev);
        put_i64(out, 48, self.size);
        put_u32(out, 56, self.blksize as u32);
        put_i64(out, 64, self.blocks);
        self.atime.encode(&mut out[72..88]);
        self.mtime.encode(&mut out[88..104]);
        self.ctime.encode(&mut out[104..120]);
    }
}

pub const STATX_BASIC_STATS: u32 = 0x7ff;
pub const STATX_BTIME: u32 = 0x800;

/// `struct statx` (256 bytes). Filled from the same data as [`Stat`] plus a birth time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Statx {
    pub mask: u32,
    pub stat: Stat,
    pub btime: Option<Timespec>,
}

/// Split a Linux `dev_t` into (major, minor) as `MAJOR()`/`MINOR()` of glibc do.
pub fn dev_split(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

fn put_statx_time(out: &mut [u8], offset: usize, time: Timespec) {
    put_i64(out, offset, time.sec);
    put_u32(out, offset + 8, time.nsec as u32);
}

impl GuestLayout for Statx {
    const SIZE: usize = 256;
}

impl ToGuest for Statx {
    fn encode(&self, out: &mut [u8]) {
        let s = &self.stat;
        let mask = self.mask | if self.btime.is_some() { STATX_BTIME } else { 0 };
        put_u32(out, 0, mask);
        put_u32(out, 4, s.blksize as u32);
        put_u32(out, 16, s.nlink);
        put_u32(out, 20, s.uid);
        put_u32(out, 24, s.gid);
        put_u16(out, 28, s.mode as u16);
        put_u64(out, 32, s.ino);
        put_u64(out, 40, s.size as u64);
        put_u64(out, 48, s.blocks as u64);
        put_statx_time(out, 64, s.atime);
        put_statx_time(out, 80, self.btime.unwrap_or_default());
        put_statx_time(out, 96, s.ctime);
        put_statx_time(out, 112, s.mtime);
        let (rdev_major, rdev_minor) = dev_split(s.rdev);
        put_u32(out, 128, rdev_major);
        put_u32(out, 132, rdev_minor);
        let (dev_major, dev_minor) = dev_split(s.dev);
        put_u32(out, 136, dev_major);
        put_u32(out, 140, dev_minor);
    }
}

/// `struct utsname`: six 65-byte NUL-padded fields.
pub struct Utsname {
    pub sysname: &'static str,
    pub nodename: &'static str,
    pub release: &'static str,
    pub version: &'static str,
    pub machine: &'static str,
    pub domainname: &'static str,
}

impl GuestLayout for Utsname {
    const SIZE: usize = 6 * 65;
}

impl ToGuest for Utsname {
    fn encode(&self, out: &mut [u8]) {
        let fields = [
            self.sysname,
            self.nodename,
            self.release,
            self.version,
            self.machine,
            self.domainname,
        ];
        for (i, field) in fields.iter().enumerate() {
            let bytes = &field.as_bytes()[..field.len().min(64)];
            out[i * 65..i * 65 + bytes.len()].copy_from_slice(bytes);
        }
    }
}

/// `struct rlimit` / `struct rlimit64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub cur: u64,
    pub max: u64,
}

impl GuestLayout for Rlimit {
    const SIZE: usize = 16;
}

impl ToGuest for Rlimit {
    fn encode(&self, out: &mut [u8]) {
        put_u64(out, 0, self.cur);
        put_u64(out, 8, self.max);
    }
}

impl FromGuest for Rlimit {
    fn decode(bytes: &[u8]) -> Self {
        Rlimit {
            cur: get_u64(bytes, 0),
            max: get_u64(bytes, 8),
        }
    }
}

/// `struct sysinfo` (LP64: 112 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sysinfo {
    pub uptime: i64,
    pub totalram: u64,
    pub freeram: u64,
    pub procs: u16,
}

impl GuestLayout for Sysinfo {
    const SIZE: usize = 112;
}

impl ToGuest for Sysinfo {
    fn encode(&self, out: &mut [u8]) {
        put_i64(out, 0, self.uptime);
        put_u64(out, 32, self.totalram);
        put_u64(out, 40, self.freeram);
        put_u16(out, 80, self.procs);
        put_u32(out, 104, 1); // mem_unit: sizes are in bytes
    }
}

/// `stack_t` for sigaltstack.
pub struct StackT {
    pub sp: u64,
    pub flags: i32,
    pub size: u64,
}

impl GuestLayout for StackT {
    const SIZE: usize = 24;
}

impl ToGuest for StackT {
    fn encode(&self, out: &mut [u8]) {
        put_u64(out, 0, self.sp);
        put_u32(out, 8, self.flags as u32);
        put_u64(out, 16, self.size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded<T: ToGuest>(value: &T) -> Vec<u8> {
        let mut out = vec![0; T::SIZE];
        value.encode(&mut out);
        out
    }

    #[test]
    fn stat_layout_matches_asm_generic() {
        let stat = Stat {
            dev: 1,
            ino: 2,
            mode: 0o100644,
            nlink: 3,
            uid: 4,
            gid: 5,
            rdev: 6,
            size: 7,
            blksize: 8,
            blocks: 9,
            atime: Timespec { sec: 10, nsec: 11 },
            mtime: Timespec { sec: 12, nsec: 13 },
            ctime: Timespec { sec: 14, nsec: 15 },
        };
        let out = encoded(&stat);
        assert_eq!(out.len(), 128);
        let word = |o: usize| get_u64(&out, o);
        assert_eq!((word(0), word(8)), (1, 2));
        assert_eq!(
            u32::from_le_bytes(out[16..20].try_into().unwrap()),
            0o100644
        );
        assert_eq!(u32::from_le_bytes(out[20..24].try_into().unwrap()), 3);
        assert_eq!(word(32), 6);
        assert_eq!(word(48), 7);
        assert_eq!(u32::from_le_bytes(out[56..60].try_into().unwrap()), 8);
        assert_eq!(word(64), 9);
        assert_eq!(
            [word(72), word(80), word(88), word(96), word(104), word(112)],
            [10, 11, 12, 13, 14, 15]
        );
    }

    #[test]
    fn statx_layout() {
        let statx = Statx {
            mask: STATX_BASIC_STATS,
            stat: Stat {
                mode: 0o40755,
                ino: 77,
                size: 4096,
                dev: (8 << 8) | 3,
                mtime: Timespec { sec: 5, nsec: 6 },
                ..Stat::default()
            },
            btime: Some(Timespec { sec: 1, nsec: 2 }),
        };
        let out = encoded(&statx);
        assert_eq!(u32::from_le_bytes(out[0..4].try_into().unwrap()), 0xfff);
        assert_eq!(u16::from_le_bytes(out[28..30].try_into().unwrap()), 0o40755);
        assert_eq!(get_u64(&out, 32), 77);
        assert_eq!(get_u64(&out, 40), 4096);
        assert_eq!(get_u64(&out, 80), 1);
        assert_eq!(get_u64(&out, 112), 5);
        assert_eq!(u32::from_le_bytes(out[120..124].try_into().unwrap()), 6);
        assert_eq!(u32::from_le_bytes(out[136..140].try_into().unwrap()), 8);
        assert_eq!(u32::from_le_bytes(out[140..144].try_into().unwrap()), 3);
    }

    #[test]
    fn dev_numbers_split_like_glibc() {
        assert_eq!(dev_split(0x0803), (8, 3));
        // makedev(0x12345, 0x6789a) in glibc's encoding.
        assert_eq!(dev_split(0x0001_2000_6783_459a), (0x12345, 0x6789a));
    }

    #[test]
    fn timespec_validation() {
        assert_eq!(Timespec { sec: 1, nsec: 5 }.to_nanos(), Some(1_000_000_005));
        assert_eq!(Timespec { sec: -1, nsec: 0 }.to_nanos(), None);
        assert_eq!(
            Timespec {
                sec: 0,
                nsec: 1_000_000_000
            }
            .to_nanos(),
            None
        );
        assert_eq!(
            Timespec::from_nanos(2_500_000_000),
            Timespec {
                sec: 2,
                nsec: 500_000_000
            }
        );
    }

    #[test]
    fn utsname_fields_are_65_bytes_apart() {
        let out = encoded(&Utsname {
            sysname: "Linux",
            nodename: "xisa",
            release: "6.1.0",
            version: "#1",
            machine: "xisa",
            domainname: "(none)",
        });
        assert_eq!(&out[0..6], b"Linux\0");
        assert_eq!(&out[65..70], b"xisa\0");
        assert_eq!(&out[130..136], b"6.1.0\0");
        assert_eq!(&out[260..265], b"xisa\0");
    }
}
