//! Directory listings for getdents64, with stable `d_off` cookies.
//!
//! A listing is a snapshot: `.`, `..`, then the entries sorted by name. The cookie of an
//! entry is its index + 1, so a position is plain data that survives lseek, telldir and a
//! checkpoint; the snapshot is retaken whenever the guest reads from position 0 (opendir,
//! rewinddir), so it sees changes made since.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirEntryExt;

use cap_std::fs::{Dir, FileTypeExt};

use crate::abi::{DT_BLK, DT_CHR, DT_DIR, DT_FIFO, DT_LNK, DT_REG, DT_SOCK, DT_UNKNOWN};
use crate::errno::Errno;
use crate::guest_io::{put_u16, put_u64};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DirEntry {
    pub ino: u64,
    pub kind: u8,
    pub name: Vec<u8>,
}

/// Read position and the current snapshot of one open directory.
#[derive(Debug, Default)]
pub(crate) struct DirStream {
    /// Index of the next entry to return (the last `d_off` returned).
    pub pos: u64,
    entries: Option<Vec<DirEntry>>,
}

/// Fixed part of `struct linux_dirent64`: d_ino, d_off, d_reclen, d_type.
const HEADER: usize = 8 + 8 + 2 + 1;

fn record_len(name: &[u8]) -> usize {
    (HEADER + name.len() + 1).next_multiple_of(8)
}

impl DirStream {
    pub(crate) fn at(pos: u64) -> Self {
        DirStream { pos, entries: None }
    }

    /// Fill `out` with as many whole records as fit from the current position. `list`
    /// takes a new snapshot when one is needed. Returns the bytes written; 0 at the end.
    pub(crate) fn read(
        &mut self,
        list: impl FnOnce() -> Result<Vec<DirEntry>, Errno>,
        out: &mut [u8],
    ) -> Result<usize, Errno> {
        if self.pos == 0 || self.entries.is_none() {
            self.entries = Some(list()?);
        }
        let entries = self.entries.as_deref().unwrap_or_default();
        let mut written = 0;
        let start = usize::try_from(self.pos).unwrap_or(usize::MAX);
        for (index, entry) in entries.iter().enumerate().skip(start) {
            let len = record_len(&entry.name);
            if written + len > out.len() {
                if written == 0 {
                    return Err(Errno::EINVAL);
                }
                break;
            }
            let record = &mut out[written..written + len];
            record.fill(0);
            put_u64(record, 0, entry.ino);
            put_u64(record, 8, index as u64 + 1);
            put_u16(record, 16, len as u16);
            record[18] = entry.kind;
            record[HEADER..HEADER + entry.name.len()].copy_from_slice(&entry.name);
            written += len;
            self.pos = index as u64 + 1;
        }
        Ok(written)
    }
}

fn kind_of(file_type: cap_std::fs::FileType) -> u8 {
    if file_type.is_dir() {
        DT_DIR
    } else if file_type.is_file() {
        DT_REG
    } else if file_type.is_symlink() {
        DT_LNK
    } else if file_type.is_fifo() {
        DT_FIFO
    } else if file_type.is_socket() {
        DT_SOCK
    } else if file_type.is_char_device() {
        DT_CHR
    } else if file_type.is_block_device() {
        DT_BLK
    } else {
        DT_UNKNOWN
    }
}

/// Snapshot `dir`: `.` and `..` (with the given inode numbers) then its entries by name.
pub(crate) fn list(dir: &Dir, dot_ino: u64, dotdot_ino: u64) -> Result<Vec<DirEntry>, Errno> {
    let mut entries = Vec::new();
    for entry in dir.entries()? {
        let entry = entry?;
        let kind = entry.file_type().map(kind_of).unwrap_or(DT_UNKNOWN);
        entries.push(DirEntry {
            ino: entry.ino(),
            kind,
            name: entry.file_name().as_bytes().to_vec(),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let dots = [
        DirEntry {
            ino: dot_ino,
            kind: DT_DIR,
            name: b".".to_vec(),
        },
        DirEntry {
            ino: dotdot_ino,
            kind: DT_DIR,
            name: b"..".to_vec(),
        },
    ];
    Ok(dots.into_iter().chain(entries).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest_io::get_u64;

    fn entries(names: &[&str]) -> Vec<DirEntry> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| DirEntry {
                ino: i as u64 + 10,
                kind: DT_REG,
                name: n.as_bytes().to_vec(),
            })
            .collect()
    }

    /// Decode the records of a getdents64 buffer as (ino, off, type, name).
    fn decode(buf: &[u8]) -> Vec<(u64, u64, u8, String)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            let reclen = u16::from_le_bytes([buf[at + 16], buf[at + 17]]) as usize;
            assert_eq!(reclen % 8, 0);
            let name = &buf[at + HEADER..at + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap()];
            out.push((
                get_u64(buf, at),
                get_u64(buf, at + 8),
                buf[at + 18],
                String::from_utf8(name.to_vec()).unwrap(),
            ));
            at += reclen;
        }
        out
    }

    #[test]
    fn records_and_cookies() {
        let mut stream = DirStream::at(0);
        let mut buf = vec![0; 48]; // room for two short records (24 bytes each)
        let n = stream
            .read(|| Ok(entries(&["a", "bb", "ccc"])), &mut buf)
            .unwrap();
        assert_eq!(
            decode(&buf[..n]),
            vec![(10, 1, DT_REG, "a".into()), (11, 2, DT_REG, "bb".into())]
        );
        let n = stream
            .read(|| panic!("no relist mid-stream"), &mut buf)
            .unwrap();
        assert_eq!(decode(&buf[..n]), vec![(12, 3, DT_REG, "ccc".into())]);
        assert_eq!(stream.read(|| panic!(), &mut buf).unwrap(), 0);
        // Seeking to a cookie resumes after the entry that returned it.
        stream.pos = 1;
        let n = stream.read(|| panic!(), &mut buf).unwrap();
        assert_eq!(decode(&buf[..n])[0].3, "bb");
        // Rewinding relists.
        stream.pos = 0;
        let n = stream.read(|| Ok(entries(&["z"])), &mut buf).unwrap();
        assert_eq!(decode(&buf[..n]), vec![(10, 1, DT_REG, "z".into())]);
    }

    #[test]
    fn too_small_buffer_is_einval() {
        let mut stream = DirStream::at(0);
        let mut buf = vec![0; 10];
        assert_eq!(
            stream.read(|| Ok(entries(&["a"])), &mut buf),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn a_restored_position_relists_then_continues() {
        let mut stream = DirStream::at(2);
        let mut buf = vec![0; 256];
        let n = stream
            .read(|| Ok(entries(&["a", "b", "c"])), &mut buf)
            .unwrap();
        assert_eq!(
            decode(&buf[..n])
                .iter()
                .map(|e| e.3.as_str())
                .collect::<Vec<_>>(),
            ["c"]
        );
    }

    #[test]
    fn host_listing_is_sorted_with_dots_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b"), b"").unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let cap = Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap();
        let listed = list(&cap, 1, 2).unwrap();
        let summary: Vec<(&[u8], u8)> = listed.iter().map(|e| (&e.name[..], e.kind)).collect();
        assert_eq!(
            summary,
            vec![
                (&b"."[..], DT_DIR),
                (&b".."[..], DT_DIR),
                (&b"a"[..], DT_DIR),
                (&b"b"[..], DT_REG)
            ]
        );
        assert_eq!((listed[0].ino, listed[1].ino), (1, 2));
        assert_ne!(listed[2].ino, 0);
    }
}
