//! The guest/executor call ABI shared by every target (see spec.md, "The __xisa_syscall ABI").
//!
//! The guest calls `long __xisa_syscall(long nr, long a0, ..., long a5)`. Numbers below
//! `XISA_CALL_BASE` are generic Linux system calls (asm-generic numbering). Numbers from
//! `XISA_CALL_BASE` up are xisa's own calls.

/// Version of this ABI, recorded in every image.
pub const ABI_VERSION: u32 = 1;

/// First xisa-specific call number.
pub const XISA_CALL_BASE: u64 = 0x1_0000;

/// `fault(kind, detail)`: the guest detected a fatal condition itself. Never returns.
pub const XISA_CALL_FAULT: u64 = XISA_CALL_BASE;

/// Fault kinds passed to `XISA_CALL_FAULT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum GuestFault {
    /// A function prologue found the shadow stack exhausted.
    ShadowStackOverflow = 1,
    /// An indirect call through a null or out-of-range function index.
    BadFunctionPointer = 2,
}

impl GuestFault {
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            1 => Some(GuestFault::ShadowStackOverflow),
            2 => Some(GuestFault::BadFunctionPointer),
            _ => None,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            GuestFault::ShadowStackOverflow => "stack overflow (shadow stack exhausted)",
            GuestFault::BadFunctionPointer => "call through an invalid function pointer",
        }
    }
}
