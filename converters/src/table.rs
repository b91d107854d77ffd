//! Per-target call-site tables: for every instrumented call, where it returns to, how big its
//! function's native frame is and where the frame record lies in it.

use std::collections::HashMap;

use xisa_format::image::ArchivedTargetProgram;
use xisa_format::target::Target;

use crate::ConvertError;
use crate::stackmap::{Location, StackMap};

/// The register a record's location is relative to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordBase {
    StackPointer,
    FramePointer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NativeCallSite {
    pub id: u32,
    /// Address of the instruction after the call.
    pub return_address: u64,
    /// The function's fixed frame size as the stack map reports it.
    pub frame_size: u64,
    pub record_base: RecordBase,
    pub record_offset: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallSiteTable {
    by_id: HashMap<u32, NativeCallSite>,
    by_return: HashMap<u64, u32>,
}

impl CallSiteTable {
    pub fn new(sites: impl IntoIterator<Item = NativeCallSite>) -> Self {
        let mut table = CallSiteTable::default();
        for site in sites {
            table.by_return.insert(site.return_address, site.id);
            table.by_id.insert(site.id, site);
        }
        table
    }

    pub fn by_id(&self, id: u32) -> Option<&NativeCallSite> {
        self.by_id.get(&id)
    }

    pub fn by_return_address(&self, address: u64) -> Option<&NativeCallSite> {
        self.by_return
            .get(&address)
            .and_then(|id| self.by_id.get(id))
    }

    pub fn sites(&self) -> impl Iterator<Item = &NativeCallSite> {
        self.by_id.values()
    }

    /// The table an image carries for one native target.
    pub fn from_program(program: &ArchivedTargetProgram) -> Result<Self, ConvertError> {
        let mut sites = Vec::with_capacity(program.call_sites.len());
        for site in program.call_sites.iter() {
            let record_base = match site.record_base {
                0 => RecordBase::StackPointer,
                1 => RecordBase::FramePointer,
                other => {
                    return Err(ConvertError::StackMap(format!(
                        "call site {} has unknown record base {other}",
                        site.id
                    )));
                }
            };
            sites.push(NativeCallSite {
                id: site.id.to_native(),
                return_address: site.return_address.to_native(),
                frame_size: site.frame_size.to_native(),
                record_base,
                record_offset: site.record_offset.to_native(),
            });
        }
        Ok(CallSiteTable::new(sites))
    }

    /// Builds the table from a linked program's stack map. Each statepoint record's fourth
    /// location is the frame record (the deopt operand); its first three are the statepoint's
    /// constant header.
    pub fn from_stack_map(target: Target, map: &StackMap) -> Result<Self, ConvertError> {
        let (sp, fp) = dwarf_registers(target);
        let mut sites = Vec::new();
        for record in &map.records {
            let id = u32::try_from(record.id).map_err(|_| {
                ConvertError::StackMap(format!("call-site id {} is out of range", record.id))
            })?;
            let location = record.locations.get(3).ok_or_else(|| {
                ConvertError::StackMap(format!("call site {id} has no frame-record location"))
            })?;
            let (record_base, record_offset) = match *location {
                Location::Direct { dwarf, offset } if dwarf == sp => {
                    (RecordBase::StackPointer, i64::from(offset))
                }
                Location::Direct { dwarf, offset } if dwarf == fp => {
                    (RecordBase::FramePointer, i64::from(offset))
                }
                other => {
                    return Err(ConvertError::StackMap(format!(
                        "call site {id}: the frame record is at {other:?}, not in the frame"
                    )));
                }
            };
            if sites.iter().any(|s: &NativeCallSite| s.id == id) {
                return Err(ConvertError::StackMap(format!(
                    "call site {id} appears twice"
                )));
            }
            sites.push(NativeCallSite {
                id,
                return_address: record.function_address + u64::from(record.instruction_offset),
                frame_size: record.function_stack_size,
                record_base,
                record_offset,
            });
        }
        Ok(CallSiteTable::new(sites))
    }
}

/// DWARF numbers of the stack and frame pointers.
pub fn dwarf_registers(target: Target) -> (u16, u16) {
    match target {
        Target::X86_64 => (7, 6),
        Target::Aarch64 => (31, 29),
        Target::Wasm64 => (u16::MAX, u16::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stackmap::parse;
    use crate::stackmap::tests::{sample, x86_64_sample};

    #[test]
    fn table_from_a_stack_map() {
        let map = parse(&x86_64_sample()).unwrap();
        let table = CallSiteTable::from_stack_map(Target::X86_64, &map).unwrap();
        let site = table.by_return_address(0x2_0015).unwrap();
        assert_eq!(
            (
                site.id,
                site.frame_size,
                site.record_base,
                site.record_offset
            ),
            (9, 40, RecordBase::StackPointer, 16)
        );
        let map = parse(&sample(
            0x2_0000,
            48,
            5,
            20,
            Location::Direct {
                dwarf: 29,
                offset: -16,
            },
        ))
        .unwrap();
        let table = CallSiteTable::from_stack_map(Target::Aarch64, &map).unwrap();
        assert_eq!(
            table.by_id(5).unwrap().record_base,
            RecordBase::FramePointer
        );
    }
}
