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

/// `longjmp(buffer)`: the program jumps back to the `setjmp` that filled the neutral jump
/// buffer at `buffer` (spec.md §2.2). The executor unwinds the neutral frames down to that
/// `setjmp`'s frame and resumes it there; the call never returns.
pub const XISA_CALL_LONGJMP: u64 = XISA_CALL_BASE + 2;

/// The neutral jump buffer (spec.md §2.2): byte offsets of its 64-bit words. A `jmp_buf` holds
/// nothing native, so it means the same on every target and survives a migration.
pub mod jump_buffer {
    /// The activation token of the frame that called `setjmp` (also in the first word of that
    /// frame's record).
    pub const TOKEN: u64 = 0;
    /// The call-site id of the `setjmp`.
    pub const SITE: u64 = 8;
    /// The shadow-stack pointer at the `setjmp`.
    pub const SHADOW_STACK: u64 = 16;
    /// What `setjmp` returns: 0 at first, the `longjmp` value (never 0) after a jump.
    pub const VALUE: u64 = 24;
    /// Bytes the executor reads.
    pub const SIZE: u64 = 32;
}

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

/// Process mode (spec.md §4.3): a native program running as a Linux process of its ISA whose
/// `__xisa_syscall` reaches the monitor through a channel page in shared guest memory and a
/// doorbell socket.
pub mod process {
    /// Guest address of the channel page (in the private monitor area, never neutral).
    pub const CHANNEL: u64 = 0x1_0000;
    /// Descriptor of the memory file behind guest memory (offset N = guest address N).
    pub const MEMORY_FD: i32 = 200;
    /// Descriptor of the doorbell: a stream socket to the monitor.
    pub const DOORBELL_FD: i32 = 201;
    /// Written by the monitor into `MAGIC` before the process starts.
    pub const CHANNEL_MAGIC: u64 = 0x6c65_6e6e_6168_6378; // "xchannel"

    /// Byte offsets of the channel page's 64-bit words.
    pub const NR: u64 = 0;
    pub const ARGS: u64 = 8;
    pub const RESULT: u64 = 56;
    /// Stack pointer, frame pointer and link register on entry to `__xisa_syscall`.
    pub const ENTRY_SP: u64 = 64;
    pub const ENTRY_FP: u64 = 72;
    pub const ENTRY_LR: u64 = 80;
    /// Where a resumed program continues (monitor to process, with the `RESUME` reply).
    pub const RESUME_PC: u64 = 88;
    pub const RESUME_SP: u64 = 96;
    pub const RESUME_FP: u64 = 104;
    pub const RESUME_POISON: u64 = 112;
    /// A fatal signal the process caught (process to monitor, with call `SIGNAL`).
    pub const FAULT_SIGNAL: u64 = 120;
    pub const FAULT_PC: u64 = 128;
    pub const FAULT_ADDRESS: u64 = 136;
    pub const MEM_TOP: u64 = 144;
    pub const MAGIC: u64 = 152;

    /// Process-internal call numbers (never made by the program itself).
    pub const BOOT: u64 = super::XISA_CALL_BASE + 0x100;
    pub const SIGNAL: u64 = super::XISA_CALL_BASE + 0x101;

    /// Monitor replies on the doorbell.
    pub const REPLY_RESULT: u8 = b'r';
    pub const REPLY_START: u8 = b's';
    pub const REPLY_RESUME: u8 = b'm';
}
