//! The multi-target image file (`.xisa`): a fixed header, a section table, a manifest and one
//! program per target. Byte-level description in spec.md, "Image file".

use std::ops::Range;
use std::path::{Path, PathBuf};

use rkyv::{Archive, Deserialize, Serialize};

use crate::coded_enum::coded_enum;
use crate::file_bytes::FileBytes;
use crate::file_kind::{FileKind, file_kind};
use crate::memory_map::ImageLayout;
use crate::target::Target;

/// The image starts with a shell line so that an image marked executable runs through
/// `xisa exec` when xisa is on the PATH.
pub const SHEBANG: &[u8; 32] = b"#!/usr/bin/env -S xisa exec    \n";
pub const MAGIC: &[u8; 8] = b"XISAIMG\0";
pub const FORMAT_VERSION: u32 = 2;
pub const HEADER_SIZE: usize = 128;
pub const SECTION_ENTRY_SIZE: usize = 32;
/// Sections start at multiples of this.
pub const SECTION_ALIGN: usize = 16;
/// More sections than this is a corrupt file, not a real image.
pub const MAX_SECTIONS: u32 = 64;

coded_enum! {
    pub enum SectionKind: u32, from_u32 {
        Manifest = 1,
        Program = 2,
        /// The initial bytes of rodata followed by those of data, as every target holds them.
        NeutralData = 3,
    }
}

/// Kind of program a target section holds.
pub const PROGRAM_ELF: u8 = 1;
pub const PROGRAM_WASM: u8 = 2;

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Version of the guest/executor ABI (`abi::ABI_VERSION`) the programs were built for.
    pub abi_version: u32,
    /// What built the image, e.g. `xisa-cc 0.1.0`.
    pub producer: String,
    /// Optimisation level of the shared IR.
    pub opt_level: String,
    pub rodata_size: u64,
    pub data_size: u64,
    pub bss_size: u64,
    /// Every neutral global: same address and size on every target.
    pub symbols: Vec<NeutralSymbol>,
    /// Function index table: index k (from 1) names `functions[k - 1]`.
    pub functions: Vec<String>,
    pub targets: Vec<TargetProgram>,
    /// Instrumented call sites, the same on every target (empty when not migratable).
    pub call_sites: Vec<CallSiteInfo>,
    /// Features whose state in memory is native, so a checkpoint resumes only on the ISA
    /// that captured it. None today: older toolchains listed `setjmp` (their jump buffers
    /// held registers), and such checkpoints are still refused on another ISA.
    pub native_state: Vec<String>,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct CallSiteInfo {
    pub id: u32,
    /// The function the call is in.
    pub function: String,
    /// Size in bytes of that function's frame record.
    pub record_size: u32,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct NeutralSymbol {
    pub name: String,
    /// 0 = rodata, 1 = data, 2 = bss.
    pub region: u8,
    pub address: u64,
    pub size: u64,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TargetProgram {
    /// `Target::id()`.
    pub target: u32,
    /// `PROGRAM_ELF` or `PROGRAM_WASM`.
    pub format: u8,
    /// Entry point: an address for ELF, 0 for wasm (the export `__xisa_start`).
    pub entry: u64,
    /// Native programs: where `__xisa_start` returns to in the runtime's entry stub (the
    /// outermost frame's return address); 0 for wasm.
    pub entry_return: u64,
    /// Native programs: every call site's native frame facts; empty for wasm.
    pub call_sites: Vec<NativeCallSiteRecord>,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct NativeCallSiteRecord {
    pub id: u32,
    /// Address of the instruction after the call.
    pub return_address: u64,
    /// The function's frame size as its stack map reports it.
    pub frame_size: u64,
    /// 0: the record offset is from the stack pointer at the call; 1: from the frame pointer.
    pub record_base: u8,
    pub record_offset: i64,
}

impl Manifest {
    pub fn layout(&self) -> ImageLayout {
        ImageLayout {
            rodata_size: self.rodata_size,
            data_size: self.data_size,
            bss_size: self.bss_size,
        }
    }
}

impl ArchivedManifest {
    /// Address of the neutral symbol `name`, if the program has one.
    pub fn symbol_address(&self, name: &str) -> Option<u64> {
        self.symbols
            .iter()
            .find(|s| s.name.as_str() == name)
            .map(|s| s.address.to_native())
    }

    /// The program record of `target`.
    pub fn program(&self, target: Target) -> Option<&ArchivedTargetProgram> {
        self.targets
            .iter()
            .find(|p| p.target.to_native() == target.id())
    }

    /// Call site `id`.
    pub fn call_site(&self, id: u32) -> Option<&ArchivedCallSiteInfo> {
        // Ids are assigned densely in order from 1, so `id - 1` is usually the index.
        let sites = &self.call_sites;
        match sites.get((id as usize).wrapping_sub(1)) {
            Some(site) if site.id.to_native() == id => Some(site),
            _ => sites.iter().find(|s| s.id.to_native() == id),
        }
    }

    /// Record size of call site `id`.
    pub fn record_size(&self, id: u32) -> Option<u32> {
        self.call_site(id).map(|s| s.record_size.to_native())
    }

    pub fn layout(&self) -> ImageLayout {
        ImageLayout {
            rodata_size: self.rodata_size.to_native(),
            data_size: self.data_size.to_native(),
            bss_size: self.bss_size.to_native(),
        }
    }

    pub fn targets(&self) -> Vec<Target> {
        self.targets
            .iter()
            .filter_map(|t| Target::from_id(t.target.to_native()))
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("not an xisa image: {0}")]
    NotAnImage(String),
    #[error(
        "image format version {found} is not supported (this xisa reads version {FORMAT_VERSION}); rebuild the image with this xisa-cc"
    )]
    Version { found: u32 },
    #[error("truncated image: the header says {expected} bytes but the file has {actual}")]
    Truncated { expected: u64, actual: u64 },
    #[error("corrupt image: {0}")]
    Corrupt(String),
    #[error("the image has no {0} program (it holds: {1})")]
    MissingTarget(Target, String),
}

#[derive(Clone)]
struct SectionEntry {
    kind: u32,
    target: u32,
    offset: u64,
    size: u64,
}

impl SectionEntry {
    /// Where the section lies in the file (checked against the file size when read).
    fn range(&self) -> Range<usize> {
        self.offset as usize..(self.offset + self.size) as usize
    }
}

/// The range of the one section of `kind`; `what` names the kind in the error.
fn only_section(
    sections: &[SectionEntry],
    kind: SectionKind,
    what: &str,
) -> Result<Range<usize>, ImageError> {
    let found: Vec<&SectionEntry> = sections.iter().filter(|s| s.kind == kind as u32).collect();
    let [section] = found.as_slice() else {
        return Err(ImageError::Corrupt(format!(
            "expected one {what} section, found {}",
            found.len()
        )));
    };
    Ok(section.range())
}

/// Serialises an image.
/// `neutral_data` is rodata's initial bytes followed by data's (see [`SectionKind::NeutralData`]).
pub fn write_image(
    manifest: &Manifest,
    neutral_data: &[u8],
    programs: &[(Target, Vec<u8>)],
) -> Vec<u8> {
    let manifest_bytes =
        rkyv::to_bytes::<rkyv::rancor::Error>(manifest).expect("manifest serialises");
    let mut sections: Vec<(u32, u32, &[u8])> = vec![
        (SectionKind::Manifest as u32, 0, &manifest_bytes),
        (SectionKind::NeutralData as u32, 0, neutral_data),
    ];
    for (target, bytes) in programs {
        sections.push((SectionKind::Program as u32, target.id(), bytes));
    }
    let table_end = HEADER_SIZE + sections.len() * SECTION_ENTRY_SIZE;
    let mut out = vec![0u8; table_end];
    let mut entries = Vec::new();
    for (kind, target, bytes) in &sections {
        out.resize(out.len().next_multiple_of(SECTION_ALIGN), 0);
        entries.push(SectionEntry {
            kind: *kind,
            target: *target,
            offset: out.len() as u64,
            size: bytes.len() as u64,
        });
        out.extend_from_slice(bytes);
    }
    let file_size = out.len() as u64;
    for (i, entry) in entries.iter().enumerate() {
        let at = HEADER_SIZE + i * SECTION_ENTRY_SIZE;
        out[at..at + 4].copy_from_slice(&entry.kind.to_le_bytes());
        out[at + 4..at + 8].copy_from_slice(&entry.target.to_le_bytes());
        out[at + 8..at + 16].copy_from_slice(&entry.offset.to_le_bytes());
        out[at + 16..at + 24].copy_from_slice(&entry.size.to_le_bytes());
    }
    out[..32].copy_from_slice(SHEBANG);
    out[32..40].copy_from_slice(MAGIC);
    out[40..44].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[44..48].copy_from_slice(&(sections.len() as u32).to_le_bytes());
    out[48..56].copy_from_slice(&file_size.to_le_bytes());
    let digest = blake3::hash(&out[HEADER_SIZE..]);
    out[56..88].copy_from_slice(digest.as_bytes());
    out
}

/// A validated image. Every accessor works on bytes that `open`/`from_bytes` checked. A clone
/// shares the bytes.
#[derive(Clone)]
pub struct Image {
    bytes: FileBytes,
    /// The absolute path the image was opened from, if it came from a file.
    path: Option<PathBuf>,
    sections: Vec<SectionEntry>,
    manifest_range: Range<usize>,
    neutral_range: Range<usize>,
}

impl Image {
    pub fn open(path: &Path) -> Result<Image, ImageError> {
        let bytes = FileBytes::map(path).map_err(|source| ImageError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mut image = Image::parse(bytes)?;
        image.path = std::fs::canonicalize(path)
            .or_else(|_| std::path::absolute(path))
            .ok();
        Ok(image)
    }

    /// The absolute path the image was opened from (`None` for an image built from bytes).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<Image, ImageError> {
        Image::parse(FileBytes::Owned(std::sync::Arc::new(bytes)))
    }

    fn parse(bytes: FileBytes) -> Result<Image, ImageError> {
        if bytes.len() < 40 || &bytes[32..40] != MAGIC {
            return Err(ImageError::NotAnImage(describe_foreign(&bytes)));
        }
        if bytes.len() < HEADER_SIZE {
            return Err(ImageError::Truncated {
                expected: HEADER_SIZE as u64,
                actual: bytes.len() as u64,
            });
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let version = u32_at(40);
        if version != FORMAT_VERSION {
            return Err(ImageError::Version { found: version });
        }
        let count = u32_at(44);
        let file_size = u64_at(48);
        if file_size != bytes.len() as u64 {
            if file_size > bytes.len() as u64 {
                return Err(ImageError::Truncated {
                    expected: file_size,
                    actual: bytes.len() as u64,
                });
            }
            return Err(ImageError::Corrupt(format!(
                "the header says {file_size} bytes but the file has {} (trailing data)",
                bytes.len()
            )));
        }
        if count == 0 || count > MAX_SECTIONS {
            return Err(ImageError::Corrupt(format!(
                "implausible section count {count}"
            )));
        }
        let table_end = HEADER_SIZE + count as usize * SECTION_ENTRY_SIZE;
        if table_end > bytes.len() {
            return Err(ImageError::Corrupt(
                "the section table runs past the end of the file".into(),
            ));
        }
        if blake3::hash(&bytes[HEADER_SIZE..]).as_bytes() != &bytes[56..88] {
            return Err(ImageError::Corrupt(
                "checksum mismatch: the file was modified or damaged".into(),
            ));
        }
        let mut sections = Vec::new();
        for i in 0..count as usize {
            let at = HEADER_SIZE + i * SECTION_ENTRY_SIZE;
            let entry = SectionEntry {
                kind: u32_at(at),
                target: u32_at(at + 4),
                offset: u64_at(at + 8),
                size: u64_at(at + 16),
            };
            let end = entry.offset.checked_add(entry.size);
            if entry.offset < table_end as u64 || end.is_none_or(|end| end > file_size) {
                return Err(ImageError::Corrupt(format!(
                    "section {i} lies outside the file"
                )));
            }
            if SectionKind::from_u32(entry.kind).is_none() {
                return Err(ImageError::Corrupt(format!(
                    "section {i} has unknown kind {}",
                    entry.kind
                )));
            }
            if entry.kind == SectionKind::Program as u32 && Target::from_id(entry.target).is_none()
            {
                return Err(ImageError::Corrupt(format!(
                    "section {i} names unknown target {}",
                    entry.target
                )));
            }
            sections.push(entry);
        }
        let manifest_range = only_section(&sections, SectionKind::Manifest, "manifest")?;
        rkyv::access::<ArchivedManifest, rkyv::rancor::Error>(&bytes[manifest_range.clone()])
            .map_err(|_| {
                ImageError::Corrupt(
                    "the manifest is not a valid archive (damaged, or written by another xisa-cc)"
                        .into(),
                )
            })?;
        let neutral_range = only_section(&sections, SectionKind::NeutralData, "neutral-data")?;
        let image = Image {
            bytes,
            path: None,
            sections,
            manifest_range,
            neutral_range,
        };
        image.check_manifest()?;
        Ok(image)
    }

    fn check_manifest(&self) -> Result<(), ImageError> {
        let manifest = self.manifest();
        let layout = manifest.layout();
        if layout.end() > crate::memory_map::IMAGE_LIMIT {
            return Err(ImageError::Corrupt(
                "the neutral image regions exceed the memory map".into(),
            ));
        }
        let neutral = self.neutral_range.len() as u64;
        if neutral != layout.rodata_size + layout.data_size {
            return Err(ImageError::Corrupt(format!(
                "the neutral-data section is {neutral} bytes but rodata and data are {} and {}",
                layout.rodata_size, layout.data_size
            )));
        }
        for symbol in manifest.symbols.iter() {
            let region = match symbol.region {
                0 => layout.rodata(),
                1 => layout.data(),
                2 => layout.bss(),
                other => {
                    return Err(ImageError::Corrupt(format!(
                        "symbol `{}` has unknown region {other}",
                        symbol.name
                    )));
                }
            };
            let start = symbol.address.to_native();
            let end = start.checked_add(symbol.size.to_native());
            if start < region.start || end.is_none_or(|end| end > region.end) {
                return Err(ImageError::Corrupt(format!(
                    "symbol `{}` lies outside its region",
                    symbol.name
                )));
            }
        }
        for program in manifest.targets.iter() {
            let Some(target) = Target::from_id(program.target.to_native()) else {
                return Err(ImageError::Corrupt(format!(
                    "manifest names unknown target {}",
                    program.target
                )));
            };
            if self.program(target).is_err() {
                return Err(ImageError::Corrupt(format!(
                    "manifest lists {target} but the image has no {target} program"
                )));
            }
        }
        Ok(())
    }

    pub fn manifest(&self) -> &ArchivedManifest {
        // SAFETY: `parse` validated exactly these bytes as an ArchivedManifest.
        unsafe {
            rkyv::access_unchecked::<ArchivedManifest>(&self.bytes[self.manifest_range.clone()])
        }
    }

    pub fn deserialize_manifest(&self) -> Manifest {
        rkyv::deserialize::<Manifest, rkyv::rancor::Error>(self.manifest())
            .expect("validated manifest deserialises")
    }

    /// The program section of `target`.
    pub fn program(&self, target: Target) -> Result<&[u8], ImageError> {
        self.sections
            .iter()
            .find(|s| s.kind == SectionKind::Program as u32 && s.target == target.id())
            .map(|s| &self.bytes[s.range()])
            .ok_or_else(|| {
                let have: Vec<String> = self.targets().iter().map(|t| t.to_string()).collect();
                ImageError::MissingTarget(target, have.join(", "))
            })
    }

    /// Initial bytes of rodata followed by those of data.
    pub fn neutral_data(&self) -> &[u8] {
        &self.bytes[self.neutral_range.clone()]
    }

    /// The image's initial bytes of the guest page at `address` (page-aligned), at most a
    /// page and shorter where the region ends; `None` outside rodata and data.
    pub fn initial_page(&self, address: u64) -> Option<&[u8]> {
        let layout = self.manifest().layout();
        let page = crate::memory_map::GUEST_PAGE_SIZE;
        let (region, base) = if layout.rodata().contains(&address) {
            (layout.rodata(), 0)
        } else if layout.data().contains(&address) {
            (layout.data(), layout.rodata_size)
        } else {
            return None;
        };
        let offset = base + (address - region.start);
        let length = page.min(region.end - address);
        self.neutral_data()
            .get(offset as usize..(offset + length) as usize)
    }

    /// Does `page` (the guest page at `address`) hold what a fresh run of the image holds
    /// there: the image's initial bytes in rodata and data, zero everywhere else?
    pub fn holds_initial(&self, address: u64, page: &[u8]) -> bool {
        let initial = self.initial_page(address).unwrap_or(&[]);
        page.get(..initial.len()) == Some(initial) && page[initial.len()..].iter().all(|b| *b == 0)
    }

    /// Writes what a fresh run of the image holds in the guest page at `address` into `out`.
    pub fn fresh_page(&self, address: u64, out: &mut [u8]) {
        let initial = self.initial_page(address).unwrap_or(&[]);
        let (head, tail) = out.split_at_mut(initial.len().min(out.len()));
        head.copy_from_slice(&initial[..head.len()]);
        tail.fill(0);
    }

    pub fn targets(&self) -> Vec<Target> {
        self.sections
            .iter()
            .filter(|s| s.kind == SectionKind::Program as u32)
            .filter_map(|s| Target::from_id(s.target))
            .collect()
    }

    /// Identity of the image: the digest over everything after the header.
    pub fn id(&self) -> [u8; 32] {
        self.bytes[56..88].try_into().expect("32 bytes")
    }

    pub fn file_size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Sizes of every section: (kind name, target, bytes).
    pub fn section_sizes(&self) -> Vec<(&'static str, Option<Target>, u64)> {
        self.sections
            .iter()
            .map(|s| match SectionKind::from_u32(s.kind) {
                Some(SectionKind::Manifest) => ("manifest", None, s.size),
                Some(SectionKind::NeutralData) => ("neutral data", None, s.size),
                _ => ("program", Target::from_id(s.target), s.size),
            })
            .collect()
    }
}

/// Says what a file that is not an image looks like, to make the error useful.
fn describe_foreign(bytes: &[u8]) -> String {
    match file_kind(bytes) {
        FileKind::Empty => "the file is empty".into(),
        FileKind::Elf => "it is an ELF file (a native program or object, not an xisa image)".into(),
        FileKind::Wasm => "it is a bare WebAssembly module, not an xisa image".into(),
        FileKind::Bitcode => {
            "it is an LLVM bitcode object; link it with xisa-cc to make an image".into()
        }
        FileKind::Script if bytes.len() < 40 => format!(
            "the file is truncated ({} bytes; an image header is {HEADER_SIZE})",
            bytes.len()
        ),
        FileKind::Script => "it starts like a script, not an xisa image".into(),
        FileKind::Checkpoint => "it is an xisa checkpoint, not an image".into(),
        FileKind::Image | FileKind::Unknown => {
            "the file does not start with the xisa image header".into()
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The program every test image holds.
    pub(crate) const WASM: &[u8] = b"\0asm\x01\0\0\0";

    /// A manifest of `layout` with one wasm64 program and nothing else.
    pub(crate) fn wasm_manifest(layout: ImageLayout) -> Manifest {
        Manifest {
            abi_version: 1,
            producer: "test".into(),
            opt_level: "O2".into(),
            rodata_size: layout.rodata_size,
            data_size: layout.data_size,
            bss_size: layout.bss_size,
            symbols: vec![],
            functions: vec![],
            targets: vec![TargetProgram {
                target: Target::Wasm64.id(),
                format: PROGRAM_WASM,
                entry: 0,
                entry_return: 0,
                call_sites: vec![],
            }],
            call_sites: vec![],
            native_state: vec![],
        }
    }

    /// The image of `manifest` with `neutral_data` and the [`WASM`] program.
    pub(crate) fn wasm_image(manifest: &Manifest, neutral_data: &[u8]) -> Vec<u8> {
        write_image(manifest, neutral_data, &[(Target::Wasm64, WASM.to_vec())])
    }

    fn sample() -> Vec<u8> {
        let manifest = Manifest {
            symbols: vec![NeutralSymbol {
                name: "x".into(),
                region: 1,
                address: 0x601_0000,
                size: 8,
            }],
            functions: vec!["main".into()],
            ..wasm_manifest(ImageLayout {
                rodata_size: 16,
                data_size: 8,
                bss_size: 0,
            })
        };
        wasm_image(&manifest, &[7; 24])
    }

    #[test]
    fn fresh_pages_are_the_initial_bytes_then_zero() {
        let image = Image::from_bytes(sample()).expect("valid image");
        let mut page = [1u8; 4096];
        image.fresh_page(0x600_0000, &mut page);
        assert_eq!(page[..16], [7u8; 16]);
        assert!(page[16..].iter().all(|b| *b == 0));
        assert!(image.holds_initial(0x600_0000, &page));
        page[100] = 1;
        assert!(!image.holds_initial(0x600_0000, &page));
        image.fresh_page(0x601_1000, &mut page);
        assert!(page.iter().all(|b| *b == 0) && image.holds_initial(0x601_1000, &page));
    }

    #[test]
    fn round_trip() {
        let image = Image::from_bytes(sample()).expect("valid image");
        assert_eq!(image.targets(), vec![Target::Wasm64]);
        assert_eq!(image.program(Target::Wasm64).unwrap(), WASM);
        assert_eq!(image.manifest().functions[0].as_str(), "main");
        assert_eq!(image.deserialize_manifest().symbols[0].address, 0x601_0000);
        assert_eq!(image.initial_page(0x600_0000), Some(&[7u8; 16][..]));
        assert_eq!(image.initial_page(0x601_0000), Some(&[7u8; 8][..]));
        assert_eq!(image.initial_page(0x601_1000), None);
        assert!(matches!(
            image.program(Target::Aarch64),
            Err(ImageError::MissingTarget(..))
        ));
    }

    #[test]
    fn truncated_and_flipped_images_are_refused() {
        let bytes = sample();
        for cut in [0, 10, 39, 100, bytes.len() - 1] {
            let err = Image::from_bytes(bytes[..cut].to_vec())
                .err()
                .expect("truncated image refused");
            let text = err.to_string();
            assert!(
                text.contains("truncated") || text.contains("not an xisa image"),
                "{cut}: {text}"
            );
        }
        for at in [45, 60, 130, bytes.len() - 3] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x40;
            assert!(Image::from_bytes(flipped).is_err(), "flip at {at} accepted");
        }
    }

    /// Locks the manifest encoding that spec.md §3.4 describes.
    #[test]
    fn manifest_encoding_matches_the_spec() {
        let manifest = Manifest {
            producer: "xisa".into(),
            opt_level: "a string longer than eight".into(),
            symbols: vec![NeutralSymbol {
                name: "n".into(),
                region: 2,
                address: 0x602_0000,
                size: 8,
            }],
            call_sites: vec![CallSiteInfo {
                id: 7,
                function: "f".into(),
                record_size: 24,
            }],
            native_state: vec!["setjmp".into()],
            ..wasm_manifest(ImageLayout {
                rodata_size: 0x11,
                data_size: 0x22,
                bss_size: 0x33,
            })
        };
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&manifest).unwrap();
        let root = bytes.len() - 84;
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let i32_at = |at: usize| i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        assert_eq!(u32_at(root), 1);
        assert_eq!(&bytes[root + 4..root + 12], b"xisa\xff\xff\xff\xff");
        let long = "a string longer than eight".len() as u32;
        assert_eq!(
            u32_at(root + 12),
            (long & 0x3f) | 0x80 | ((long & !0x3f) << 2)
        );
        let text_at = (root as i64 + 12 + i64::from(i32_at(root + 16))) as usize;
        assert_eq!(
            &bytes[text_at..text_at + long as usize],
            b"a string longer than eight"
        );
        assert_eq!(
            (u64_at(root + 20), u64_at(root + 28), u64_at(root + 36)),
            (0x11, 0x22, 0x33)
        );
        let symbols_at = (root as i64 + 44 + i64::from(i32_at(root + 44))) as usize;
        assert_eq!(u32_at(root + 48), 1);
        assert_eq!(&bytes[symbols_at..symbols_at + 2], b"n\xff");
        assert_eq!(bytes[symbols_at + 8], 2);
        assert_eq!(u64_at(symbols_at + 9), 0x602_0000);
        assert_eq!(u32_at(root + 56), 0, "no functions");
        let targets_at = (root as i64 + 60 + i64::from(i32_at(root + 60))) as usize;
        assert_eq!(
            (u32_at(targets_at), bytes[targets_at + 4]),
            (3, PROGRAM_WASM)
        );
        let sites_at = (root as i64 + 68 + i64::from(i32_at(root + 68))) as usize;
        assert_eq!(u32_at(root + 72), 1);
        assert_eq!(
            (
                u32_at(sites_at),
                &bytes[sites_at + 4..sites_at + 6],
                u32_at(sites_at + 12)
            ),
            (7, &b"f\xff"[..], 24)
        );
        let state_at = (root as i64 + 76 + i64::from(i32_at(root + 76))) as usize;
        assert_eq!(u32_at(root + 80), 1);
        assert_eq!(&bytes[state_at..state_at + 8], b"setjmp\xff\xff");
    }

    #[test]
    fn foreign_files_are_named() {
        let err = Image::from_bytes(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec());
        assert!(err.err().unwrap().to_string().contains("ELF"));
        let mut newer = sample();
        newer[40] = 9;
        assert!(matches!(
            Image::from_bytes(newer),
            Err(ImageError::Version { found: 9 })
        ));
    }
}
