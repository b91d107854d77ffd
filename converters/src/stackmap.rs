//! Parsing LLVM's `.llvm_stackmaps` section (version 3), as emitted for `gc.statepoint`.

use crate::ConvertError;

/// Where a value lives at a call site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    Register {
        dwarf: u16,
        size: u16,
    },
    /// The value is the address `register + offset` (an alloca in the frame).
    Direct {
        dwarf: u16,
        offset: i32,
    },
    /// The value is in memory at `register + offset`.
    Indirect {
        dwarf: u16,
        offset: i32,
        size: u16,
    },
    Constant(i32),
    ConstantIndex(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionEntry {
    pub address: u64,
    pub stack_size: u64,
    pub record_count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub id: u64,
    /// Address of the function the record belongs to.
    pub function_address: u64,
    pub function_stack_size: u64,
    /// Offset of the instruction after the call from the function's start.
    pub instruction_offset: u32,
    pub locations: Vec<Location>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StackMap {
    pub functions: Vec<FunctionEntry>,
    pub constants: Vec<u64>,
    pub records: Vec<Record>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ConvertError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| {
                ConvertError::StackMap(format!(
                    "section ends at byte {} while reading {n} bytes at {}",
                    self.bytes.len(),
                    self.at
                ))
            })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, ConvertError> {
        Ok(self.take(1)?[0])
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], ConvertError> {
        Ok(self.take(N)?.try_into().expect("take returns N bytes"))
    }
    fn u16(&mut self) -> Result<u16, ConvertError> {
        self.array().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Result<u32, ConvertError> {
        self.array().map(u32::from_le_bytes)
    }
    fn i32(&mut self) -> Result<i32, ConvertError> {
        self.array().map(i32::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, ConvertError> {
        self.array().map(u64::from_le_bytes)
    }
    fn align8(&mut self) -> Result<(), ConvertError> {
        let pad = self.at.next_multiple_of(8) - self.at;
        self.take(pad).map(|_| ())
    }
}

/// Parses a little-endian version 3 stack map section.
pub fn parse(bytes: &[u8]) -> Result<StackMap, ConvertError> {
    let mut r = Reader { bytes, at: 0 };
    let version = r.u8()?;
    if version != 3 {
        return Err(ConvertError::StackMap(format!(
            "version {version}, expected 3"
        )));
    }
    r.take(3)?;
    let function_count = r.u32()? as usize;
    let constant_count = r.u32()? as usize;
    let record_count = r.u32()? as usize;
    let plausible = |n: usize| n <= bytes.len() / 8;
    if !plausible(function_count) || !plausible(constant_count) || !plausible(record_count) {
        return Err(ConvertError::StackMap("implausible entry counts".into()));
    }
    let mut map = StackMap::default();
    for _ in 0..function_count {
        map.functions.push(FunctionEntry {
            address: r.u64()?,
            stack_size: r.u64()?,
            record_count: r.u64()?,
        });
    }
    for _ in 0..constant_count {
        map.constants.push(r.u64()?);
    }
    let mut owners = map
        .functions
        .iter()
        .flat_map(|f| std::iter::repeat_n(f, f.record_count as usize));
    for index in 0..record_count {
        let owner = owners.next().ok_or_else(|| {
            ConvertError::StackMap(format!("record {index} belongs to no function"))
        })?;
        let id = r.u64()?;
        let instruction_offset = r.u32()?;
        r.u16()?;
        let location_count = r.u16()? as usize;
        let mut locations = Vec::with_capacity(location_count);
        for _ in 0..location_count {
            let kind = r.u8()?;
            r.u8()?;
            let size = r.u16()?;
            let dwarf = r.u16()?;
            r.u16()?;
            let value = r.i32()?;
            locations.push(match kind {
                1 => Location::Register { dwarf, size },
                2 => Location::Direct {
                    dwarf,
                    offset: value,
                },
                3 => Location::Indirect {
                    dwarf,
                    offset: value,
                    size,
                },
                4 => Location::Constant(value),
                5 => Location::ConstantIndex(value as u32),
                other => {
                    return Err(ConvertError::StackMap(format!(
                        "record {id}: unknown location kind {other}"
                    )));
                }
            });
        }
        r.align8()?;
        r.u16()?;
        let live_outs = r.u16()? as usize;
        r.take(live_outs * 4)?;
        r.align8()?;
        map.records.push(Record {
            id,
            function_address: owner.address,
            function_stack_size: owner.stack_size,
            instruction_offset,
            locations,
        });
    }
    Ok(map)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A stack map with one function and one statepoint record, built by hand.
    pub fn sample(
        function: u64,
        stack_size: u64,
        id: u64,
        offset: u32,
        record: Location,
    ) -> Vec<u8> {
        let mut out = vec![3, 0, 0, 0];
        out.extend(1u32.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        out.extend(function.to_le_bytes());
        out.extend(stack_size.to_le_bytes());
        out.extend(1u64.to_le_bytes());
        out.extend(id.to_le_bytes());
        out.extend(offset.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(4u16.to_le_bytes());
        let mut location = |kind: u8, size: u16, dwarf: u16, value: i32| {
            out.extend([kind, 0]);
            out.extend(size.to_le_bytes());
            out.extend(dwarf.to_le_bytes());
            out.extend(0u16.to_le_bytes());
            out.extend(value.to_le_bytes());
        };
        location(4, 8, 0, 21);
        location(4, 8, 0, 0);
        location(4, 8, 0, 1);
        match record {
            Location::Direct { dwarf, offset } => location(2, 8, dwarf, offset),
            _ => unreachable!("samples hold a direct record location"),
        }
        while out.len() % 8 != 0 {
            out.push(0);
        }
        out.extend(0u16.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        while out.len() % 8 != 0 {
            out.push(0);
        }
        out
    }

    /// Call site 9 at offset 21 of a function at 0x2_0000 with a 40-byte frame, its record
    /// 16 bytes above the x86-64 stack pointer.
    pub fn x86_64_sample() -> Vec<u8> {
        sample(
            0x2_0000,
            40,
            9,
            21,
            Location::Direct {
                dwarf: 7,
                offset: 16,
            },
        )
    }

    #[test]
    fn parses_a_statepoint_record() {
        let bytes = x86_64_sample();
        let map = parse(&bytes).unwrap();
        assert_eq!(map.records.len(), 1);
        let record = &map.records[0];
        assert_eq!(
            (
                record.id,
                record.function_address,
                record.function_stack_size,
                record.instruction_offset
            ),
            (9, 0x2_0000, 40, 21)
        );
        assert_eq!(
            record.locations[3],
            Location::Direct {
                dwarf: 7,
                offset: 16
            }
        );
    }

    #[test]
    fn truncated_and_foreign_sections_are_refused() {
        let bytes = x86_64_sample();
        for cut in 0..bytes.len() {
            assert!(parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut wrong = bytes.clone();
        wrong[0] = 2;
        assert!(parse(&wrong).is_err());
    }
}
