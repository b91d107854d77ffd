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

/// x86-64 hypercall: `outb %al, $HYPERCALL_PORT` with the call number in `rdi`, arguments in
/// `rsi, rdx, rcx, r8, r9, r10`; the executor puts the result in `rax`.
pub const HYPERCALL_PORT: u16 = 0xe5;

/// AArch64 hypercall: a store to this address (inside the never-mapped null guard) with the call
/// number in `x0` and arguments in `x1..x6`; the executor puts the result in `x0`.
pub const HYPERCALL_MMIO: u64 = 0xf000;

/// `migrate()`: a migration point fired (see spec.md §6). The executor may capture the
/// program here; the call returns 0.
pub const XISA_CALL_MIGRATE: u64 = XISA_CALL_BASE + 1;

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
