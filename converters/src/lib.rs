//! Translation between native frames and neutral frames (ARCHITECTURE §5), as pure functions
//! over memory and register snapshots: no KVM, no emulator, no Wasmtime.
//!
//! A neutral frame is a call-site id and the bytes of that frame's record. A native frame is
//! what the target's code left on its stack at an instrumented call: the return address (which
//! names the call site), the saved frame pointer and the record somewhere in the frame. The
//! per-target facts come from the program's `.llvm_stackmaps` ([`stackmap`]), turned into a
//! [`CallSiteTable`] at build time; the per-ISA frame rules live in [`x86_64`] and
//! [`aarch64`] behind [`FrameRules`].

pub mod aarch64;
pub mod control;
pub mod native;
pub mod snapshot;
pub mod stackmap;
pub mod table;
pub mod wasm64;
pub mod x86_64;

pub use native::{
    FrameRules, NativeResume, NativeState, native_to_neutral, neutral_to_native, rules_for,
};
pub use table::{CallSiteTable, NativeCallSite, RecordBase};

use xisa_format::target::Target;

/// One neutral frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeutralFrame {
    pub call_site: u32,
    pub record: Vec<u8>,
}

impl NeutralFrame {
    /// Checks that the frame names a call site `record_size` knows, with a record of the
    /// size it gives.
    fn check_record_size(
        &self,
        target: Target,
        record_size: &dyn Fn(u32) -> Option<u32>,
    ) -> Result<(), ConvertError> {
        let expected = record_size(self.call_site).ok_or(ConvertError::UnknownCallSite {
            target,
            id: self.call_site,
        })?;
        if self.record.len() != expected as usize {
            return Err(ConvertError::RecordSize {
                id: self.call_site,
                expected,
                actual: self.record.len(),
            });
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConvertError {
    #[error("malformed stack map: {0}")]
    StackMap(String),
    #[error(
        "{target}: return address {address:#x} is not an instrumented call site (frame {frame})"
    )]
    UnknownReturnAddress {
        target: Target,
        address: u64,
        frame: usize,
    },
    #[error("call site {id} is not in the {target} call-site table")]
    UnknownCallSite { target: Target, id: u32 },
    #[error("{target}: cannot read guest memory at {address:#x} (frame {frame})")]
    Unreadable {
        target: Target,
        address: u64,
        frame: usize,
    },
    #[error("{target}: frame {frame} is inconsistent: {reason}")]
    Inconsistent {
        target: Target,
        frame: usize,
        reason: String,
    },
    #[error("call site {id} keeps a {expected}-byte record, but the frame holds {actual} bytes")]
    RecordSize {
        id: u32,
        expected: u32,
        actual: usize,
    },
    #[error("the stack has more than {limit} frames")]
    TooDeep { limit: usize },
    #[error("no frames to restore")]
    Empty,
    #[error(
        "the restored frames do not fit the native stack ({needed} bytes needed, {available} available)"
    )]
    StackTooSmall { needed: u64, available: u64 },
}

/// Reads guest memory: fills the buffer from the guest address, or fails.
pub type ReadMemory<'a> = dyn Fn(u64, &mut [u8]) -> bool + 'a;
