//! Loading a native program (static ELF64) into guest memory, and naming guest code addresses.

use object::read::elf::{ElfFile64, ProgramHeader};
use object::{Endianness, Object, ObjectSymbol, SymbolKind};
use xisa_format::memory_map::{MemoryMap, PRIVATE};
use xisa_format::target::Target;

use crate::memory::GuestRam;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the {target} program is not a valid ELF64 executable: {reason}")]
    Elf { target: Target, reason: String },
    #[error("the {target} program is for machine {found}, not {target}")]
    Machine { target: Target, found: u16 },
    #[error(
        "segment {index} of the {target} program ({start:#x}..{end:#x}) lies outside the memory map"
    )]
    Segment {
        target: Target,
        index: usize,
        start: u64,
        end: u64,
    },
    #[error("the {target} program has no `{symbol}` symbol (was it built by this xisa-cc?)")]
    Symbol {
        target: Target,
        symbol: &'static str,
    },
}

/// Function symbols of a program, for naming the code at an address.
#[derive(Debug, Clone, Default)]
pub struct Symbolizer {
    /// (start, end, name), sorted by start.
    functions: Vec<(u64, u64, String)>,
}

impl Symbolizer {
    pub fn function_at(&self, address: u64) -> Option<&str> {
        let index = self
            .functions
            .partition_point(|(start, _, _)| *start <= address);
        let (start, end, name) = self.functions.get(index.checked_sub(1)?)?;
        (address >= *start && (address < *end || end == start)).then_some(name.as_str())
    }
}

/// A program in guest memory, ready to enter.
#[derive(Debug)]
pub struct LoadedProgram {
    pub entry: u64,
    pub symbols: Symbolizer,
}

pub fn load(target: Target, elf: &[u8], ram: &mut GuestRam) -> Result<LoadedProgram, LoadError> {
    let bad = |reason: String| LoadError::Elf { target, reason };
    let file = ElfFile64::<Endianness>::parse(elf).map_err(|e| bad(e.to_string()))?;
    let machine = file.elf_header().e_machine.get(file.endian());
    let expected = match target {
        Target::X86_64 => object::elf::EM_X86_64,
        Target::Aarch64 => object::elf::EM_AARCH64,
        Target::Wasm64 => return Err(bad("wasm64 has no native program".into())),
    };
    if machine != expected {
        return Err(LoadError::Machine {
            target,
            found: machine.0,
        });
    }
    let map = *ram.map();
    let endian = file.endian();
    for (index, segment) in file.elf_program_headers().iter().enumerate() {
        if segment.p_type(endian) != object::elf::PT_LOAD {
            continue;
        }
        let start = segment.p_vaddr(endian);
        let memory_size = segment.p_memsz(endian);
        let end = start.saturating_add(memory_size);
        if memory_size == 0 {
            continue;
        }
        if !segment_allowed(&map, start, end) {
            return Err(LoadError::Segment {
                target,
                index,
                start,
                end,
            });
        }
        let data = segment
            .data(endian, elf)
            .map_err(|_| bad(format!("segment {index} data lies outside the file")))?;
        if data.len() as u64 > memory_size {
            return Err(bad(format!(
                "segment {index} has more file bytes than memory"
            )));
        }
        ram.write(start, data).map_err(|_| LoadError::Segment {
            target,
            index,
            start,
            end,
        })?;
        // Memory is fresh (zero), so the segment's zero-filled tail needs no work.
    }
    let mut functions: Vec<(u64, u64, String)> = file
        .symbols()
        .filter(|s| s.kind() == SymbolKind::Text && s.address() != 0)
        .filter_map(|s| {
            Some((
                s.address(),
                s.address() + s.size(),
                s.name().ok()?.to_string(),
            ))
        })
        .collect();
    functions.sort();
    let find = |name: &str| {
        file.symbols()
            .find(|s| s.name() == Ok(name))
            .map(|s| s.address())
    };
    let entry = find("__xisa_unikernel_entry").ok_or(LoadError::Symbol {
        target,
        symbol: "__xisa_unikernel_entry",
    })?;
    Ok(LoadedProgram {
        entry,
        symbols: Symbolizer { functions },
    })
}

/// Loadable segments may only fill the private area or the neutral image regions.
fn segment_allowed(map: &MemoryMap, start: u64, end: u64) -> bool {
    let inside = |range: std::ops::Range<u64>| start >= range.start && end <= range.end;
    let image = map.image;
    inside(PRIVATE.start..xisa_format::memory_map::native::CODE_LIMIT)
        || inside(image.rodata().start..image.end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbolizer_finds_the_enclosing_function() {
        let symbols = Symbolizer {
            functions: vec![(0x100, 0x140, "a".into()), (0x140, 0x200, "b".into())],
        };
        assert_eq!(symbols.function_at(0x100), Some("a"));
        assert_eq!(symbols.function_at(0x13f), Some("a"));
        assert_eq!(symbols.function_at(0x140), Some("b"));
        assert_eq!(symbols.function_at(0x200), None);
        assert_eq!(symbols.function_at(0x50), None);
    }
}
