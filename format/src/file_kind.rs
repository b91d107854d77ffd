//! What a file that failed a reader's magic check looks like, so that the image and the
//! checkpoint readers can both say what the user gave them instead.

use crate::{checkpoint, image};

/// A kind of file xisa's tools are often handed by mistake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    Empty,
    Image,
    Checkpoint,
    Elf,
    Wasm,
    Bitcode,
    Script,
    Unknown,
}

/// Recognises `bytes` by their first bytes (an image by its header magic after the shebang).
pub(crate) fn file_kind(bytes: &[u8]) -> FileKind {
    let image_magic_at = image::SHEBANG.len()..image::SHEBANG.len() + image::MAGIC.len();
    if bytes.is_empty() {
        FileKind::Empty
    } else if bytes.get(image_magic_at) == Some(&image::MAGIC[..]) {
        FileKind::Image
    } else if bytes.starts_with(checkpoint::MAGIC) {
        FileKind::Checkpoint
    } else if bytes.starts_with(b"\x7fELF") {
        FileKind::Elf
    } else if bytes.starts_with(b"\0asm") {
        FileKind::Wasm
    } else if bytes.starts_with(b"BC\xC0\xDE") {
        FileKind::Bitcode
    } else if bytes.starts_with(b"#!") {
        FileKind::Script
    } else {
        FileKind::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_files_are_told_apart() {
        assert_eq!(file_kind(b""), FileKind::Empty);
        assert_eq!(file_kind(b"XISACKPT\x02\0\0\0"), FileKind::Checkpoint);
        assert_eq!(file_kind(b"\x7fELF\x02\x01"), FileKind::Elf);
        assert_eq!(file_kind(b"\0asm\x01\0\0\0"), FileKind::Wasm);
        assert_eq!(file_kind(b"BC\xC0\xDE\x35"), FileKind::Bitcode);
        assert_eq!(file_kind(b"#!/bin/sh\n"), FileKind::Script);
        assert_eq!(file_kind(b"hello"), FileKind::Unknown);
        let mut image_start = image::SHEBANG.to_vec();
        image_start.extend_from_slice(image::MAGIC);
        assert_eq!(file_kind(&image_start), FileKind::Image);
    }
}
