//! Writing an image or a checkpoint to its output path whole: through a temporary file in the
//! same folder and a rename, so a reader never sees half a file and a failed write leaves the
//! old one intact. An output that is not a regular file (`-o /dev/null`, a FIFO) is written
//! in place instead, never replaced.

use std::io;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path`; `executable` gives a new file mode 0755 rather than 0644.
pub fn write_whole(path: &Path, bytes: &[u8], executable: bool) -> io::Result<()> {
    if let Ok(metadata) = std::fs::metadata(path)
        && !metadata.is_file()
    {
        return std::fs::write(path, bytes);
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".partial-{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let result = (|| {
        std::fs::write(&temporary, bytes)?;
        if executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o755))?;
        }
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_regular_files_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(&path, b"old contents, longer").unwrap();
        write_whole(&path, b"new", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }

    #[test]
    fn writes_into_special_files_without_replacing_them() {
        write_whole(Path::new("/dev/null"), b"discarded", true).unwrap();
        let metadata = std::fs::metadata("/dev/null").unwrap();
        assert!(!metadata.is_file(), "/dev/null is still a device");
    }

    #[test]
    fn a_failed_write_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-folder").join("out");
        assert!(write_whole(&path, b"x", false).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
