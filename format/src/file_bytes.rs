//! The bytes a reader validates: a read-only memory map of a file, or a buffer the caller
//! already holds. The image and checkpoint readers keep them for the life of the value they
//! validated, so accessors read the checked bytes in place. Clones share the bytes, so a
//! thread serving a lazy restore can hold the checkpoint without copying it.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

#[derive(Clone)]
pub(crate) enum FileBytes {
    /// The map, and the file it maps (kept open so that parts of the same file can be
    /// mapped again elsewhere, e.g. a checkpoint's page store into guest memory).
    Mapped(Arc<(memmap2::Mmap, File)>),
    Owned(Arc<Vec<u8>>),
}

impl FileBytes {
    /// Maps the file at `path` read-only. An empty file gives no bytes (there is nothing to
    /// map).
    pub(crate) fn map(path: &Path) -> std::io::Result<FileBytes> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Ok(FileBytes::Owned(Arc::new(Vec::new())));
        }
        // SAFETY: the map is read-only. Images and checkpoints are written once and never
        // modified in place; another process truncating or rewriting the file while it is
        // mapped could change validated bytes or fault, which xisa cannot prevent for any
        // file it maps.
        let map = unsafe { memmap2::Mmap::map(&file) }?;
        Ok(FileBytes::Mapped(Arc::new((map, file))))
    }

    /// The file these bytes map, if they come from one.
    pub(crate) fn file(&self) -> Option<&File> {
        match self {
            FileBytes::Mapped(mapped) => Some(&mapped.1),
            FileBytes::Owned(_) => None,
        }
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(mapped) => &mapped.0,
            FileBytes::Owned(bytes) => bytes,
        }
    }
}
