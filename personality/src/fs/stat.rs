//! Host metadata as the guest's `struct stat` / `struct statx`.

use std::time::UNIX_EPOCH;

use cap_std::fs::{Metadata, MetadataExt};
use cap_std::time::SystemTime;

use crate::abi::{STATX_BASIC_STATS, Stat, Statx, Timespec};

fn time(sec: i64, nsec: i64) -> Timespec {
    Timespec { sec, nsec }
}

/// The guest's view of a host file's metadata. Owner and group read as root (the guest
/// runs as uid 0 and owns everything it can see).
pub(crate) fn stat_of(meta: &Metadata) -> Stat {
    Stat {
        dev: meta.dev(),
        ino: meta.ino(),
        mode: meta.mode(),
        nlink: u32::try_from(meta.nlink()).unwrap_or(u32::MAX),
        uid: 0,
        gid: 0,
        rdev: meta.rdev(),
        size: i64::try_from(meta.size()).unwrap_or(i64::MAX),
        blksize: i32::try_from(meta.blksize()).unwrap_or(4096),
        blocks: i64::try_from(meta.blocks()).unwrap_or(i64::MAX),
        atime: time(meta.atime(), meta.atime_nsec()),
        mtime: time(meta.mtime(), meta.mtime_nsec()),
        ctime: time(meta.ctime(), meta.ctime_nsec()),
    }
}

/// `statx` data: the basic stats plus a birth time where the host has one.
pub(crate) fn statx_of(meta: &Metadata) -> Statx {
    let btime = meta
        .created()
        .ok()
        .and_then(|created| {
            created
                .duration_since(SystemTime::from_std(UNIX_EPOCH))
                .ok()
        })
        .map(|since| Timespec::from_nanos(since.as_nanos()));
    Statx {
        mask: STATX_BASIC_STATS,
        stat: stat_of(meta),
        btime,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_a_real_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let meta = Metadata::from_file(&file).unwrap();
        let stat = stat_of(&meta);
        assert_eq!(stat.size, 5);
        assert_eq!(stat.mode & 0o170000, 0o100000);
        assert_eq!(stat.nlink, 1);
        assert_eq!((stat.uid, stat.gid), (0, 0));
        assert!(stat.mtime.sec > 1_600_000_000);
        let statx = statx_of(&meta);
        assert_eq!(statx.stat, stat);
        assert_eq!(statx.mask, STATX_BASIC_STATS);
    }
}
