//! The mounted host folders, and the mapping from guest paths to (folder, relative path).
//!
//! Each mount root is opened once with ambient authority; everything after that is done
//! with cap-std relative to a root, which refuses `..` and symlinks (absolute or relative)
//! that would leave it. No escape check here is a string check.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use crate::errno::Errno;
use crate::fs::path::{self, GuestPath};
use crate::personality::{Mount, PersonalityError};

/// One mounted host folder.
pub(crate) struct MountRoot {
    /// Normalized absolute guest path of the mount point.
    pub guest: Vec<u8>,
    pub dir: Dir,
}

/// Where a guest path lives on the host.
pub(crate) struct Located<'a> {
    /// Index of the mount (paths in different mounts cannot be renamed or linked together).
    pub mount: usize,
    pub dir: &'a Dir,
    /// Path relative to the mount root; `.` for the root itself.
    pub rel: PathBuf,
}

impl Located<'_> {
    pub(crate) fn is_root(&self) -> bool {
        self.rel == Path::new(".")
    }
}

pub(crate) struct Sandbox {
    mounts: Vec<MountRoot>,
}

impl Sandbox {
    pub(crate) fn open(mounts: &[Mount]) -> Result<Self, PersonalityError> {
        let mut roots: Vec<MountRoot> = Vec::new();
        for mount in mounts {
            // Accept only paths already in normal form (a trailing slash aside), so the
            // mount point the user wrote is the one the guest sees.
            let normalized = path::resolve(b"/", mount.guest.as_bytes()).path;
            let trimmed = match mount.guest.trim_end_matches('/') {
                "" => "/",
                trimmed => trimmed,
            };
            if !mount.guest.starts_with('/') || normalized != trimmed.as_bytes() {
                return Err(PersonalityError::BadMountPoint {
                    guest: mount.guest.clone(),
                });
            }
            if roots.iter().any(|r| r.guest == normalized) {
                return Err(PersonalityError::DuplicateMount {
                    guest: mount.guest.clone(),
                });
            }
            let dir =
                Dir::open_ambient_dir(&mount.host, ambient_authority()).map_err(|source| {
                    PersonalityError::OpenMount {
                        host: mount.host.clone(),
                        guest: mount.guest.clone(),
                        source,
                    }
                })?;
            roots.push(MountRoot {
                guest: normalized,
                dir,
            });
        }
        Ok(Sandbox { mounts: roots })
    }

    /// The mount holding `guest` (longest matching mount point), or `ENOENT`.
    pub(crate) fn locate(&self, guest: &GuestPath) -> Result<Located<'_>, Errno> {
        let (mount, rest) = self
            .mounts
            .iter()
            .enumerate()
            .filter_map(|(i, m)| path::strip_prefix(&guest.path, &m.guest).map(|rest| (i, rest)))
            .max_by_key(|(i, _)| self.mounts[*i].guest.len())
            .ok_or(Errno::ENOENT)?;
        let rel = if rest.is_empty() {
            PathBuf::from(".")
        } else {
            PathBuf::from(OsStr::from_bytes(rest))
        };
        Ok(Located {
            mount,
            dir: &self.mounts[mount].dir,
            rel,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(host: &Path, guest: &str) -> Mount {
        Mount {
            host: host.into(),
            guest: guest.into(),
        }
    }

    fn guest(p: &str) -> GuestPath {
        path::resolve(b"/", p.as_bytes())
    }

    #[test]
    fn longest_mount_wins() {
        let root = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let sandbox =
            Sandbox::open(&[mount(root.path(), "/"), mount(data.path(), "/data")]).unwrap();
        let at = sandbox.locate(&guest("/data/x/y")).unwrap();
        assert_eq!((at.mount, at.rel.as_path()), (1, Path::new("x/y")));
        let at = sandbox.locate(&guest("/database")).unwrap();
        assert_eq!((at.mount, at.rel.as_path()), (0, Path::new("database")));
        let at = sandbox.locate(&guest("/data")).unwrap();
        assert!(at.is_root() && at.mount == 1);
        let at = sandbox.locate(&guest("/")).unwrap();
        assert!(at.is_root() && at.mount == 0);
    }

    #[test]
    fn unmounted_paths_are_enoent() {
        let data = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::open(&[mount(data.path(), "/data")]).unwrap();
        assert_eq!(
            sandbox.locate(&guest("/etc/passwd")).err(),
            Some(Errno::ENOENT)
        );
        assert_eq!(sandbox.locate(&guest("/")).err(), Some(Errno::ENOENT));
    }

    #[test]
    fn bad_mounts_are_reported() {
        let data = tempfile::tempdir().unwrap();
        let missing = data.path().join("missing");
        let err = Sandbox::open(&[mount(&missing, "/")]).err().unwrap();
        let text = err.to_string();
        assert!(text.contains(&missing.display().to_string()), "{text}");
        assert!(matches!(err, PersonalityError::OpenMount { .. }));
        for bad in ["relative", "/a/../b", "/a//b"] {
            let err = Sandbox::open(&[mount(data.path(), bad)]);
            assert!(
                matches!(err, Err(PersonalityError::BadMountPoint { .. })),
                "{bad}"
            );
        }
        let twice = Sandbox::open(&[mount(data.path(), "/d"), mount(data.path(), "/d/")]);
        assert!(matches!(
            twice,
            Err(PersonalityError::DuplicateMount { .. })
        ));
    }
}
