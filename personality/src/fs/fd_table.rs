//! The guest's file descriptor table: Linux-like numbers (lowest free first), open file
//! descriptions shared between duplicated fds, close-on-exec per fd.

use cap_std::fs::Dir;

use crate::errno::Errno;
use crate::fs::dir_stream::DirStream;

/// Most fds open at once (`RLIMIT_NOFILE`).
pub const MAX_FDS: usize = 1024;

/// One of the host's standard streams, which guest fds 0, 1 and 2 start as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdio {
    Stdin,
    Stdout,
    Stderr,
}

/// What an open file description refers to.
pub(crate) enum Object {
    Stdio(Stdio),
    File {
        /// Normalized guest path it was opened by (to reopen it after a restore).
        path: Vec<u8>,
        file: std::fs::File,
    },
    Dir {
        path: Vec<u8>,
        dir: Dir,
        stream: DirStream,
    },
}

/// An open file description: shared by every fd duplicated from the same open.
pub(crate) struct Description {
    /// Guest open flags: access mode and status flags (`F_GETFL`).
    pub flags: u32,
    pub object: Object,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    description: usize,
    cloexec: bool,
}

struct Shared {
    description: Description,
    refs: usize,
}

#[derive(Default)]
pub(crate) struct FdTable {
    fds: Vec<Option<Slot>>,
    descriptions: Vec<Option<Shared>>,
}

/// A raw guest fd argument as the kernel reads it (an `int`).
pub(crate) fn fd_arg(raw: u64) -> i32 {
    raw as u32 as i32
}

impl FdTable {
    fn slot(&self, fd: i32) -> Result<Slot, Errno> {
        let index = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        self.fds.get(index).copied().flatten().ok_or(Errno::EBADF)
    }

    fn lowest_free(&self, min: usize) -> Result<usize, Errno> {
        (min..MAX_FDS)
            .find(|&fd| self.fds.get(fd).is_none_or(Option::is_none))
            .ok_or(Errno::EMFILE)
    }

    fn set_slot(&mut self, fd: usize, slot: Slot) {
        if self.fds.len() <= fd {
            self.fds.resize(fd + 1, None);
        }
        self.fds[fd] = Some(slot);
    }

    /// Store a new description; returns its index (for [`FdTable::install`]).
    pub(crate) fn add_description(&mut self, description: Description) -> usize {
        let shared = Shared {
            description,
            refs: 0,
        };
        match self.descriptions.iter().position(Option::is_none) {
            Some(free) => {
                self.descriptions[free] = Some(shared);
                free
            }
            None => {
                self.descriptions.push(Some(shared));
                self.descriptions.len() - 1
            }
        }
    }

    /// Point `fd` at description `index` (restore only: `fd` must be free and valid).
    pub(crate) fn install(&mut self, fd: i32, index: usize, cloexec: bool) -> Result<(), Errno> {
        let slot = usize::try_from(fd)
            .ok()
            .filter(|&fd| fd < MAX_FDS)
            .ok_or(Errno::EBADF)?;
        if self.fds.get(slot).is_some_and(Option::is_some) {
            return Err(Errno::EBADF);
        }
        let shared = self
            .descriptions
            .get_mut(index)
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)?;
        shared.refs += 1;
        self.set_slot(
            slot,
            Slot {
                description: index,
                cloexec,
            },
        );
        Ok(())
    }

    /// Drop descriptions no fd refers to (restore only).
    pub(crate) fn drop_unreferenced(&mut self) {
        for entry in &mut self.descriptions {
            if entry.as_ref().is_some_and(|s| s.refs == 0) {
                *entry = None;
            }
        }
    }

    /// A table with the host's stdin, stdout and stderr at 0, 1 and 2.
    pub(crate) fn with_stdio(flags: impl Fn(Stdio) -> u32) -> Self {
        let mut table = FdTable::default();
        for (fd, stream) in [Stdio::Stdin, Stdio::Stdout, Stdio::Stderr]
            .into_iter()
            .enumerate()
        {
            let index = table.add_description(Description {
                flags: flags(stream),
                object: Object::Stdio(stream),
            });
            table
                .install(fd as i32, index, false)
                .expect("fresh table has room for stdio");
        }
        table
    }

    /// Open a new description at the lowest free fd.
    pub(crate) fn open(&mut self, description: Description, cloexec: bool) -> Result<i32, Errno> {
        let fd = self.lowest_free(0)?;
        let index = self.add_description(description);
        self.install(fd as i32, index, cloexec)?;
        Ok(fd as i32)
    }

    pub(crate) fn get(&self, fd: i32) -> Result<&Description, Errno> {
        let slot = self.slot(fd)?;
        self.descriptions[slot.description]
            .as_ref()
            .map(|s| &s.description)
            .ok_or(Errno::EBADF)
    }

    pub(crate) fn get_mut(&mut self, fd: i32) -> Result<&mut Description, Errno> {
        let slot = self.slot(fd)?;
        self.descriptions[slot.description]
            .as_mut()
            .map(|s| &mut s.description)
            .ok_or(Errno::EBADF)
    }

    pub(crate) fn close(&mut self, fd: i32) -> Result<(), Errno> {
        let slot = self.slot(fd)?;
        self.fds[fd as usize] = None;
        let entry = &mut self.descriptions[slot.description];
        if let Some(shared) = entry {
            shared.refs -= 1;
            if shared.refs == 0 {
                // Dropping the description closes the host file.
                *entry = None;
            }
        }
        Ok(())
    }

    /// `dup`/`F_DUPFD`: a new fd >= `min` sharing `fd`'s description.
    pub(crate) fn dup(&mut self, fd: i32, min: usize, cloexec: bool) -> Result<i32, Errno> {
        let slot = self.slot(fd)?;
        let new = self.lowest_free(min)?;
        self.install(new as i32, slot.description, cloexec)?;
        Ok(new as i32)
    }

    /// `dup3`: make `new` share `old`'s description, closing what `new` had.
    pub(crate) fn dup_to(&mut self, old: i32, new: i32, cloexec: bool) -> Result<i32, Errno> {
        let slot = self.slot(old)?;
        if usize::try_from(new).ok().is_none_or(|n| n >= MAX_FDS) {
            return Err(Errno::EBADF);
        }
        if old == new {
            return Err(Errno::EINVAL);
        }
        if self.slot(new).is_ok() {
            self.close(new)?;
        }
        self.install(new, slot.description, cloexec)?;
        Ok(new)
    }

    pub(crate) fn cloexec(&self, fd: i32) -> Result<bool, Errno> {
        Ok(self.slot(fd)?.cloexec)
    }

    pub(crate) fn set_cloexec(&mut self, fd: i32, cloexec: bool) -> Result<(), Errno> {
        self.slot(fd)?;
        if let Some(slot) = &mut self.fds[fd as usize] {
            slot.cloexec = cloexec;
        }
        Ok(())
    }

    /// Every open fd as (fd, description index, cloexec), lowest fd first.
    pub(crate) fn fds(&self) -> impl Iterator<Item = (i32, usize, bool)> + '_ {
        self.fds
            .iter()
            .enumerate()
            .filter_map(|(fd, slot)| slot.map(|s| (fd as i32, s.description, s.cloexec)))
    }

    /// Every live description with its index.
    pub(crate) fn descriptions(&self) -> impl Iterator<Item = (usize, &Description)> + '_ {
        self.descriptions
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.as_ref().map(|s| (i, &s.description)))
    }

    /// Number of open fds (for tests and limits).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.fds.iter().filter(|s| s.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> FdTable {
        FdTable::with_stdio(|_| 0)
    }

    fn stdout() -> Description {
        Description {
            flags: 1,
            object: Object::Stdio(Stdio::Stdout),
        }
    }

    #[test]
    fn lowest_free_fd_is_used() {
        let mut t = table();
        assert_eq!(t.open(stdout(), false), Ok(3));
        assert_eq!(t.open(stdout(), false), Ok(4));
        t.close(0).unwrap();
        assert_eq!(t.open(stdout(), false), Ok(0));
        assert_eq!(t.close(0), Ok(()));
        assert_eq!(t.close(0), Err(Errno::EBADF));
        assert_eq!(t.close(-1), Err(Errno::EBADF));
        assert_eq!(t.close(100_000), Err(Errno::EBADF));
    }

    #[test]
    fn dup_shares_the_description() {
        let mut t = table();
        let fd = t
            .open(
                Description {
                    flags: 7,
                    object: Object::Stdio(Stdio::Stdin),
                },
                false,
            )
            .unwrap();
        let copy = t.dup(fd, 10, true).unwrap();
        assert_eq!(copy, 10);
        assert!(t.cloexec(copy).unwrap());
        assert!(!t.cloexec(fd).unwrap());
        t.get_mut(fd).unwrap().flags = 9;
        assert_eq!(t.get(copy).unwrap().flags, 9);
        t.close(fd).unwrap();
        assert_eq!(t.get(copy).unwrap().flags, 9);
        assert_eq!(t.dup_to(copy, copy, false), Err(Errno::EINVAL));
        assert_eq!(t.dup_to(copy, 1, false), Ok(1));
        assert_eq!(t.get(1).unwrap().flags, 9);
        assert_eq!(t.dup_to(copy, MAX_FDS as i32, false), Err(Errno::EBADF));
        assert_eq!(t.dup_to(55, 5, false), Err(Errno::EBADF));
    }

    #[test]
    fn table_fills_up() {
        let mut t = table();
        for _ in 3..MAX_FDS {
            t.open(stdout(), false).unwrap();
        }
        assert_eq!(t.len(), MAX_FDS);
        assert_eq!(t.open(stdout(), false), Err(Errno::EMFILE));
        assert_eq!(t.dup(1, 0, false), Err(Errno::EMFILE));
    }
}
