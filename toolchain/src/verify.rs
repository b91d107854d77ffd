//! `xisa verify`: proves from an image alone that memory is aligned across targets. For every
//! neutral symbol, each target's program places it at the same address with the same size
//! and the same initial bytes, and no initial neutral byte holds a code address (native
//! programs keep their relocations, so every pointer-sized datum is accounted for; the wasm
//! program has no element segments, so no linker-assigned function index exists at all).

use std::collections::BTreeMap;
use std::fmt;

use object::read::elf::ElfFile64;
use object::{Endianness, Object, ObjectSection, ObjectSymbol, RelocationTarget, SectionKind};

use xisa_format::image::{ArchivedManifest, Image, Manifest};
use xisa_format::memory_map::{IMAGE_BASE, PRIVATE};
use xisa_format::target::Target;

use crate::codegen::wasm_function_export;
use crate::ir::regions::Region;

/// One verification failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub target: Option<Target>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.target {
            Some(target) => write!(f, "{target}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

#[derive(Debug)]
pub struct VerifyError(pub Vec<Problem>);

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(|p| p.to_string()).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for VerifyError {}

/// What one target's program says about neutral memory.
struct NeutralView {
    /// Initial bytes of rodata and data, and the size of bss.
    regions: BTreeMap<Region, (u64, Vec<u8>)>,
}

/// Summary of a successful verification.
#[derive(Debug, Default)]
pub struct VerifyReport {
    pub targets: Vec<Target>,
    pub symbols: usize,
    pub checked_relocations: usize,
}

pub fn verify(image: &Image) -> Result<VerifyReport, VerifyError> {
    let manifest = image.manifest();
    let layout = manifest.layout();
    let expected = [
        (Region::Rodata, layout.rodata().start, layout.rodata_size),
        (Region::Data, layout.data().start, layout.data_size),
        (Region::Bss, layout.bss().start, layout.bss_size),
    ];
    let mut problems = Vec::new();
    let mut views: Vec<(Target, NeutralView)> = Vec::new();
    let mut report = VerifyReport {
        symbols: manifest.symbols.len(),
        ..Default::default()
    };
    for target in image.targets() {
        let program = match image.program(target) {
            Ok(program) => program,
            Err(e) => {
                problems.push(Problem {
                    target: Some(target),
                    message: e.to_string(),
                });
                continue;
            }
        };
        let view = match target {
            Target::Wasm64 => wasm_view(program, manifest),
            _ => elf_view(program, &mut report.checked_relocations),
        };
        match view {
            Ok(view) => {
                for (region, address, size) in expected {
                    let (actual_address, bytes) = view
                        .regions
                        .get(&region)
                        .cloned()
                        .unwrap_or((address, Vec::new()));
                    let actual_size = bytes.len() as u64;
                    if size > 0 && actual_address != address {
                        problems.push(Problem {
                            target: Some(target),
                            message: format!(
                                "{} region is at {actual_address:#x}, the memory map says {address:#x}",
                                region.section()
                            ),
                        });
                    }
                    if actual_size != size {
                        problems.push(Problem {
                            target: Some(target),
                            message: format!(
                                "{} region is {actual_size} bytes, the manifest says {size}",
                                region.section()
                            ),
                        });
                    }
                }
                views.push((target, view));
            }
            Err(mut found) => {
                for p in &mut found {
                    p.target = Some(target);
                }
                problems.extend(found);
            }
        }
        report.targets.push(target);
    }
    // Every native program must know every call site, and nothing else.
    let ids: std::collections::BTreeSet<u32> = manifest
        .call_sites
        .iter()
        .map(|c| c.id.to_native())
        .collect();
    for program in manifest.targets.iter() {
        let Some(target) = Target::from_id(program.target.to_native()) else {
            continue;
        };
        if !target.is_native() {
            continue;
        }
        let native: std::collections::BTreeSet<u32> = program
            .call_sites
            .iter()
            .map(|c| c.id.to_native())
            .collect();
        if native != ids {
            let missing: Vec<u32> = ids.difference(&native).copied().take(5).collect();
            let extra: Vec<u32> = native.difference(&ids).copied().take(5).collect();
            problems.push(Problem {
                target: Some(target),
                message: format!(
                    "call-site table does not match the program's call sites (missing {missing:?}, unknown {extra:?})"
                ),
            });
        }
    }
    // Symbol by symbol: every target must hold the image's neutral initial bytes.
    let neutral = image.neutral_data();
    for symbol in manifest.symbols.iter() {
        let (region, base, offset) = match symbol.region {
            0 => (Region::Rodata, layout.rodata().start, 0),
            1 => (Region::Data, layout.data().start, layout.rodata_size),
            _ => continue,
        };
        let start = (symbol.address.to_native() - base) as usize;
        let end = start + symbol.size.to_native() as usize;
        let reference = neutral.get(offset as usize + start..offset as usize + end);
        for (target, view) in &views {
            let bytes = view
                .regions
                .get(&region)
                .and_then(|(_, b)| b.get(start..end));
            if bytes != reference {
                problems.push(Problem {
                    target: Some(*target),
                    message: format!(
                        "neutral symbol `{}` at {:#x} ({} bytes) has other initial bytes than the image's neutral data",
                        symbol.name,
                        symbol.address.to_native(),
                        symbol.size.to_native()
                    ),
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(report)
    } else {
        Err(VerifyError(problems))
    }
}

/// The neutral-data section for a new image: rodata's initial bytes then data's, as
/// `target`'s program holds them (`verify` then checks every target against it).
pub fn neutral_data(
    manifest: &Manifest,
    target: Target,
    program: &[u8],
) -> Result<Vec<u8>, VerifyError> {
    let archived = rkyv::to_bytes::<rkyv::rancor::Error>(manifest)
        .map_err(|e| VerifyError(vec![problem(format!("manifest: {e}"))]))?;
    let archived = rkyv::access::<ArchivedManifest, rkyv::rancor::Error>(&archived)
        .map_err(|e| VerifyError(vec![problem(format!("manifest: {e}"))]))?;
    let view = match target {
        Target::Wasm64 => wasm_view(program, archived),
        _ => elf_view(program, &mut 0),
    }
    .map_err(VerifyError)?;
    let layout = manifest.layout();
    let mut out = Vec::with_capacity((layout.rodata_size + layout.data_size) as usize);
    for (region, size) in [
        (Region::Rodata, layout.rodata_size),
        (Region::Data, layout.data_size),
    ] {
        let mut bytes = view
            .regions
            .get(&region)
            .map(|(_, b)| b.clone())
            .unwrap_or_default();
        bytes.resize(size as usize, 0);
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

fn problem(message: String) -> Problem {
    Problem {
        target: None,
        message,
    }
}

fn region_of_section(name: &str) -> Option<Region> {
    Region::ALL.into_iter().find(|r| r.section() == name)
}

fn elf_view(bytes: &[u8], relocations: &mut usize) -> Result<NeutralView, Vec<Problem>> {
    let file = ElfFile64::<Endianness>::parse(bytes)
        .map_err(|e| vec![problem(format!("not a valid ELF program: {e}"))])?;
    let mut problems = Vec::new();
    let mut regions = BTreeMap::new();
    let code_sections: std::collections::HashSet<usize> = file
        .sections()
        .filter(|s| s.kind() == SectionKind::Text)
        .map(|s| s.index().0)
        .collect();
    for section in file.sections() {
        let name = section.name().unwrap_or_default();
        let (start, size) = (section.address(), section.size());
        if let Some(region) = region_of_section(name) {
            let data = if region == Region::Bss {
                vec![0; size as usize]
            } else {
                section.data().map(<[u8]>::to_vec).unwrap_or_default()
            };
            regions.insert(region, (start, data));
            // Every relocation applied inside neutral data must point at data, never code.
            for (offset, relocation) in section.relocations() {
                *relocations += 1;
                let target_is_code = match relocation.target() {
                    RelocationTarget::Symbol(index) => {
                        file.symbol_by_index(index).ok().is_some_and(|symbol| {
                            symbol.kind() == object::SymbolKind::Text
                                || symbol
                                    .section_index()
                                    .is_some_and(|i| code_sections.contains(&i.0))
                        })
                    }
                    RelocationTarget::Section(index) => code_sections.contains(&index.0),
                    _ => false,
                };
                if target_is_code {
                    problems.push(problem(format!(
                        "neutral byte at {:#x} in {name} holds a code address",
                        start + offset
                    )));
                }
            }
        } else if section.kind() != SectionKind::Metadata
            && section.kind() != SectionKind::Debug
            && section.kind() != SectionKind::Other
            && section.kind() != SectionKind::Unknown
            && start != 0
            && (start < PRIVATE.start || start + size > PRIVATE.end)
        {
            problems.push(problem(format!(
                "private section {name} at {start:#x}..{:#x} lies outside the private area",
                start + size
            )));
        }
    }
    if problems.is_empty() {
        Ok(NeutralView { regions })
    } else {
        Err(problems)
    }
}

fn wasm_view(bytes: &[u8], manifest: &ArchivedManifest) -> Result<NeutralView, Vec<Problem>> {
    use wasmparser::{DataKind, Operator, Parser, Payload};
    let mut problems = Vec::new();
    let mut segments: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut exports = std::collections::HashSet::new();
    let fail =
        |e: wasmparser::BinaryReaderError| vec![problem(format!("not a valid wasm module: {e}"))];
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(fail)? {
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data.map_err(fail)?;
                    let DataKind::Active { offset_expr, .. } = data.kind else {
                        problems.push(problem("passive data segment in the wasm program".into()));
                        continue;
                    };
                    let mut ops = offset_expr.get_operators_reader();
                    let offset = match ops.read().map_err(fail)? {
                        Operator::I64Const { value } => value as u64,
                        Operator::I32Const { value } => value as u32 as u64,
                        _ => {
                            problems.push(problem("data segment with a computed offset".into()));
                            continue;
                        }
                    };
                    segments.push((offset, data.data.to_vec()));
                }
            }
            Payload::ElementSection(reader) if reader.count() > 0 => {
                problems.push(problem(
                    "the wasm program has element segments: a function address escaped neutralisation".into(),
                ));
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    exports.insert(export.map_err(fail)?.name.to_string());
                }
            }
            _ => {}
        }
    }
    for k in 1..=manifest.functions.len() {
        if !exports.contains(&wasm_function_export(k)) {
            problems.push(problem(format!(
                "function index {k} (`{}`) is not exported",
                manifest.functions[k - 1]
            )));
        }
    }
    if !exports.contains("__xisa_start") {
        problems.push(problem(
            "the entry point __xisa_start is not exported".into(),
        ));
    }
    let layout = manifest.layout();
    let mut regions = BTreeMap::new();
    for (region, range) in [
        (Region::Rodata, layout.rodata()),
        (Region::Data, layout.data()),
    ] {
        let mut bytes = Vec::new();
        for (offset, data) in &segments {
            if *offset >= range.start && *offset < range.end.max(range.start + 1) {
                let at = (offset - range.start) as usize;
                if bytes.len() < at + data.len() {
                    bytes.resize(at + data.len(), 0);
                }
                bytes[at..at + data.len()].copy_from_slice(data);
            }
        }
        if !bytes.is_empty() {
            regions.insert(region, (range.start, bytes));
        }
    }
    // wasm-ld leaves zero-initialised memory out of the module; bss is whatever the map says.
    regions.insert(
        Region::Bss,
        (layout.bss().start, vec![0; layout.bss_size as usize]),
    );
    for (offset, data) in &segments {
        let end = offset + data.len() as u64;
        let inside = [layout.rodata(), layout.data()]
            .iter()
            .any(|r| *offset >= r.start && end <= r.end.max(r.start));
        if !inside || *offset < IMAGE_BASE {
            problems.push(problem(format!(
                "data segment at {offset:#x}..{end:#x} lies outside the neutral regions"
            )));
        }
    }
    if problems.is_empty() {
        Ok(NeutralView { regions })
    } else {
        Err(problems)
    }
}
