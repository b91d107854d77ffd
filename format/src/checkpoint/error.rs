use super::{FORMAT_VERSION, HEADER_SIZE};

/// Why a checkpoint cannot be written, read or used. Messages name the rule that failed and
/// where (region, page, thread, frame, fd ...).
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("not a checkpoint: {0}")]
    NotACheckpoint(String),
    #[error("truncated checkpoint: {actual} bytes, shorter than the {HEADER_SIZE}-byte header")]
    TruncatedHeader { actual: u64 },
    #[error("truncated checkpoint: the header says {expected} bytes but the file has {actual}")]
    Truncated { expected: u64, actual: u64 },
    #[error(
        "unsupported checkpoint version {found} (this xisa reads {FORMAT_VERSION}){}",
        if (1..FORMAT_VERSION).contains(found) { "; it was written by an older xisa, which can still resume it (or resume it there and capture it again)" } else { "" }
    )]
    Version { found: u32 },
    #[error("corrupt checkpoint header: {0}")]
    Header(String),
    #[error(
        "checksum mismatch: the checkpoint was modified or damaged (the header records BLAKE3 {recorded}, the archive hashes to {actual})"
    )]
    Checksum { recorded: String, actual: String },
    #[error(
        "checksum mismatch: the page store of {file} was modified or damaged (the archive records BLAKE3 {recorded}, the store hashes to {actual})"
    )]
    StoreChecksum {
        file: String,
        recorded: String,
        actual: String,
    },
    #[error("corrupt checkpoint archive: {0}")]
    Archive(String),
    #[error("invalid checkpoint: {0}")]
    Invalid(String),
    #[error("checkpoint was captured from image {checkpoint} but this image is {image}")]
    WrongImage { checkpoint: String, image: String },
    #[error("checkpoint does not fit the image: {0}")]
    ImageMismatch(String),
    #[error("cannot follow the checkpoint's parent: {0}")]
    Parent(String),
    #[error("cannot restore the page at {address:#x}: {reason}")]
    Page { address: u64, reason: String },
    #[error("cannot write the checkpoint: {0}")]
    Write(String),
}

pub(crate) fn invalid(message: impl Into<String>) -> CheckpointError {
    CheckpointError::Invalid(message.into())
}

/// Lower-case hex of `bytes`, for identities and digests in messages.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
