use super::*;
use crate::image::tests::{wasm_image, wasm_manifest};
use crate::memory_map::{IMAGE_LIMIT, ImageLayout, MIN_MEM_TOP};
use crate::target::Target;
use std::path::Path;
use std::sync::Arc;

mod corpus;
mod spec_example;

/// Deterministic pseudo-random bytes (xorshift64*), so tests need no extra crate.
pub(super) struct Noise(u64);

impl Noise {
    pub(super) fn new(seed: u64) -> Noise {
        Noise(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub(super) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

const MAP: MapRecord = MapRecord {
    rodata_size: 0x1800,
    data_size: 0x200,
    bss_size: 0x40,
    mem_top: MIN_MEM_TOP,
};

/// The image's initial bytes of rodata and data.
pub(super) struct FakeImage {
    map: MapRecord,
    rodata: Vec<u8>,
    data: Vec<u8>,
}

impl FakeImage {
    pub(super) fn new(map: MapRecord) -> FakeImage {
        let text = b"constant text of the program; ";
        FakeImage {
            map,
            rodata: (0..map.rodata_size as usize)
                .map(|i| text[i % text.len()])
                .collect(),
            data: Noise::new(1).bytes(map.data_size as usize),
        }
    }

    /// The image's initial bytes of the page at `address`, where the image supplies any.
    pub(super) fn page(&self, address: u64) -> Option<&[u8]> {
        let layout = self.map.memory_map().image;
        for (range, bytes) in [(layout.rodata(), &self.rodata), (layout.data(), &self.data)] {
            if address >= range.start && address < range.end.next_multiple_of(4096) {
                let offset = (address - range.start) as usize;
                return Some(
                    &bytes[offset.min(bytes.len())..(offset + PAGE_SIZE).min(bytes.len())],
                );
            }
        }
        None
    }
}

/// A valid checkpoint using every encoding, with the memory it was made from.
pub(super) struct Sample {
    pub(super) checkpoint: Checkpoint,
    pub(super) memory: Vec<(u64, Vec<u8>)>,
    pub(super) image: FakeImage,
}

pub(super) fn sample() -> Sample {
    let image = FakeImage::new(MAP);
    let mut noise = Noise::new(7);
    let mut startup = vec![0u8; PAGE_SIZE];
    startup[..64].copy_from_slice(&noise.bytes(64));
    let mut shadow = vec![0u8; 2 * PAGE_SIZE];
    shadow[PAGE_SIZE..].copy_from_slice(&noise.bytes(PAGE_SIZE));
    let mut rodata = image.rodata.clone();
    rodata.resize(2 * PAGE_SIZE, 0);
    let mut data = image.data.clone();
    data.resize(PAGE_SIZE, 0);
    data[8..16].copy_from_slice(&0x603_0040u64.to_le_bytes());
    let mut heap = b"heap text ".repeat(PAGE_SIZE / 10 + 1);
    heap.truncate(PAGE_SIZE);
    heap.extend(noise.bytes(PAGE_SIZE));
    heap.resize(3 * PAGE_SIZE, 0);
    let mut mapped = noise.bytes(PAGE_SIZE);
    mapped.resize(2 * PAGE_SIZE, 0);
    let memory = vec![
        (0x400_0000, startup),
        (0x51f_e000, shadow),
        (0x600_0000, rodata),
        (0x601_0000, data),
        (0x602_0000, vec![0; PAGE_SIZE]),
        (0x603_0000, heap),
        (0x7ff_e000, mapped),
    ];
    let mut encoder = PageEncoder::new();
    let regions = memory
        .iter()
        .map(|(start, bytes)| encoder.encode_region(*start, bytes, |a| image.page(a)))
        .collect();
    let description =
        |kind: DescriptionKind, path: &[u8], flags: u32, offset: u64| DescriptionRecord {
            kind: kind as u8,
            path: path.to_vec(),
            flags,
            offset,
        };
    let fd = |fd: i32, description: u32, cloexec: bool| OpenFileRecord {
        fd,
        description,
        cloexec,
    };
    let checkpoint = Checkpoint {
        image_id: [0x5a; 32],
        abi_version: crate::abi::ABI_VERSION,
        source_target: Target::Aarch64.id(),
        created_unix_ms: 1_767_225_600_000,
        map: MAP,
        threads: vec![ThreadRecord {
            frames: vec![
                FrameRecord {
                    call_site: 17,
                    record: 0x601_0008u64.to_le_bytes().repeat(2),
                },
                FrameRecord {
                    call_site: 4,
                    record: Vec::new(),
                },
                FrameRecord {
                    call_site: 1,
                    record: 42u64.to_le_bytes().to_vec(),
                },
            ],
            registers: NeutralRegisters {
                shadow_stack_pointer: 0x51f_efc0,
                thread_pointer: 0x602_0000,
            },
        }],
        regions,
        personality: PersonalityRecord {
            cwd: b"/work".to_vec(),
            umask: 0o022,
            brk: 0x603_3000,
            mmap_regions: vec![MmapRecord {
                start: 0x7ff_e000,
                end: 0x800_0000,
            }],
            descriptions: vec![
                description(DescriptionKind::Stdin, b"", 0, 0),
                description(DescriptionKind::Stdout, b"", 1, 0),
                description(DescriptionKind::Stderr, b"", 1, 0),
                description(DescriptionKind::File, b"/work/out.txt", 0o1101, 42),
                description(DescriptionKind::Directory, b"/work", 0o200000, 3),
            ],
            files: vec![
                fd(0, 0, false),
                fd(1, 1, false),
                fd(2, 2, false),
                fd(3, 3, true),
                fd(4, 4, true),
                fd(5, 1, false),
            ],
            monotonic_ns: 123_456_789,
            signal_mask: 1 << 1,
            signal_actions: vec![
                SignalActionRecord {
                    signal: 2,
                    handler: 5,
                    flags: 0x400_0000,
                },
                SignalActionRecord {
                    signal: 15,
                    handler: 1,
                    flags: 0,
                },
            ],
            warned_syscalls: vec![293, 334],
        },
        image_hint: b"/tmp/sample.xisa".to_vec(),
        parent_digest: Checkpoint::NO_PARENT,
        parent_hint: Vec::new(),
        store_digest: [0; 32],
    };
    Sample {
        checkpoint,
        memory,
        image,
    }
}

fn open(bytes: Vec<u8>) -> Result<CheckpointFile, CheckpointError> {
    CheckpointFile::from_bytes(bytes)
}

fn error_of(bytes: Vec<u8>) -> CheckpointError {
    match open(bytes) {
        Ok(_) => panic!("a bad checkpoint was accepted"),
        Err(error) => error,
    }
}

/// Where the archive of a written checkpoint ends (the page store, if any, follows).
pub(super) fn archive_end(bytes: &[u8]) -> usize {
    HEADER_SIZE + u64::from_le_bytes(bytes[24..32].try_into().unwrap()) as usize
}

/// Recomputes the header's digest after the archive was changed in place, so that a test
/// reaches the checks behind the digest (and the length, when the header's no longer fits
/// the file: the archive is then the rest of it).
pub(super) fn reseal(bytes: &mut [u8]) {
    let recorded = u64::from_le_bytes(bytes[24..32].try_into().unwrap());
    let length = match HEADER_SIZE as u64 + recorded <= bytes.len() as u64 {
        true => recorded,
        false => (bytes.len() - HEADER_SIZE) as u64,
    };
    bytes[24..32].copy_from_slice(&length.to_le_bytes());
    let digest = blake3::hash(&bytes[HEADER_SIZE..HEADER_SIZE + length as usize]);
    bytes[32..64].copy_from_slice(digest.as_bytes());
}

/// `original` (a written checkpoint) with its archive replaced by `archive`, its page store
/// kept, and the header sealed again.
fn with_archive(original: &[u8], archive: &[u8]) -> Vec<u8> {
    let end = archive_end(original);
    let store = &original[end.next_multiple_of(PAGE_SIZE).min(original.len())..];
    let mut file = original[..HEADER_SIZE].to_vec();
    file.extend_from_slice(archive);
    file[24..32].copy_from_slice(&(archive.len() as u64).to_le_bytes());
    if !store.is_empty() {
        file.resize(file.len().next_multiple_of(PAGE_SIZE), 0);
        file.extend_from_slice(store);
    }
    reseal(&mut file);
    file
}

#[test]
fn round_trip_preserves_everything() {
    let sample = sample();
    let bytes = write(sample.checkpoint.clone()).unwrap();
    let file = open(bytes.clone()).unwrap();
    let mut expected = sample.checkpoint.clone();
    expected.store_digest = file.archived().store_digest;
    assert_eq!(file.deserialize().unwrap(), expected);
    // The raw page lies in the page store, page-aligned, and reads back in place.
    assert_eq!(bytes.len() % PAGE_SIZE, 0);
    assert!(archive_end(&bytes) < bytes.len() - PAGE_SIZE);
    assert_eq!(file.image_id(), [0x5a; 32]);
    assert_eq!(file.source_target(), Target::Aarch64);
    assert_eq!(file.memory_map(), MAP.memory_map());
    assert_eq!(file.file_size(), bytes.len() as u64);
    let archived = file.archived();
    assert_eq!(archived.threads[0].frames[2].call_site.to_native(), 1);
    assert_eq!(archived.personality.cwd.as_slice(), b"/work");
    assert!(archived.personality.files[3].cloexec);

    // Through a file and memmap2 as well.
    let path = std::env::temp_dir().join(format!("xisa-ckpt-{}.ckpt", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let mapped = CheckpointFile::open(&path).map(|f| f.deserialize().unwrap());
    std::fs::remove_file(&path).unwrap();
    assert_eq!(mapped.unwrap(), expected);
}

#[test]
fn pages_materialise_to_the_captured_memory() {
    let sample = sample();
    let file = open(write(sample.checkpoint.clone()).unwrap()).unwrap();
    let mut decoder = PageDecoder::new();
    let mut expected = Vec::new();
    for (start, bytes) in &sample.memory {
        for (k, page) in bytes.chunks(PAGE_SIZE).enumerate() {
            expected.push((start + (k * PAGE_SIZE) as u64, page.to_vec()));
        }
    }
    let pages: Vec<_> = file.pages().collect();
    assert_eq!(pages.len(), expected.len());
    let mut out = [0xeeu8; PAGE_SIZE];
    for ((address, view), (want_address, want)) in pages.iter().zip(&expected) {
        assert_eq!(address, want_address);
        decoder
            .materialise(*address, *view, sample.image.page(*address), &mut out)
            .unwrap();
        assert_eq!(&out[..], &want[..], "page at {address:#x} ({view:?})");
        assert_eq!(file.page_at(*address + 100), Some(*view));
    }
    assert_eq!(file.page_at(0x400_1000), None);
    assert_eq!(file.page_at(0), None);
    assert_eq!(file.page_at(u64::MAX), None);
    let same = file.page_at(0x600_0000).unwrap();
    assert_eq!(same, PageView::SameAsImage);
    let err = decoder
        .materialise(0x600_0000, same, None, &mut out)
        .unwrap_err();
    assert!(err.to_string().contains("0x6000000"), "{err}");
    let err = decoder
        .materialise(0x1000, PageView::Raw(&[1; 10]), None, &mut out)
        .unwrap_err();
    assert!(err.to_string().contains("raw page of 10 bytes"), "{err}");
}

#[test]
fn every_encoding_is_chosen_when_it_should_be() {
    let mut encoder = PageEncoder::new();
    let zero = [0u8; PAGE_SIZE];
    assert_eq!(
        encoder.encode(&zero, None).encoding,
        PageEncoding::Zero as u8
    );
    assert_eq!(
        encoder.encode(&zero, Some(&[0; 10])).encoding,
        PageEncoding::Zero as u8
    );

    let mut text = [0u8; PAGE_SIZE];
    for (i, byte) in text.iter_mut().enumerate() {
        *byte = b"abcdefgh"[i % 8];
    }
    let same = encoder.encode(&text, Some(&text));
    assert_eq!(
        (same.encoding, same.data.len()),
        (PageEncoding::SameAsImage as u8, 0)
    );
    // A partial image page is zero-extended.
    let mut partial = [0u8; PAGE_SIZE];
    partial[..100].copy_from_slice(&text[..100]);
    assert_eq!(
        encoder.encode(&partial, Some(&text[..100])).encoding,
        PageEncoding::SameAsImage as u8
    );
    let zstd = encoder.encode(&text, None);
    assert_eq!(zstd.encoding, PageEncoding::Zstd as u8);
    assert!(zstd.data.len() < PAGE_SIZE * 9 / 10);
    let mut changed = text;
    changed[4095] = b'!';
    assert_eq!(
        encoder.encode(&changed, Some(&text)).encoding,
        PageEncoding::Zstd as u8
    );

    let random: [u8; PAGE_SIZE] = Noise::new(3).bytes(PAGE_SIZE).try_into().unwrap();
    let raw = encode_page(&random, Some(&text));
    assert_eq!(
        (raw.encoding, &raw.data[..]),
        (PageEncoding::Raw as u8, &random[..])
    );

    // Half random, half zero: compresses by less than 10% or more depending on the data;
    // whatever is chosen must decode back.
    let mut half = [0u8; PAGE_SIZE];
    half[..3800].copy_from_slice(&random[..3800]);
    let record = encode_page(&half, None);
    let view = match PageEncoding::from_u8(record.encoding).unwrap() {
        PageEncoding::Raw => PageView::Raw(&record.data),
        PageEncoding::Zstd => PageView::Zstd(&record.data),
        other => panic!("unexpected {other:?}"),
    };
    let mut out = [0u8; PAGE_SIZE];
    PageDecoder::new()
        .materialise(0, view, None, &mut out)
        .unwrap();
    assert_eq!(out, half);
    assert_eq!(
        record.encoding,
        PageEncoding::Raw as u8,
        "3800 random bytes do not compress by 10%"
    );
}

#[test]
fn summary_counts_pages_by_encoding() {
    let sample = sample();
    let file = open(write(sample.checkpoint.clone()).unwrap()).unwrap();
    let summary = file.summary();
    let total = summary.total;
    assert_eq!(total.pages(), 12);
    assert_eq!(
        (total.zero, total.same_as_image, total.raw, total.zstd),
        (4, 2, 3, 3)
    );
    assert_eq!(total.touched_bytes(), 6 * PAGE_SIZE as u64);
    let stored: u64 = file.pages().map(|(_, v)| v.stored_len() as u64).sum();
    assert_eq!(total.stored_bytes, stored);
    assert!(stored < total.touched_bytes());
    assert_eq!(summary.regions.len(), 7);
    assert_eq!(summary.regions[1].start, 0x51f_e000);
    assert_eq!(
        (summary.regions[1].pages.zero, summary.regions[1].pages.raw),
        (1, 1)
    );
    assert_eq!(
        (summary.threads, summary.frames, summary.record_bytes),
        (1, 3, 24)
    );
    let text = summary.to_string();
    assert!(
        text.contains("aarch64") && text.contains("0x51fe000..0x5200000"),
        "{text}"
    );
}

#[test]
fn truncated_files_are_refused_at_every_length() {
    let bytes = write(sample().checkpoint.clone()).unwrap();
    let len = bytes.len();
    let end = archive_end(&bytes);
    assert!(end < len, "the sample has a page store");
    let cuts = (0..300)
        .chain((300..len).step_by(97))
        .chain([end - 1, end, len - 1]);
    for cut in cuts {
        let text = error_of(bytes[..cut].to_vec()).to_string();
        let says = if cut < end { end } else { len };
        let ok = match cut {
            0 => text == "not a checkpoint: the file is empty",
            1..HEADER_SIZE => text.starts_with("truncated checkpoint") && text.contains("header"),
            _ => {
                text == format!(
                    "truncated checkpoint: the header says {says} bytes but the file has {cut}"
                )
            }
        };
        assert!(ok, "cut at {cut}: {text}");
    }
    let mut longer = bytes;
    longer.push(0);
    assert!(error_of(longer).to_string().contains("trailing data"));
}

#[test]
fn the_page_store_must_be_exactly_where_and_as_long_as_the_archive_says() {
    let bytes = write(sample().checkpoint.clone()).unwrap();
    let end = archive_end(&bytes);
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; PAGE_SIZE]);
    let text = error_of(longer).to_string();
    assert!(
        text.contains("page(s) in the page store") && text.contains("trailing data"),
        "{text}"
    );
    let mut padded = bytes.clone();
    padded[end + 1] = 7;
    let text = error_of(padded).to_string();
    assert!(
        text.contains(&format!("padding byte at file offset {}", end + 1)),
        "{text}"
    );
    // Without raw pages there is no store, and nothing may follow the archive.
    let mut plain = sample().checkpoint;
    for page in plain.regions.iter_mut().flat_map(|r| r.pages.iter_mut()) {
        if page.encoding == PageEncoding::Raw as u8 {
            page.encoding = PageEncoding::Zero as u8;
            page.data.clear();
        }
    }
    let mut plain = write(plain).unwrap();
    assert_eq!(archive_end(&plain), plain.len());
    plain.push(0);
    assert!(
        error_of(plain)
            .to_string()
            .contains("no page is in the page store")
    );
}

#[test]
fn every_header_byte_is_checked() {
    let bytes = write(sample().checkpoint.clone()).unwrap();
    for at in 0..HEADER_SIZE {
        for mask in [0x01, 0x80, 0xff] {
            let mut flipped = bytes.clone();
            flipped[at] ^= mask;
            let text = error_of(flipped).to_string();
            let expected = match at {
                0..8 => "not a checkpoint",
                8..12 => "unsupported checkpoint version",
                12..16 => "unknown flags",
                16..24 => "archive offset",
                // A shorter archive leaves the rest to the store: its digest then fails.
                24..32 if !text.contains("checksum") => "bytes but the file has",
                _ => "checksum mismatch",
            };
            assert!(text.contains(expected), "byte {at} ^ {mask:#x}: {text}");
        }
    }
}

#[test]
fn header_errors_say_what_is_wrong() {
    let bytes = write(sample().checkpoint.clone()).unwrap();
    let mut newer = bytes.clone();
    newer[8] = 7;
    assert_eq!(
        error_of(newer).to_string(),
        format!("unsupported checkpoint version 7 (this xisa reads {FORMAT_VERSION})")
    );
    let mut older = bytes.clone();
    older[8] = 1;
    assert!(error_of(older).to_string().contains(&format!(
        "version 1 (this xisa reads {FORMAT_VERSION}); it was written by an older xisa"
    )));
    let mut huge = bytes.clone();
    huge[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(error_of(huge).to_string().contains("impossible"));
    let mut damaged = bytes.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 4;
    let text = error_of(damaged).to_string();
    assert!(text.starts_with("checksum mismatch"), "{text}");

    // An archive too small for the root, correctly sealed.
    let mut tiny = bytes[..HEADER_SIZE].to_vec();
    tiny.extend_from_slice(&[0; 10]);
    reseal(&mut tiny);
    assert!(
        error_of(tiny)
            .to_string()
            .contains(&format!("cannot hold the {ROOT_SIZE}-byte root"))
    );
}

#[test]
fn random_bit_flips_in_the_archive_are_caught_by_the_digest() {
    let bytes = write(sample().checkpoint.clone()).unwrap();
    let mut noise = Noise::new(11);
    let end = archive_end(&bytes);
    let store = end.next_multiple_of(PAGE_SIZE);
    for _ in 0..300 {
        let mut flipped = bytes.clone();
        let at = HEADER_SIZE + noise.below(bytes.len() - HEADER_SIZE);
        flipped[at] ^= 1 << noise.below(8);
        let error = error_of(flipped);
        let caught = match at {
            _ if at < end => matches!(error, CheckpointError::Checksum { .. }),
            _ if at < store => error.to_string().contains("padding byte"),
            _ => matches!(error, CheckpointError::StoreChecksum { .. }),
        };
        assert!(caught, "flip at {at}: {error}");
    }
    // A lazy restore opens without reading the store and checks it on its own.
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let file = CheckpointFile::parse_for_test(flipped, PageCheck::FrameOnly).unwrap();
    let text = file.verify_store().unwrap_err().to_string();
    assert!(text.contains("page store"), "{text}");
}

#[test]
fn foreign_files_are_named() {
    let image = wasm_image(&wasm_manifest(ImageLayout::default()), &[]);
    let cases: [(&[u8], &str); 6] = [
        (&image, "not a checkpoint: it looks like an xisa image"),
        (
            b"\x7fELF\x02\x01\x01\0\0\0\0\0",
            "not a checkpoint: it is an ELF file",
        ),
        (
            b"\0asm\x01\0\0\0",
            "not a checkpoint: it is a WebAssembly module",
        ),
        (
            b"BC\xC0\xDE\x35\x14",
            "not a checkpoint: it is an LLVM bitcode object",
        ),
        (b"", "not a checkpoint: the file is empty"),
        (
            b"hello, world",
            "not a checkpoint: the file does not start with the checkpoint magic XISACKPT",
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(error_of(bytes.to_vec()).to_string(), expected);
    }
    let missing = CheckpointFile::open(std::path::Path::new("/nonexistent/x.ckpt")).unwrap_err();
    assert!(
        missing
            .to_string()
            .starts_with("cannot read /nonexistent/x.ckpt"),
        "{missing}"
    );
}

#[test]
fn archives_that_fail_bytecheck_are_refused() {
    let bytes = write(sample().checkpoint.clone()).unwrap();
    let root = archive_end(&bytes) - ROOT_SIZE;
    // Point the threads vector (root offset 80) far outside the archive.
    let mut wild = bytes.clone();
    wild[root + 80..root + 84].copy_from_slice(&0x4000_0000i32.to_le_bytes());
    reseal(&mut wild);
    assert!(matches!(error_of(wild), CheckpointError::Archive(_)));
    // Claim more threads than the archive holds.
    let mut long = bytes.clone();
    long[root + 84..root + 88].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal(&mut long);
    assert!(matches!(error_of(long), CheckpointError::Archive(_)));
    // A bool that is neither 0 nor 1 (cloexec of fd 3).
    let file = open(bytes.clone()).unwrap();
    let from_root = &file.archived().personality.files[3].cloexec as *const bool as isize
        - file.archived() as *const ArchivedCheckpoint as isize;
    let cloexec = (root as isize + from_root) as usize;
    let mut not_bool = bytes.clone();
    assert_eq!(not_bool[cloexec], 1);
    not_bool[cloexec] = 2;
    reseal(&mut not_bool);
    assert!(matches!(error_of(not_bool), CheckpointError::Archive(_)));
}

type Mutation = Box<dyn Fn(&mut Checkpoint)>;

fn zstd_frame(bytes: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(bytes, 3).unwrap()
}

/// A frame that does not record its content size: only decompressing it tells.
fn zstd_frame_without_size(bytes: &[u8]) -> Vec<u8> {
    let mut compressor = zstd::bulk::Compressor::new(3).unwrap();
    compressor
        .set_parameter(zstd::zstd_safe::CParameter::ContentSizeFlag(false))
        .unwrap();
    compressor.compress(bytes).unwrap()
}

/// Checkpoints that pass the digest and bytecheck but break a semantic rule: the writer
/// does not validate, so each is made by writing a bad `Checkpoint`.
fn semantic_cases() -> Vec<(&'static str, Mutation)> {
    fn case(
        expected: &'static str,
        f: impl Fn(&mut Checkpoint) + 'static,
    ) -> (&'static str, Mutation) {
        (expected, Box::new(f))
    }
    fn region(start: u64, pages: usize) -> RegionRecord {
        RegionRecord {
            start,
            length: (pages * PAGE_SIZE) as u64,
            pages: (0..pages)
                .map(|k| PageRecord {
                    index: k as u32,
                    encoding: 0,
                    data: vec![],
                })
                .collect(),
        }
    }
    fn insert(c: &mut Checkpoint, r: RegionRecord) {
        let at = c.regions.partition_point(|x| x.start < r.start);
        c.regions.insert(at, r);
    }
    let mut two_frames = zstd_frame(&[7u8; 2048]);
    two_frames.extend(zstd_frame(&[7u8; 2048]));
    let mut damaged = zstd_frame(&Noise::new(5).bytes(64).repeat(64));
    damaged.truncate(damaged.len() - 3);
    let bomb = zstd_frame_without_size(&vec![0u8; 16 << 20]);
    assert!(
        bomb.len() < PAGE_SIZE,
        "the bomb must pass the length rule to reach zstd"
    );
    let mut skippable = vec![0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0];
    skippable.extend_from_slice(b"skip");
    let zstd = |data: Vec<u8>| {
        move |c: &mut Checkpoint| {
            c.regions[0].pages[0].encoding = PageEncoding::Zstd as u8;
            c.regions[0].pages[0].data = data.clone();
        }
    };
    vec![
        case(
            "invalid checkpoint: guest ABI version 2 is not supported",
            |c| c.abi_version = 2,
        ),
        case("unknown source target 9", |c| c.source_target = 9),
        case(
            "the checkpoint has 2 threads; guest ABI version 1 programs have one",
            |c| c.threads.push(c.threads[0].clone()),
        ),
        case("image hint \"prog.xisa\" is not an absolute path", |c| {
            c.image_hint = b"prog.xisa".to_vec()
        }),
        case("image hint \"/a\\0b\" is not an absolute path", |c| {
            c.image_hint = b"/a\0b".to_vec()
        }),
        case("image hint: path of 4097 bytes exceeds 4096", |c| {
            c.image_hint = [b"/".as_slice(), &[b'x'; 4096]].concat()
        }),
        case(
            "parent hint: a checkpoint without a parent (digest all zero) names one",
            |c| c.parent_hint = b"/jobs/base.ckpt".to_vec(),
        ),
        case("parent hint \"base.ckpt\" is not an absolute path", |c| {
            c.parent_digest = [7; 32];
            c.parent_hint = b"base.ckpt".to_vec()
        }),
        case(
            "map: mem_top 0x8001000 must be a multiple of 0x10000",
            |c| c.map.mem_top += 0x1000,
        ),
        case("map: mem_top 0x7ff0000", |c| {
            c.map.mem_top = MIN_MEM_TOP - 0x1_0000
        }),
        case("map: mem_top 0x4000000000000", |c| c.map.mem_top = 1 << 50),
        case("map: rodata size 0xffffffffffffffff exceeds", |c| {
            c.map.rodata_size = u64::MAX
        }),
        case("above the image limit", |c| {
            c.map.bss_size = IMAGE_LIMIT - 0x600_0000
        }),
        case(
            "map: mem_top 0x8000000 is not above brk_base 0x8000000",
            |c| c.map.bss_size = 0x800_0000 - 0x602_0000,
        ),
        case("the checkpoint has no thread", |c| c.threads.clear()),
        case("thread 0 has no frame", |c| c.threads[0].frames.clear()),
        case(
            "frame 2 of thread 0: record of 100000 bytes exceeds the 65536-byte limit",
            |c| c.threads[0].frames[2].record = vec![0; 100_000],
        ),
        case(
            "frame 1 of thread 0: record of 12 bytes is not a multiple of 8",
            |c| c.threads[0].frames[1].record = vec![0; 12],
        ),
        case(
            "thread 0: shadow-stack pointer 0x41ffff0 is outside the shadow stack",
            |c| c.threads[0].registers.shadow_stack_pointer = 0x41f_fff0,
        ),
        case(
            "thread 0: thread pointer 0x8 is not in neutral memory",
            |c| c.threads[0].registers.thread_pointer = 8,
        ),
        case("thread pointer 0x20000 is not in neutral memory", |c| {
            c.threads[0].registers.thread_pointer = 0x2_0000
        }),
        case(
            "region 3 (0x6010008, 0x1000 bytes): start and length must be page-aligned",
            |c| c.regions[3].start += 8,
        ),
        case(
            "region 4 (0x6020000, 0x0 bytes): start and length must be page-aligned and the length non-zero",
            |c| {
                c.regions[4].length = 0;
                c.regions[4].pages.clear();
            },
        ),
        case(
            "region 0 (0x0, 0x1000 bytes) reaches into the null guard (0x0..0x10000)",
            |c| insert(c, region(0, 1)),
        ),
        case("reaches into the private area (0x10000..0x4000000)", |c| {
            insert(c, region(0x380_0000, 1))
        }),
        case(
            "region 1 (0x41ff000, 0x2000 bytes) reaches into the shadow-stack guard",
            |c| insert(c, region(0x41f_f000, 2)),
        ),
        case(
            "reaches into the reserved range (0x5200000..0x6000000)",
            |c| insert(c, region(0x520_0000, 1)),
        ),
        case(
            "region 6 (0x7ffe000, 0x3000 bytes) reaches into mem_top 0x8000000",
            |c| {
                c.regions[6].length += 0x1000;
                c.regions[6].pages.push(PageRecord {
                    index: 2,
                    encoding: 0,
                    data: vec![],
                });
            },
        ),
        case(
            "region 7 (0xfffffffffffff000, 0x2000 bytes) reaches into mem_top",
            |c| c.regions.push(region(u64::MAX - 0xfff, 2)),
        ),
        case(
            "region 5 (0x6020000, 0x3000 bytes) overlaps or precedes region 4",
            |c| c.regions[5].start = 0x602_0000,
        ),
        case(
            "region 1 (0x4000000, 0x1000 bytes) overlaps or precedes region 0",
            |c| c.regions.swap(0, 1),
        ),
        case("region 5: lists 2 pages but its length holds 3", |c| {
            c.regions[5].pages.pop();
        }),
        case("region 5 page 1: index 2 out of order", |c| {
            c.regions[5].pages[1].index = 2
        }),
        case("region 4 page 0: unknown page encoding 7", |c| {
            c.regions[4].pages[0].encoding = 7
        }),
        case(
            "region 4 page 0: a 'zero' page carries 1 bytes of data",
            |c| c.regions[4].pages[0].data = vec![1],
        ),
        case(
            "region 2 page 0: a 'same as image' page carries 4 bytes",
            |c| c.regions[2].pages[0].data = vec![1; 4],
        ),
        case(
            "region 4 page 0: 'same as image' at 0x6020000, outside the image's rodata and data",
            |c| c.regions[4].pages[0].encoding = 1,
        ),
        case("region 0 page 0: 'same as image' at 0x4000000", |c| {
            c.regions[0].pages[0].encoding = 1;
            c.regions[0].pages[0].data.clear();
        }),
        case(
            "region 1 page 1: raw data of 100 bytes, expected 4096",
            |c| c.regions[1].pages[1].data.truncate(100),
        ),
        case(
            "region 0 page 0: page-store slot 3, expected 0 (slots follow record order)",
            |c| {
                c.regions[0].pages[0].encoding = PageEncoding::InStore as u8;
                c.regions[0].pages[0].data = 3u64.to_le_bytes().to_vec();
            },
        ),
        case(
            "region 0 page 0: a page-store page carries 4 bytes, expected its 8-byte slot",
            |c| {
                c.regions[0].pages[0].encoding = PageEncoding::InStore as u8;
                c.regions[0].pages[0].data = vec![0; 4];
            },
        ),
        case(
            "region 0 page 0: zstd data of 0 bytes (it must be shorter than a raw page)",
            zstd(vec![]),
        ),
        case(
            "region 0 page 0: zstd data of 4096 bytes",
            zstd(vec![0; 4096]),
        ),
        case(
            "region 0 page 0: zstd data does not decompress to 4096 bytes (it is not a zstd frame)",
            zstd(b"hello".to_vec()),
        ),
        case(
            "region 0 page 0: zstd data does not decompress to 4096 bytes (its frame says 100)",
            zstd(zstd_frame(&[1; 100])),
        ),
        case(
            "region 0 page 0: zstd data does not decompress to 4096 bytes (it gives 100)",
            zstd(zstd_frame_without_size(&[1; 100])),
        ),
        case(
            "region 0 page 0: zstd data does not decompress to 4096 bytes (zstd:",
            zstd(bomb),
        ),
        case(
            "zstd data does not decompress to 4096 bytes (2 bytes follow",
            {
                let mut trailing = zstd_frame(&[3; 4096]);
                trailing.extend_from_slice(&[0, 0]);
                zstd(trailing)
            },
        ),
        case("does not decompress to 4096 bytes", zstd(two_frames)),
        case(
            "zstd data does not decompress to 4096 bytes (the frame is damaged)",
            zstd(damaged),
        ),
        case("(it is not a zstd frame)", zstd(skippable)),
        case(
            "personality cwd: path \"work\" is not a normalized absolute path",
            |c| c.personality.cwd = b"work".to_vec(),
        ),
        case("path \"/a/../b\" is not a normalized", |c| {
            c.personality.cwd = b"/a/../b".to_vec()
        }),
        case("path \"/a/\" is not a normalized", |c| {
            c.personality.cwd = b"/a/".to_vec()
        }),
        case("path \"/a//b\" is not a normalized", |c| {
            c.personality.cwd = b"/a//b".to_vec()
        }),
        case("path \"\" is not a normalized", |c| {
            c.personality.cwd.clear()
        }),
        case(
            "personality cwd: path \"/a\\0b\" contains a NUL byte",
            |c| c.personality.cwd = b"/a\0b".to_vec(),
        ),
        case("personality cwd: path of 5000 bytes exceeds 4096", |c| {
            c.personality.cwd = b"/a".repeat(2500)
        }),
        case("personality: umask 0o1000 exceeds 0o777", |c| {
            c.personality.umask = 0o1000
        }),
        case(
            "personality: brk 0x602f000 is outside 0x6030000..=0x8000000",
            |c| c.personality.brk = 0x602_f000,
        ),
        case("personality: brk 0x8001000 is outside", |c| {
            c.personality.brk = 0x800_1000
        }),
        case("personality: mmap region 0 (0x7ffe001..0x8000000)", |c| {
            c.personality.mmap_regions[0].start += 1
        }),
        case("personality: mmap region 0 (0x8000000..0x8000000)", |c| {
            c.personality.mmap_regions[0].start = 0x800_0000
        }),
        case("personality: mmap region 1 (0x7fff000..0x8000000)", |c| {
            c.personality.mmap_regions.push(MmapRecord {
                start: 0x7ff_f000,
                end: 0x800_0000,
            })
        }),
        case("personality: mmap region 0 (0x6032000..0x6034000)", |c| {
            c.personality.mmap_regions[0] = MmapRecord {
                start: 0x603_2000,
                end: 0x603_4000,
            }
        }),
        case("personality: mmap region 0 (0x7ffe000..0x8010000)", |c| {
            c.personality.mmap_regions[0].end = 0x801_0000
        }),
        case("personality: description 2 has unknown kind 9", |c| {
            c.personality.descriptions[2].kind = 9
        }),
        case(
            "personality: description 1 is a standard stream but has a path",
            |c| c.personality.descriptions[1].path = b"/dev/stdout".to_vec(),
        ),
        case(
            "personality: description 3: path \"\" is not a normalized absolute path",
            |c| c.personality.descriptions[3].path.clear(),
        ),
        case(
            "personality: description 4: path \"/tmp/\\0\" contains a NUL byte",
            |c| c.personality.descriptions[4].path = b"/tmp/\0".to_vec(),
        ),
        case(
            "personality: description 3 has offset 9223372036854775808",
            |c| c.personality.descriptions[3].offset = 1 << 63,
        ),
        case("personality: fd -1 is outside 0..1024", |c| {
            c.personality.files[0].fd = -1
        }),
        case("personality: fd 1024 is outside 0..1024", |c| {
            c.personality.files[5].fd = 1024
        }),
        case("personality: fd 3 is listed twice or out of order", |c| {
            c.personality.files[4].fd = 3
        }),
        case(
            "personality: fd 5 refers to description 99, but there are 5",
            |c| c.personality.files[5].description = 99,
        ),
        case("personality: 1025 file descriptions, more than 1024", |c| {
            c.personality.descriptions = vec![c.personality.descriptions[0].clone(); 1025]
        }),
        case("personality: no action can be set for signal 0", |c| {
            c.personality.signal_actions[0].signal = 0
        }),
        case("personality: no action can be set for signal 65", |c| {
            c.personality.signal_actions[1].signal = 65
        }),
        case("personality: no action can be set for signal 9", |c| {
            c.personality.signal_actions[0].signal = 9
        }),
        case("personality: no action can be set for signal 19", |c| {
            c.personality.signal_actions[1].signal = 19
        }),
        case(
            "personality: signal 2 is listed twice or out of order",
            |c| c.personality.signal_actions[1].signal = 2,
        ),
        case(
            "personality: warned system call 293 is listed twice or out of order",
            |c| c.personality.warned_syscalls = vec![334, 293],
        ),
        case("personality: warned system call 7 is listed twice", |c| {
            c.personality.warned_syscalls = vec![7, 7]
        }),
    ]
}

#[test]
fn semantic_rules_are_enforced_with_precise_messages() {
    for (expected, mutate) in semantic_cases() {
        let mut checkpoint = sample().checkpoint;
        mutate(&mut checkpoint);
        let bytes = write(checkpoint.clone()).expect("the writer does not validate");
        let text = error_of(bytes).to_string();
        assert!(
            text.contains(expected),
            "expected {expected:?}\n     got {text:?}"
        );
        assert!(text.starts_with("invalid checkpoint: "), "{text}");
    }
}

#[test]
fn the_image_must_match() {
    let image_of = |rodata_size: u64| {
        let layout = ImageLayout {
            rodata_size,
            ..MAP.memory_map().image
        };
        let neutral = vec![0u8; (rodata_size + MAP.data_size) as usize];
        crate::image::Image::from_bytes(wasm_image(&wasm_manifest(layout), &neutral)).unwrap()
    };
    let image = image_of(MAP.rodata_size);
    let other = image_of(0x10);

    let mut checkpoint = sample().checkpoint;
    checkpoint.image_id = image.id();
    let file = open(write(checkpoint.clone()).unwrap()).unwrap();
    file.validate_against_image(&image).unwrap();
    let text = file.validate_against_image(&other).unwrap_err().to_string();
    assert_eq!(
        text,
        format!(
            "checkpoint was captured from image {} but this image is {}",
            error::hex(&image.id()),
            error::hex(&other.id())
        )
    );
    // Same identity, different layout: only a forged checkpoint can do this.
    checkpoint.image_id = other.id();
    let forged = open(write(checkpoint.clone()).unwrap()).unwrap();
    let text = forged
        .validate_against_image(&other)
        .unwrap_err()
        .to_string();
    assert!(text.contains("layout (rodata 0x1800, data 0x200, bss 0x40 bytes) differs from the image's (rodata 0x10"), "{text}");
}

/// Stable-Rust fuzzing in the test suite: random mutations of a valid archive, resealed so
/// they reach bytecheck and the semantic checks. Nothing may panic; whatever is accepted
/// must be fully usable.
#[test]
fn mutated_archives_never_panic() {
    let bytes = write(sample().checkpoint.clone()).unwrap();
    let mut noise = Noise::new(99);
    let mut accepted = 0;
    for _ in 0..3000 {
        let mut archive = bytes[HEADER_SIZE..archive_end(&bytes)].to_vec();
        for _ in 0..1 + noise.below(3) {
            let at = noise.below(archive.len());
            match noise.below(6) {
                0 => archive[at] ^= 1 << noise.below(8),
                1 => archive[at] = 0,
                2 => archive[at] = 0xff,
                3 => archive[at] = noise.next() as u8,
                4 => archive.truncate(at.max(1)),
                _ => {
                    let from = noise.below(archive.len());
                    let len = noise
                        .below(16)
                        .min(archive.len() - from)
                        .min(archive.len() - at);
                    archive.copy_within(from..from + len, at);
                }
            }
        }
        let file = with_archive(&bytes, &archive);
        if corpus::exercise_checkpoint(&file) {
            accepted += 1;
        }
    }
    assert!(
        accepted > 10,
        "only {accepted} mutants were valid: the mutations are too coarse"
    );
}

#[test]
fn archived_sizes_match_the_spec() {
    use std::mem::size_of;
    assert_eq!(size_of::<ArchivedCheckpoint>(), ROOT_SIZE);
    assert_eq!(size_of::<ArchivedMapRecord>(), 32);
    assert_eq!(size_of::<ArchivedThreadRecord>(), 24);
    assert_eq!(size_of::<ArchivedFrameRecord>(), 12);
    assert_eq!(size_of::<ArchivedNeutralRegisters>(), 16);
    assert_eq!(size_of::<ArchivedRegionRecord>(), 24);
    assert_eq!(size_of::<ArchivedPageRecord>(), 13);
    assert_eq!(size_of::<ArchivedPersonalityRecord>(), 76);
    assert_eq!(size_of::<ArchivedMmapRecord>(), 16);
    assert_eq!(size_of::<ArchivedDescriptionRecord>(), 21);
    assert_eq!(size_of::<ArchivedOpenFileRecord>(), 9);
    assert_eq!(size_of::<ArchivedSignalActionRecord>(), 20);
    assert_eq!(std::mem::align_of::<ArchivedCheckpoint>(), 1);
}

#[test]
fn opening_for_a_lazy_restore_checks_frames_and_leaves_decoding_to_first_use() {
    let mut checkpoint = sample().checkpoint;
    checkpoint.regions[0].pages[0].encoding = PageEncoding::Zstd as u8;
    checkpoint.regions[0].pages[0].data = zstd_frame_without_size(&[1; 100]);
    let bytes = write(checkpoint.clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lazy.ckpt");
    std::fs::write(&path, &bytes).unwrap();
    assert!(CheckpointFile::open_checking(&path, PageCheck::Decode).is_err());
    let file = CheckpointFile::open_checking(&path, PageCheck::FrameOnly).unwrap();
    let (address, view) = file.pages().next().unwrap();
    let mut out = [0u8; PAGE_SIZE];
    let error = PageDecoder::new()
        .materialise(address, view, None, &mut out)
        .unwrap_err();
    assert!(error.to_string().contains("(it gives 100)"), "{error}");
    // A frame that says it is not a page is refused either way.
    checkpoint.regions[0].pages[0].data = zstd_frame(&[1; 100]);
    std::fs::write(&path, write(checkpoint.clone()).unwrap()).unwrap();
    let refused = CheckpointFile::open_checking(&path, PageCheck::FrameOnly).unwrap_err();
    assert!(
        refused.to_string().contains("(its frame says 100)"),
        "{refused}"
    );
}

/// A parent (the sample) and a child that changes one heap page and stores nothing else,
/// written into `dir` as `base.ckpt` and `child.ckpt`; the child's hint names `hint_dir`.
fn write_chain(dir: &Path, hint_dir: &Path) -> (Vec<u8>, [u8; PAGE_SIZE]) {
    let parent = write(sample().checkpoint.clone()).unwrap();
    std::fs::write(dir.join("base.ckpt"), &parent).unwrap();
    let mut changed = [0u8; PAGE_SIZE];
    changed[..4].copy_from_slice(b"new!");
    let mut child = sample().checkpoint;
    child.regions = vec![PageEncoder::new().encode_region(0x603_0000, &changed, |_| None)];
    child.parent_digest = parent[32..64].try_into().unwrap();
    child.parent_hint = hint_dir
        .join("base.ckpt")
        .into_os_string()
        .into_encoded_bytes();
    std::fs::write(dir.join("child.ckpt"), write(child.clone()).unwrap()).unwrap();
    (parent, changed)
}

fn page_of(file: &CheckpointFile, address: u64) -> [u8; PAGE_SIZE] {
    let mut out = [0u8; PAGE_SIZE];
    let image = sample().image;
    PageDecoder::new()
        .materialise(
            address,
            file.page_at(address).expect("a stored page"),
            image.page(address),
            &mut out,
        )
        .unwrap();
    out
}

#[test]
fn an_incremental_checkpoint_reads_through_its_parent() {
    let dir = tempfile::tempdir().unwrap();
    let (_, changed) = write_chain(dir.path(), dir.path());
    let child = CheckpointFile::open(&dir.path().join("child.ckpt")).unwrap();
    assert_eq!(child.chain().len(), 2);
    assert_eq!(page_of(&child, 0x603_0000), changed);
    // Pages the child does not store come from the parent.
    let sample = sample();
    let (_, startup) = &sample.memory[0];
    assert_eq!(page_of(&child, 0x400_0000)[..], startup[..PAGE_SIZE]);
    // Writing the chain's pages oldest first leaves the newest page at each address.
    let last = child
        .pages()
        .filter(|(address, _)| *address == 0x603_0000)
        .last()
        .unwrap();
    assert_eq!(Some(last.1), child.own_page_at(0x603_0000));
    assert!(
        child
            .stored_ranges()
            .iter()
            .any(|r| r.contains(&0x7ff_e000))
    );
}

#[test]
fn a_moved_chain_is_found_beside_the_child() {
    let dir = tempfile::tempdir().unwrap();
    // The hint names a folder that does not exist: the parent is found by its file name.
    write_chain(dir.path(), Path::new("/nonexistent/jobs"));
    let child = CheckpointFile::open(&dir.path().join("child.ckpt")).unwrap();
    assert!(child.parent().is_some());
    // Under another name: found among the checkpoints beside the child by its digest.
    std::fs::rename(
        dir.path().join("base.ckpt"),
        dir.path().join("round-1.ckpt"),
    )
    .unwrap();
    let child = CheckpointFile::open(&dir.path().join("child.ckpt")).unwrap();
    assert_eq!(
        child.parent().and_then(|p| p.path()),
        Some(dir.path().join("round-1.ckpt").as_path())
    );
}

#[test]
fn a_missing_or_rewritten_parent_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    write_chain(dir.path(), dir.path());
    let base = dir.path().join("base.ckpt");
    let mut other = sample().checkpoint;
    other.created_unix_ms += 1;
    std::fs::write(&base, write(other.clone()).unwrap()).unwrap();
    let text = CheckpointFile::open(&dir.path().join("child.ckpt"))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("cannot follow the checkpoint's parent")
            && text.contains("rewritten after the capture"),
        "{text}"
    );
    std::fs::remove_file(&base).unwrap();
    let text = CheckpointFile::open(&dir.path().join("child.ckpt"))
        .unwrap_err()
        .to_string();
    assert!(text.contains("neither there nor beside it"), "{text}");
}

#[test]
fn a_parent_of_another_image_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut parent = sample().checkpoint;
    parent.image_id = [1; 32];
    let parent = write(parent.clone()).unwrap();
    std::fs::write(dir.path().join("base.ckpt"), &parent).unwrap();
    let mut child = sample().checkpoint;
    child.parent_digest = parent[32..64].try_into().unwrap();
    std::fs::write(dir.path().join("child.ckpt"), write(child.clone()).unwrap()).unwrap();
    let text = CheckpointFile::open(&dir.path().join("child.ckpt"))
        .unwrap_err()
        .to_string();
    assert!(text.contains("captured from image 0101"), "{text}");
}

#[test]
fn a_writer_s_own_files_are_not_hashed_again() {
    let mut bytes = write(sample().checkpoint.clone()).unwrap();
    // A header digest that does not match the archive: only a writer that lists it as its
    // own skips the hash.
    let listed = [0x5a; 32];
    bytes[super::HEADER_DIGEST].copy_from_slice(&listed);
    let path = std::env::temp_dir().join(format!("xisa-ckpt-own-{}.ckpt", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let checked = CheckpointFile::open_checking(&path, PageCheck::FrameOnly).map(|_| ());
    let mut own = OwnCheckpoints::default();
    own.wrote([1; 32]);
    let foreign = CheckpointFile::open_written(&path, PageCheck::FrameOnly, &own).map(|_| ());
    own.wrote(listed);
    let own = CheckpointFile::open_written(&path, PageCheck::FrameOnly, &own).map(|f| f.digest());
    std::fs::remove_file(&path).unwrap();
    assert!(
        matches!(checked, Err(CheckpointError::Checksum { .. })),
        "{checked:?}"
    );
    assert!(
        matches!(foreign, Err(CheckpointError::Checksum { .. })),
        "{foreign:?}"
    );
    assert_eq!(own.unwrap(), listed);
}

#[test]
fn a_writer_s_open_chain_is_not_opened_again() {
    let dir = tempfile::tempdir().unwrap();
    write_chain(dir.path(), dir.path());
    let (base, child) = (dir.path().join("base.ckpt"), dir.path().join("child.ckpt"));
    let mut own = OwnCheckpoints::default();
    let parent = Arc::new(CheckpointFile::open_written(&base, PageCheck::FrameOnly, &own).unwrap());
    // Kept open only if this writer wrote it.
    own.keep_open(&parent);
    std::fs::rename(&base, dir.path().join("elsewhere")).unwrap();
    let missing = CheckpointFile::open_written(&child, PageCheck::FrameOnly, &own);
    assert!(missing.is_err(), "the parent was found though it is gone");
    own.wrote(parent.digest());
    own.keep_open(&parent);
    let child = CheckpointFile::open_written(&child, PageCheck::FrameOnly, &own).unwrap();
    assert!(std::ptr::eq(child.parent().unwrap(), Arc::as_ptr(&parent)));
    // Opened again under another name, the kept link is taken as it is.
    let moved = dir.path().join("elsewhere");
    let again = own.open(&moved, PageCheck::FrameOnly).unwrap();
    assert!(Arc::ptr_eq(&again, &parent));
    // A chain kept in its place lets the old one go.
    drop(again);
    let held = Arc::strong_count(&parent);
    let other = dir.path().join("other.ckpt");
    let mut unrelated = sample().checkpoint;
    unrelated.created_unix_ms += 1;
    std::fs::write(&other, write(unrelated).unwrap()).unwrap();
    own.keep_open(&own.open(&other, PageCheck::FrameOnly).unwrap());
    assert_eq!(Arc::strong_count(&parent), held - 1);
    drop(child);
}
