use super::error::CheckpointError;
use super::model::Checkpoint;
use super::{FORMAT_VERSION, HEADER_SIZE, MAGIC};

/// Serialises `checkpoint`: the header, then the archive. Does not validate: a capturer's
/// mistake is reported when the file is read back, with the reader's precise messages.
///
/// The archive is written straight after the header into one buffer sized up front, so the
/// pages are copied once (its offsets are relative, so where the archive starts does not
/// matter to it).
///
/// Fails only if the archive cannot be expressed with 32-bit relative offsets (about 2 GiB).
pub fn write(checkpoint: &Checkpoint) -> Result<Vec<u8>, CheckpointError> {
    let mut out = Vec::with_capacity(HEADER_SIZE + archive_size_estimate(checkpoint));
    out.resize(HEADER_SIZE, 0);
    let mut out =
        rkyv::api::high::to_bytes_in::<_, rkyv::rancor::Error>(checkpoint, out).map_err(|e| {
            CheckpointError::Write(format!(
                "the archive does not fit the format's 32-bit offsets ({e})"
            ))
        })?;
    let archive_len = (out.len() - HEADER_SIZE) as u64;
    let digest = blake3::hash(&out[HEADER_SIZE..]);
    let header = [
        &MAGIC[..],
        &FORMAT_VERSION.to_le_bytes(),
        &0u32.to_le_bytes(),
        &(HEADER_SIZE as u64).to_le_bytes(),
        &archive_len.to_le_bytes(),
        digest.as_bytes(),
    ]
    .concat();
    out[..HEADER_SIZE].copy_from_slice(&header);
    Ok(out)
}

/// About the archive's size: the pages' data and records (the bulk of it), and room for
/// the rest (frames, personality: small; the buffer grows if they are not).
fn archive_size_estimate(checkpoint: &Checkpoint) -> usize {
    let pages: usize = checkpoint
        .regions
        .iter()
        .flat_map(|r| r.pages.iter())
        .map(|p| p.data.len() + 13)
        .sum();
    pages + 64 * 1024
}
