// Shared by the `checkpoint_reader` fuzz target and xisa-format's corpus replay test, which
// includes this file; so it names the crate only as `xisa_format`.

/// Reads `data` as a checkpoint, then the same bytes with the header's length and digest
/// recomputed (so that mutations reach the archive checks behind the digest). Every
/// checkpoint that validates is used completely. Returns whether either was valid; panics
/// only if a validated checkpoint misbehaves, which is a bug.
pub fn exercise_checkpoint(data: &[u8]) -> bool {
    let plain = exercise_once(data);
    let resealed = match resealed(data) {
        Some(bytes) if bytes != data => exercise_once(&bytes),
        _ => false,
    };
    plain || resealed
}

/// `data` with the header's BLAKE3 digest made to match the archive: the header's archive
/// length where it fits the file (a page store may follow), else the rest of the file.
pub fn resealed(data: &[u8]) -> Option<Vec<u8>> {
    use xisa_format::checkpoint::HEADER_SIZE;
    if data.len() < HEADER_SIZE {
        return None;
    }
    let mut bytes = data.to_vec();
    let recorded = u64::from_le_bytes(bytes[24..32].try_into().ok()?);
    let rest = (bytes.len() - HEADER_SIZE) as u64;
    let length = if recorded <= rest { recorded } else { rest };
    bytes[24..32].copy_from_slice(&length.to_le_bytes());
    let digest = blake3::hash(&bytes[HEADER_SIZE..HEADER_SIZE + length as usize]);
    bytes[32..64].copy_from_slice(digest.as_bytes());
    Some(bytes)
}

fn exercise_once(data: &[u8]) -> bool {
    use xisa_format::checkpoint::{self, CheckpointFile, PAGE_SIZE, PageDecoder};

    let Ok(file) = CheckpointFile::from_bytes(data.to_vec()) else {
        return false;
    };
    let map = file.memory_map();
    let mut decoder = PageDecoder::new();
    let image_page = [0xa5u8; 100];
    let mut out = [0u8; PAGE_SIZE];
    let mut pages = 0u64;
    for (address, view) in file.pages() {
        assert!(
            map.is_accessible(address, PAGE_SIZE as u64),
            "page {address:#x} outside the map"
        );
        decoder
            .materialise(address, view, Some(&image_page), &mut out)
            .expect("a validated page materialises");
        assert_eq!(file.page_at(address + PAGE_SIZE as u64 - 1), Some(view));
        pages += 1;
    }
    let summary = file.summary();
    assert_eq!(summary.total.pages(), pages);
    assert!(!summary.to_string().is_empty());

    let archived = file.archived();
    for thread in archived.threads.iter() {
        assert!(!thread.frames.is_empty());
        for frame in thread.frames.iter() {
            assert!(frame.record.len() <= checkpoint::MAX_RECORD_SIZE);
        }
    }
    let personality = &archived.personality;
    assert!(personality.cwd.first() == Some(&b'/'));
    for fd in personality.files.iter() {
        let description = &personality.descriptions[fd.description.to_native() as usize];
        assert!(checkpoint::DescriptionKind::from_u8(description.kind).is_some());
    }
    let brk = personality.brk.to_native();
    assert!(brk >= map.brk_base() && brk <= map.mem_top);

    // Whatever was read can be written again and reads back the same.
    let owned = file
        .deserialize()
        .expect("a validated checkpoint deserialises");
    let again = checkpoint::write(owned.clone()).expect("a read checkpoint can be written again");
    let reread = CheckpointFile::from_bytes(again).expect("a rewritten checkpoint is valid");
    assert_eq!(reread.deserialize().expect("it deserialises"), owned);
    true
}
