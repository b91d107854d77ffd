//! The worked example of spec.md §5.6: built here, dumped from the real bytes by following
//! the encoding rules of §5.3 (which locks the byte layout), and compared with the spec.

use std::fmt::Write as _;

use super::super::*;
use super::Noise;
use crate::target::Target;

/// The example's zstd page, fixed here so the example does not depend on the zstd
/// library's compressor (decompression is stable; compression output may change).
const ZSTD_PAGE: [u8; 47] = [
    0x28, 0xb5, 0x2f, 0xfd, 0x60, 0x00, 0x0f, 0x2d, 0x01, 0x00, 0x98, 0x00, 0x00, 0x01, 0x06, 0x03,
    0xe0, 0xff, 0x1f, 0x05, 0x41, 0x42, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00,
    0xa0, 0x0b, 0xc8, 0x2e, 0xe0, 0x04, 0xf2, 0x12, 0x1f, 0x5a, 0xb8, 0xf7, 0x3e, 0xc0, 0x02,
];

/// What the zstd page holds: the top 64 bytes of the shadow stack.
fn shadow_stack_page() -> [u8; PAGE_SIZE] {
    let mut page = [0u8; PAGE_SIZE];
    let words: [u64; 8] = [0x601_0000, 3, 0x51f_ffe0, 0, 0x41, 0x42, 0, 7];
    for (i, word) in words.iter().enumerate() {
        page[0xfc0 + 8 * i..0xfc8 + 8 * i].copy_from_slice(&word.to_le_bytes());
    }
    page
}

fn page(index: u32, encoding: PageEncoding, data: Vec<u8>) -> PageRecord {
    PageRecord {
        index,
        encoding: encoding as u8,
        data,
    }
}

pub(in super::super) fn checkpoint() -> Checkpoint {
    Checkpoint {
        image_id: std::array::from_fn(|i| i as u8),
        abi_version: 1,
        source_target: Target::Wasm64.id(),
        created_unix_ms: 1_767_225_600_000,
        map: MapRecord {
            rodata_size: 0x800,
            data_size: 0x1200,
            bss_size: 0x40,
            mem_top: 0x800_0000,
        },
        threads: vec![ThreadRecord {
            frames: vec![
                FrameRecord {
                    call_site: 7,
                    record: [0x601_0010u64, 0x20]
                        .iter()
                        .flat_map(|v| v.to_le_bytes())
                        .collect(),
                },
                FrameRecord {
                    call_site: 2,
                    record: 3u64.to_le_bytes().to_vec(),
                },
            ],
            registers: NeutralRegisters {
                shadow_stack_pointer: 0x51f_ffc0,
                thread_pointer: 0x602_0000,
            },
        }],
        regions: vec![
            RegionRecord {
                start: 0x51f_e000,
                length: 0x2000,
                pages: vec![
                    page(0, PageEncoding::Zero, vec![]),
                    page(1, PageEncoding::Zstd, ZSTD_PAGE.to_vec()),
                ],
            },
            RegionRecord {
                start: 0x601_0000,
                length: 0x2000,
                pages: vec![
                    page(0, PageEncoding::SameAsImage, vec![]),
                    page(1, PageEncoding::Raw, Noise::new(42).bytes(PAGE_SIZE)),
                ],
            },
        ],
        personality: PersonalityRecord {
            cwd: b"/".to_vec(),
            umask: 0o022,
            brk: 0x603_0000,
            mmap_regions: vec![MmapRecord {
                start: 0x7ff_f000,
                end: 0x800_0000,
            }],
            descriptions: vec![
                DescriptionRecord {
                    kind: DescriptionKind::Stdout as u8,
                    path: vec![],
                    flags: 1,
                    offset: 0,
                },
                DescriptionRecord {
                    kind: DescriptionKind::File as u8,
                    path: b"/out.txt".to_vec(),
                    flags: 0o1101,
                    offset: 12,
                },
            ],
            files: vec![
                OpenFileRecord {
                    fd: 1,
                    description: 0,
                    cloexec: false,
                },
                OpenFileRecord {
                    fd: 3,
                    description: 1,
                    cloexec: true,
                },
            ],
            monotonic_ns: 1_500_000_000,
            signal_mask: 0,
            signal_actions: vec![SignalActionRecord {
                signal: 2,
                handler: 5,
                flags: 0,
            }],
            warned_syscalls: vec![293],
        },
        image_hint: b"/srv/jobs/prog.xisa".to_vec(),
        parent_digest: Checkpoint::NO_PARENT,
        parent_hint: Vec::new(),
        store_digest: [0; 32],
    }
}

/// An annotated hex dump: one line per field, offsets from the start of the file.
struct Dump<'a> {
    bytes: &'a [u8],
    out: String,
}

impl Dump<'_> {
    fn u8(&self, at: usize) -> u8 {
        self.bytes[at]
    }

    fn u32(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.bytes[at..at + 4].try_into().unwrap())
    }

    fn i32(&self, at: usize) -> i32 {
        i32::from_le_bytes(self.bytes[at..at + 4].try_into().unwrap())
    }

    fn u64(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.bytes[at..at + 8].try_into().unwrap())
    }

    fn heading(&mut self, text: &str) {
        writeln!(self.out, "{text}").unwrap();
    }

    /// Shows up to 32 bytes of a field (longer fields: the first 16).
    fn field(&mut self, at: usize, len: usize, note: &str) {
        let hex = |from: usize, to: usize| {
            self.bytes[from..to]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let first = hex(at, at + len.min(16));
        writeln!(self.out, "{at:06x}  {first:<47}  {note}").unwrap();
        if (17..=32).contains(&len) {
            let rest = hex(at + 16, at + len);
            writeln!(self.out, "{:06x}  {rest}", at + 16).unwrap();
        }
    }

    fn u32_field(&mut self, at: usize, name: &str) -> u32 {
        let value = self.u32(at);
        self.field(at, 4, &format!("{name} = {value}"));
        value
    }

    fn u64_field(&mut self, at: usize, name: &str) -> u64 {
        let value = self.u64(at);
        self.field(at, 8, &format!("{name} = {value:#x}"));
        value
    }

    /// A `Vec` field: an i32 offset relative to the field, then a u32 length. Returns the
    /// file offset of the first element and the length.
    fn vec(&mut self, at: usize, name: &str) -> (usize, usize) {
        let offset = self.i32(at);
        let target = (at as i64 + i64::from(offset)) as usize;
        let len = self.u32(at + 4) as usize;
        self.field(
            at,
            8,
            &format!("{name}: offset {offset} -> {target:06x}, length {len}"),
        );
        (target, len)
    }

    /// A `Vec<u8>` field and its bytes.
    fn bytes_vec(&mut self, at: usize, name: &str, show: &str) -> Vec<u8> {
        let (target, len) = self.vec(at, name);
        if len > 0 {
            let note = match len {
                0..=32 => format!("{name} bytes{show}"),
                _ => format!("{name} bytes ({len}; the first 16 shown)"),
            };
            self.field(target, len, &note);
        }
        self.bytes[target..target + len].to_vec()
    }
}

/// Dumps the example by reading the file as a compatible reader would, and checks every
/// value read against the checkpoint it was written from.
fn dump(checkpoint: &Checkpoint, bytes: &[u8]) -> String {
    let mut d = Dump {
        bytes,
        out: String::new(),
    };
    d.heading("Header");
    d.field(0, 8, "magic \"XISACKPT\"");
    assert_eq!(&bytes[..8], MAGIC);
    assert_eq!(d.u32_field(8, "format version"), FORMAT_VERSION);
    assert_eq!(d.u32_field(12, "flags"), 0);
    assert_eq!(d.u64(16), 64);
    d.field(16, 8, "archive offset = 64");
    let length = d.u64(24) as usize;
    d.field(24, 8, &format!("archive length = {length}"));
    let archive_end = length + HEADER_SIZE;
    let store = archive_end.next_multiple_of(PAGE_SIZE);
    assert_eq!(store + PAGE_SIZE, bytes.len(), "one page in the page store");
    d.field(32, 32, "BLAKE3 of the archive");
    assert_eq!(
        &bytes[32..64],
        blake3::hash(&bytes[64..archive_end]).as_bytes()
    );

    let root = archive_end - ROOT_SIZE;
    d.heading(&format!(
        "Checkpoint (root: the last {ROOT_SIZE} bytes of the archive)"
    ));
    d.field(root, 32, "image_id");
    assert_eq!(bytes[root..root + 32], checkpoint.image_id);
    assert_eq!(d.u32_field(root + 32, "abi_version"), 1);
    assert_eq!(d.u32_field(root + 36, "source_target (wasm64)"), 3);
    let created = d.u64(root + 40);
    d.field(root + 40, 8, &format!("created_unix_ms = {created}"));
    assert_eq!(created, checkpoint.created_unix_ms);
    let map = checkpoint.map;
    assert_eq!(d.u64_field(root + 48, "map.rodata_size"), map.rodata_size);
    assert_eq!(d.u64_field(root + 56, "map.data_size"), map.data_size);
    assert_eq!(d.u64_field(root + 64, "map.bss_size"), map.bss_size);
    assert_eq!(d.u64_field(root + 72, "map.mem_top"), map.mem_top);
    let (threads, thread_count) = d.vec(root + 80, "threads");
    let (regions, region_count) = d.vec(root + 88, "regions");
    let p = root + 96;
    let (cwd, cwd_len) = d.vec(p, "personality.cwd");
    let umask = d.u32(p + 8);
    d.field(p + 8, 4, &format!("personality.umask = {umask:#o}"));
    assert_eq!(umask, 0o22);
    assert_eq!(
        d.u64_field(p + 12, "personality.brk"),
        checkpoint.personality.brk
    );
    let (mmaps, mmap_count) = d.vec(p + 20, "personality.mmap_regions");
    let (descriptions, description_count) = d.vec(p + 28, "personality.descriptions");
    let (files, file_count) = d.vec(p + 36, "personality.files");
    let monotonic = d.u64(p + 44);
    d.field(
        p + 44,
        8,
        &format!("personality.monotonic_ns = {monotonic}"),
    );
    assert_eq!(monotonic, checkpoint.personality.monotonic_ns);
    assert_eq!(d.u64_field(p + 52, "personality.signal_mask"), 0);
    let (actions, action_count) = d.vec(p + 60, "personality.signal_actions");
    let (warned, warned_count) = d.vec(p + 68, "personality.warned_syscalls");
    let (hint, hint_len) = d.vec(p + 76, "image_hint");
    d.field(p + 84, 32, "parent_digest (all zero: no parent)");
    assert_eq!(bytes[p + 84..p + 116], checkpoint.parent_digest);
    let (_, parent_hint_len) = d.vec(p + 116, "parent_hint");
    assert_eq!(parent_hint_len, 0);
    d.field(p + 124, 32, "store_digest: BLAKE3 of the page store");
    assert_eq!(
        &bytes[p + 124..p + 156],
        blake3::hash(&bytes[store..]).as_bytes()
    );
    assert_eq!(p + 156, archive_end);

    assert_eq!(thread_count, 1);
    d.heading("threads[0]: ThreadRecord (24 bytes)");
    let (frames, frame_count) = d.vec(threads, "frames");
    assert_eq!(
        d.u64_field(threads + 8, "registers.shadow_stack_pointer"),
        0x51f_ffc0
    );
    assert_eq!(
        d.u64_field(threads + 16, "registers.thread_pointer"),
        0x602_0000
    );
    for (f, frame) in checkpoint.threads[0].frames.iter().enumerate() {
        assert_eq!(frame_count, 2);
        let at = frames + 12 * f;
        d.heading(&format!("threads[0].frames[{f}]: FrameRecord (12 bytes)"));
        assert_eq!(d.u32_field(at, "call_site"), frame.call_site);
        let record = d.bytes_vec(at + 4, "record", "");
        assert_eq!(record, frame.record);
    }

    assert_eq!(region_count, 2);
    let mut in_store = Vec::new();
    for (r, region) in checkpoint.regions.iter().enumerate() {
        let at = regions + 24 * r;
        d.heading(&format!("regions[{r}]: RegionRecord (24 bytes)"));
        assert_eq!(d.u64_field(at, "start"), region.start);
        assert_eq!(d.u64_field(at + 8, "length"), region.length);
        let (pages, page_count) = d.vec(at + 16, "pages");
        assert_eq!(page_count, region.pages.len());
        for (k, page) in region.pages.iter().enumerate() {
            let at = pages + 13 * k;
            // The writer moves raw pages into the page store.
            let encoding = PageEncoding::from_u8(d.u8(at + 4)).unwrap();
            let expected = match PageEncoding::from_u8(page.encoding).unwrap() {
                PageEncoding::Raw => PageEncoding::InStore,
                other => other,
            };
            assert_eq!(encoding, expected);
            d.heading(&format!("regions[{r}].pages[{k}]: PageRecord (13 bytes)"));
            assert_eq!(d.u32_field(at, "index"), page.index);
            d.field(
                at + 4,
                1,
                &format!("encoding = {} ({})", encoding as u8, encoding.name()),
            );
            let data = d.bytes_vec(at + 5, "data", "");
            if encoding == PageEncoding::InStore {
                assert_eq!(data, 0u64.to_le_bytes(), "slot 0");
                in_store.push(page);
            } else {
                assert_eq!(data, page.data);
            }
        }
    }

    let personality = &checkpoint.personality;
    d.heading("personality.cwd: the bytes");
    d.field(cwd, cwd_len, "\"/\"");
    assert_eq!(bytes[cwd..cwd + cwd_len], personality.cwd);
    assert_eq!(mmap_count, 1);
    d.heading("personality.mmap_regions[0]: MmapRecord (16 bytes)");
    assert_eq!(d.u64_field(mmaps, "start"), 0x7ff_f000);
    assert_eq!(d.u64_field(mmaps + 8, "end"), 0x800_0000);
    assert_eq!(description_count, 2);
    for (i, description) in personality.descriptions.iter().enumerate() {
        let at = descriptions + 21 * i;
        d.heading(&format!(
            "personality.descriptions[{i}]: DescriptionRecord (21 bytes)"
        ));
        let kind = DescriptionKind::from_u8(d.u8(at)).unwrap();
        d.field(at, 1, &format!("kind = {} ({kind:?})", d.u8(at)));
        assert_eq!(d.u8(at), description.kind);
        let show = format!(": {:?}", String::from_utf8_lossy(&description.path));
        assert_eq!(d.bytes_vec(at + 1, "path", &show), description.path);
        let flags = d.u32(at + 9);
        d.field(at + 9, 4, &format!("flags = {flags:#o}"));
        assert_eq!(flags, description.flags);
        assert_eq!(d.u64_field(at + 13, "offset"), description.offset);
    }
    assert_eq!(file_count, 2);
    for (i, file) in personality.files.iter().enumerate() {
        let at = files + 9 * i;
        d.heading(&format!("personality.files[{i}]: OpenFileRecord (9 bytes)"));
        let fd = d.i32(at);
        d.field(at, 4, &format!("fd = {fd}"));
        assert_eq!(fd, file.fd);
        assert_eq!(d.u32_field(at + 4, "description"), file.description);
        d.field(at + 8, 1, &format!("cloexec = {}", file.cloexec));
        assert_eq!(d.u8(at + 8), u8::from(file.cloexec));
    }
    assert_eq!(action_count, 1);
    d.heading("personality.signal_actions[0]: SignalActionRecord (20 bytes)");
    assert_eq!(d.u32_field(actions, "signal"), 2);
    assert_eq!(d.u64_field(actions + 4, "handler"), 5);
    assert_eq!(d.u64_field(actions + 12, "flags"), 0);
    assert_eq!(warned_count, 1);
    d.heading("personality.warned_syscalls[0]");
    let number = d.u64(warned);
    d.field(warned, 8, &format!("{number}"));
    assert_eq!(number, 293);
    d.heading("image_hint: the bytes");
    let show = String::from_utf8_lossy(&checkpoint.image_hint).into_owned();
    d.field(hint, hint_len, &format!("{show:?}"));
    assert_eq!(bytes[hint..hint + hint_len], checkpoint.image_hint);
    assert_eq!(in_store.len(), 1);
    d.heading(&format!(
        "Padding: zero bytes from {archive_end:06x} to the page boundary {store:06x}"
    ));
    assert!(bytes[archive_end..store].iter().all(|b| *b == 0));
    d.heading("Page store: slot 0 (regions[1].pages[1])");
    d.field(
        store,
        PAGE_SIZE,
        "the page's 4096 bytes (the first 16 shown)",
    );
    assert_eq!(bytes[store..], in_store[0].data);
    d.out
}

#[test]
fn worked_example_matches_the_spec() {
    let checkpoint = checkpoint();
    let bytes = write(checkpoint.clone()).unwrap();
    // The example is a valid checkpoint and decodes to the pages it describes.
    let file = CheckpointFile::from_bytes(bytes.clone()).unwrap();
    let mut expected = checkpoint.clone();
    expected.store_digest = file.archived().store_digest;
    assert_eq!(file.deserialize().unwrap(), expected);
    let mut out = [0u8; PAGE_SIZE];
    let zstd = file.page_at(0x51f_f000).unwrap();
    PageDecoder::new()
        .materialise(0x51f_f000, zstd, None, &mut out)
        .unwrap();
    assert_eq!(out, shadow_stack_page());
    let dump = dump(&checkpoint, &bytes);
    println!("{dump}");
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../spec.md"))
        .expect("spec.md beside the workspace");
    assert!(
        spec.contains(&dump),
        "spec.md §5.6 does not contain the dump printed above (file of {} bytes)",
        bytes.len()
    );
}
