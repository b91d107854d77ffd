use super::error::CheckpointError;
use super::model::{Checkpoint, PageEncoding};
use super::{FORMAT_VERSION, HEADER_SIZE, MAGIC, PAGE_SIZE};

/// Serialises `checkpoint`: the header, the archive, then the page store. Every raw page
/// moves into the page store (spec.md §5.4), page-aligned in the file, so that a restore can
/// map it instead of copying it; its record then holds its slot. Does not validate: a
/// capturer's mistake is reported when the file is read back, with the reader's precise
/// messages.
///
/// The archive is written straight after the header into one buffer sized up front, so the
/// pages are copied once (its offsets are relative, so where the archive starts does not
/// matter to it).
///
/// Fails only if the archive cannot be expressed with 32-bit relative offsets (about 2 GiB).
pub fn write(mut checkpoint: Checkpoint) -> Result<Vec<u8>, CheckpointError> {
    let store = move_raw_pages_to_store(&mut checkpoint);
    let mut hasher = blake3::Hasher::new();
    for page in &store {
        hasher.update(page);
    }
    checkpoint.store_digest = *hasher.finalize().as_bytes();
    let store_len = store.len() * PAGE_SIZE;
    let mut out = Vec::with_capacity(
        HEADER_SIZE + archive_size_estimate(&checkpoint) + PAGE_SIZE + store_len,
    );
    out.resize(HEADER_SIZE, 0);
    let mut out = rkyv::api::high::to_bytes_in::<_, rkyv::rancor::Error>(&checkpoint, out)
        .map_err(|e| {
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
    if !store.is_empty() {
        out.resize(store_offset(out.len()), 0);
        for page in &store {
            out.extend_from_slice(page);
        }
    }
    Ok(out)
}

/// Where the page store of a file whose header and archive take `archive_end` bytes
/// begins: the next page boundary.
pub(crate) fn store_offset(archive_end: usize) -> usize {
    archive_end.next_multiple_of(PAGE_SIZE)
}

/// Takes every raw page's bytes out of its record, in record order, and leaves the record
/// as a page-store page naming its slot.
fn move_raw_pages_to_store(checkpoint: &mut Checkpoint) -> Vec<Vec<u8>> {
    let mut store = Vec::new();
    for page in checkpoint
        .regions
        .iter_mut()
        .flat_map(|r| r.pages.iter_mut())
    {
        // A raw page of the wrong length stays in the archive, where the reader names it.
        if page.encoding == PageEncoding::Raw as u8 && page.data.len() == PAGE_SIZE {
            let slot = store.len() as u64;
            store.push(std::mem::replace(
                &mut page.data,
                slot.to_le_bytes().to_vec(),
            ));
            page.encoding = PageEncoding::InStore as u8;
        }
    }
    store
}

/// About the archive's size: the pages' records and data (the bulk of it), and room for the
/// rest (frames, personality: small; the buffer grows if they are not).
fn archive_size_estimate(checkpoint: &Checkpoint) -> usize {
    let pages: usize = checkpoint
        .regions
        .iter()
        .flat_map(|r| r.pages.iter())
        .map(|p| p.data.len() + 13)
        .sum();
    pages + 64 * 1024
}
