//! Native frames ⇄ neutral frames, for any ISA whose frame rules implement [`FrameRules`].
//!
//! Every frame on the stack at a migration point belongs to a function compiled with frame
//! pointers and the `preserve_none` convention, so a frame is regular: the caller's frame
//! pointer at `[fp]`, the return address into the caller at `[fp + 8]`, the caller's stack
//! pointer at its call site at `fp + 16`, and the frame record at a fixed offset from the stack
//! or frame pointer, as the call site's stack map says.

use xisa_format::target::Target;

use crate::table::{CallSiteTable, RecordBase};
use crate::{ConvertError, NeutralFrame, ReadMemory};

/// Frames deeper than this are refused rather than walked.
pub const MAX_FRAMES: usize = 1 << 20;

/// The facts of one ISA's frame layout.
pub trait FrameRules {
    fn target(&self) -> Target;
    /// The frame pointer of a frame whose stack pointer at its call site is `sp`.
    fn frame_pointer(&self, sp: u64, frame_size: u64) -> u64;
    /// The stack pointer at the call site of a frame whose canonical frame address (the
    /// caller's stack pointer at its call) is `cfa`.
    fn stack_pointer(&self, cfa: u64, frame_size: u64) -> u64;
    /// The canonical frame address of the frame whose frame pointer is `fp`.
    fn canonical_frame_address(&self, fp: u64) -> u64 {
        fp + 16
    }
    /// Where the caller's frame pointer is saved.
    fn saved_frame_pointer(&self, fp: u64) -> u64 {
        fp
    }
    /// Where the return address into the caller is saved.
    fn saved_return_address(&self, fp: u64) -> u64 {
        fp + 8
    }
}

/// The frame rules of a native target.
pub fn rules_for(target: Target) -> Option<&'static dyn FrameRules> {
    match target {
        Target::X86_64 => Some(&crate::x86_64::X86_64),
        Target::Aarch64 => Some(&crate::aarch64::Aarch64),
        Target::Wasm64 => None,
    }
}

/// The innermost frame as a migration point leaves it: as if `__xisa_migrate()` had just
/// returned into the instrumented function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NativeState {
    pub return_address: u64,
    pub stack_pointer: u64,
    pub frame_pointer: u64,
}

/// Walks the native stack from `state` up to the frame that returns to `entry_return` (the
/// runtime's entry stub) and produces neutral frames, innermost first.
pub fn native_to_neutral(
    rules: &dyn FrameRules,
    table: &CallSiteTable,
    state: NativeState,
    entry_return: u64,
    record_size: &dyn Fn(u32) -> Option<u32>,
    read: &ReadMemory,
) -> Result<Vec<NeutralFrame>, ConvertError> {
    let target = rules.target();
    let read_u64 = |address: u64, frame: usize| -> Result<u64, ConvertError> {
        let mut bytes = [0u8; 8];
        if read(address, &mut bytes) {
            Ok(u64::from_le_bytes(bytes))
        } else {
            Err(ConvertError::Unreadable {
                target,
                address,
                frame,
            })
        }
    };
    let mut frames = Vec::new();
    let NativeState {
        mut return_address,
        mut stack_pointer,
        mut frame_pointer,
    } = state;
    loop {
        let frame = frames.len();
        if frame >= MAX_FRAMES {
            return Err(ConvertError::TooDeep { limit: MAX_FRAMES });
        }
        let site =
            table
                .by_return_address(return_address)
                .ok_or(ConvertError::UnknownReturnAddress {
                    target,
                    address: return_address,
                    frame,
                })?;
        let expected = rules.frame_pointer(stack_pointer, site.frame_size);
        if frame_pointer != expected {
            return Err(ConvertError::Inconsistent {
                target,
                frame,
                reason: format!(
                    "call site {}: frame pointer {frame_pointer:#x}, but a {}-byte frame at stack pointer {stack_pointer:#x} puts it at {expected:#x}",
                    site.id, site.frame_size
                ),
            });
        }
        let size = record_size(site.id).ok_or(ConvertError::UnknownCallSite {
            target,
            id: site.id,
        })?;
        let base = match site.record_base {
            RecordBase::StackPointer => stack_pointer,
            RecordBase::FramePointer => frame_pointer,
        };
        let address = base.wrapping_add_signed(site.record_offset);
        let mut record = vec![0u8; size as usize];
        if !read(address, &mut record) {
            return Err(ConvertError::Unreadable {
                target,
                address,
                frame,
            });
        }
        frames.push(NeutralFrame {
            call_site: site.id,
            record,
        });
        return_address = read_u64(rules.saved_return_address(frame_pointer), frame)?;
        let caller_frame_pointer = read_u64(rules.saved_frame_pointer(frame_pointer), frame)?;
        stack_pointer = rules.canonical_frame_address(frame_pointer);
        frame_pointer = caller_frame_pointer;
        if return_address == entry_return {
            return Ok(frames);
        }
    }
}

/// What `neutral_to_native` produces: bytes to write into the native stack and where the
/// innermost frame resumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NativeResume {
    pub writes: Vec<(u64, Vec<u8>)>,
    /// Resume here (the return address of the innermost call site).
    pub pc: u64,
    pub stack_pointer: u64,
    pub frame_pointer: u64,
}

/// Lays out native frames for `frames` (innermost first) below `stack_top`, the stack pointer
/// the entry stub calls the program with; the outermost frame returns to `entry_return`.
pub fn neutral_to_native(
    rules: &dyn FrameRules,
    table: &CallSiteTable,
    frames: &[NeutralFrame],
    stack_top: u64,
    stack_limit: u64,
    entry_return: u64,
    record_size: &dyn Fn(u32) -> Option<u32>,
) -> Result<NativeResume, ConvertError> {
    let target = rules.target();
    if frames.is_empty() {
        return Err(ConvertError::Empty);
    }
    let mut writes = Vec::with_capacity(frames.len() * 3);
    let mut cfa = stack_top;
    let mut caller_frame_pointer = 0u64;
    let mut caller_return = entry_return;
    let mut resume = None;
    for frame in frames.iter().rev() {
        let site = table
            .by_id(frame.call_site)
            .ok_or(ConvertError::UnknownCallSite {
                target,
                id: frame.call_site,
            })?;
        frame.check_record_size(target, record_size)?;
        let stack_pointer = rules.stack_pointer(cfa, site.frame_size);
        if stack_pointer < stack_limit || stack_pointer > cfa {
            return Err(ConvertError::StackTooSmall {
                needed: stack_top.saturating_sub(stack_pointer),
                available: stack_top - stack_limit,
            });
        }
        let frame_pointer = rules.frame_pointer(stack_pointer, site.frame_size);
        writes.push((
            rules.saved_frame_pointer(frame_pointer),
            caller_frame_pointer.to_le_bytes().to_vec(),
        ));
        writes.push((
            rules.saved_return_address(frame_pointer),
            caller_return.to_le_bytes().to_vec(),
        ));
        let base = match site.record_base {
            RecordBase::StackPointer => stack_pointer,
            RecordBase::FramePointer => frame_pointer,
        };
        writes.push((
            base.wrapping_add_signed(site.record_offset),
            frame.record.clone(),
        ));
        resume = Some(NativeResume {
            writes: Vec::new(),
            pc: site.return_address,
            stack_pointer,
            frame_pointer,
        });
        cfa = stack_pointer;
        caller_frame_pointer = frame_pointer;
        caller_return = site.return_address;
    }
    let mut resume = resume.expect("at least one frame");
    resume.writes = writes;
    Ok(resume)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::table::NativeCallSite;

    const TOP: u64 = 0x400_0000;
    const BOTTOM: u64 = 0x380_0000;
    const ENTRY_RETURN: u64 = 0x2_0010;

    /// A stack of memory `[BOTTOM, TOP)` filled with a poison pattern.
    fn stack() -> RefCell<Vec<u8>> {
        RefCell::new(vec![0xa5; (TOP - BOTTOM) as usize])
    }

    fn table() -> CallSiteTable {
        CallSiteTable::new([
            NativeCallSite {
                id: 1,
                return_address: 0x2_1000,
                frame_size: 40,
                record_base: RecordBase::StackPointer,
                record_offset: 0,
            },
            NativeCallSite {
                id: 2,
                return_address: 0x2_2000,
                frame_size: 64,
                record_base: RecordBase::StackPointer,
                record_offset: 16,
            },
            NativeCallSite {
                id: 3,
                return_address: 0x2_3000,
                frame_size: 32,
                record_base: RecordBase::FramePointer,
                record_offset: -16,
            },
        ])
    }

    fn sizes(id: u32) -> Option<u32> {
        match id {
            1 => Some(16),
            2 => Some(24),
            3 => Some(8),
            _ => None,
        }
    }

    fn frame(call_site: u32, record: Vec<u8>) -> NeutralFrame {
        NeutralFrame { call_site, record }
    }

    fn frames() -> Vec<NeutralFrame> {
        vec![
            frame(3, vec![3; 8]),
            frame(2, (0..24).collect()),
            frame(1, vec![1; 16]),
            frame(2, (100..124).collect()),
        ]
    }

    fn round_trip(rules: &dyn FrameRules) {
        let memory = stack();
        let resume = neutral_to_native(
            rules,
            &table(),
            &frames(),
            TOP,
            BOTTOM,
            ENTRY_RETURN,
            &sizes,
        )
        .unwrap();
        for (address, bytes) in &resume.writes {
            let at = (address - BOTTOM) as usize;
            memory.borrow_mut()[at..at + bytes.len()].copy_from_slice(bytes);
        }
        assert_eq!(resume.pc, 0x2_3000, "resume after the innermost call site");
        let read = |address: u64, out: &mut [u8]| {
            let Some(at) = address.checked_sub(BOTTOM) else {
                return false;
            };
            let memory = memory.borrow();
            let Some(bytes) = memory.get(at as usize..at as usize + out.len()) else {
                return false;
            };
            out.copy_from_slice(bytes);
            true
        };
        let state = NativeState {
            return_address: resume.pc,
            stack_pointer: resume.stack_pointer,
            frame_pointer: resume.frame_pointer,
        };
        let back = native_to_neutral(rules, &table(), state, ENTRY_RETURN, &sizes, &read).unwrap();
        assert_eq!(back, frames());
        // A wrong frame pointer is noticed, not followed.
        let bad = NativeState {
            frame_pointer: resume.frame_pointer + 8,
            ..state
        };
        assert!(matches!(
            native_to_neutral(rules, &table(), bad, ENTRY_RETURN, &sizes, &read),
            Err(ConvertError::Inconsistent { .. })
        ));
        // So is a return address that is no call site.
        let stray = NativeState {
            return_address: 0x9999,
            ..state
        };
        assert!(matches!(
            native_to_neutral(rules, &table(), stray, ENTRY_RETURN, &sizes, &read),
            Err(ConvertError::UnknownReturnAddress { .. })
        ));
    }

    #[test]
    fn x86_64_frames_round_trip() {
        round_trip(&crate::x86_64::X86_64);
    }

    #[test]
    fn aarch64_frames_round_trip() {
        round_trip(&crate::aarch64::Aarch64);
    }

    #[test]
    fn bad_frames_are_refused() {
        let rules = &crate::x86_64::X86_64;
        let unknown = [frame(77, vec![])];
        assert!(matches!(
            neutral_to_native(rules, &table(), &unknown, TOP, BOTTOM, ENTRY_RETURN, &sizes),
            Err(ConvertError::UnknownCallSite { id: 77, .. })
        ));
        let short = [frame(1, vec![0; 8])];
        assert!(matches!(
            neutral_to_native(rules, &table(), &short, TOP, BOTTOM, ENTRY_RETURN, &sizes),
            Err(ConvertError::RecordSize {
                id: 1,
                expected: 16,
                actual: 8
            })
        ));
        let deep: Vec<NeutralFrame> = (0..200_000).map(|_| frame(2, vec![0; 24])).collect();
        assert!(matches!(
            neutral_to_native(rules, &table(), &deep, TOP, BOTTOM, ENTRY_RETURN, &sizes),
            Err(ConvertError::StackTooSmall { .. })
        ));
        assert_eq!(
            neutral_to_native(rules, &table(), &[], TOP, BOTTOM, ENTRY_RETURN, &sizes),
            Err(ConvertError::Empty)
        );
    }
}
