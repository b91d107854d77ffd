//! The bytes a reader validates: a read-only memory map of a file, or a buffer the caller
//! already holds. The image and checkpoint readers keep them for the life of the value they
//! validated, so accessors read the checked bytes in place.

use std::fs::File;
use std::path::Path;

pub(crate) enum FileBytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl FileBytes {
    /// Maps the file at `path` read-only. An empty file gives no bytes (there is nothing to
    /// map).
    pub(crate) fn map(path: &Path) -> std::io::Result<FileBytes> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Ok(FileBytes::Owned(Vec::new()));
        }
        // SAFETY: the map is read-only. Images and checkpoints are written once and never
        // modified in place; another process truncating or rewriting the file while it is
        // mapped could change validated bytes or fault, which xisa cannot prevent for any
        // file it maps.
        let map = unsafe { memmap2::Mmap::map(&file) }?;
        Ok(FileBytes::Mapped(map))
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(map) => map,
            FileBytes::Owned(bytes) => bytes,
        }
    }
}
