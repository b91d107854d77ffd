//! Reading `ar` archives whose members are xisa bitcode objects.

use std::path::Path;

use object::read::archive::ArchiveFile;

use super::{FileKind, classify};
use crate::error::{Result, ToolchainError};

pub struct Member {
    pub origin: String,
    pub bytes: Vec<u8>,
}

pub fn bitcode_members(path: &Path) -> Result<Vec<Member>> {
    let data = std::fs::read(path)
        .map_err(|e| ToolchainError::io(format!("reading {}", path.display()), e))?;
    let bad = |reason: String| ToolchainError::Input {
        path: path.into(),
        reason,
    };
    let archive =
        ArchiveFile::parse(&*data).map_err(|e| bad(format!("not a valid archive: {e}")))?;
    let mut members = Vec::new();
    for member in archive.members() {
        let member = member.map_err(|e| bad(format!("corrupt archive member: {e}")))?;
        let name = String::from_utf8_lossy(member.name()).into_owned();
        let bytes = member
            .data(&*data)
            .map_err(|e| bad(format!("member {name}: {e}")))?;
        match classify(bytes) {
            FileKind::Bitcode => members.push(Member {
                origin: format!("{}({name})", path.display()),
                bytes: bytes.to_vec(),
            }),
            // Symbol tables and other bookkeeping members are skipped; real objects of
            // another kind are an error.
            FileKind::Unknown
                if name.starts_with("__.SYMDEF") || name.is_empty() || name == "/" => {}
            FileKind::Unknown => {}
            other => return Err(bad(format!("member {name} is {}", other.describe()))),
        }
    }
    Ok(members)
}
