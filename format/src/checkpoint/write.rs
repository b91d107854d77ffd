use super::error::CheckpointError;
use super::model::Checkpoint;
use super::{FORMAT_VERSION, HEADER_SIZE, MAGIC};

/// Serialises `checkpoint`: the header, then the archive. Does not validate: a capturer's
/// mistake is reported when the file is read back, with the reader's precise messages.
///
/// Fails only if the archive cannot be expressed with 32-bit relative offsets (about 2 GiB).
pub fn write(checkpoint: &Checkpoint) -> Result<Vec<u8>, CheckpointError> {
    let archive = rkyv::to_bytes::<rkyv::rancor::Error>(checkpoint).map_err(|e| {
        CheckpointError::Write(format!(
            "the archive does not fit the format's 32-bit offsets ({e})"
        ))
    })?;
    let mut out = Vec::with_capacity(HEADER_SIZE + archive.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(HEADER_SIZE as u64).to_le_bytes());
    out.extend_from_slice(&(archive.len() as u64).to_le_bytes());
    out.extend_from_slice(blake3::hash(&archive).as_bytes());
    debug_assert_eq!(out.len(), HEADER_SIZE);
    out.extend_from_slice(&archive);
    Ok(out)
}
