//! The interface every vCPU backend implements, whatever the ISA or the engine (KVM, CPU
//! emulation): run until the guest needs the monitor, then complete its hypercall.

use xisa_format::memory_map::native;

/// Why a guest stopped abnormally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// A load, store or fetch outside guest memory or into a guard.
    BadMemoryAccess,
    /// The native stack ran into its guard.
    StackOverflow,
    IllegalInstruction,
    DivideError,
    /// A deliberate trap (`__builtin_trap`, `abort`'s last resort).
    Trap,
    /// A processor exception without a more specific kind (vector or class named).
    Exception(String),
}

impl FaultKind {
    /// The kind of a bad access to `address`: one into the stack guard is a stack overflow.
    pub(crate) fn of_access(address: u64) -> FaultKind {
        if native::STACK_GUARD.contains(&address) {
            FaultKind::StackOverflow
        } else {
            FaultKind::BadMemoryAccess
        }
    }

    /// The signal a Linux process would die of.
    pub fn signal(&self) -> i32 {
        match self {
            FaultKind::BadMemoryAccess | FaultKind::StackOverflow | FaultKind::Exception(_) => 11,
            FaultKind::IllegalInstruction => 4,
            // Linux delivers SIGTRAP for a breakpoint instruction (`brk`, `int3`).
            FaultKind::Trap => 5,
            FaultKind::DivideError => 8,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            FaultKind::BadMemoryAccess => "bad memory access".into(),
            FaultKind::StackOverflow => "stack overflow".into(),
            FaultKind::IllegalInstruction => "illegal instruction".into(),
            FaultKind::DivideError => "integer divide error".into(),
            FaultKind::Trap => "trap instruction".into(),
            FaultKind::Exception(what) => what.clone(),
        }
    }
}

/// A fault as the backend saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    /// The faulting data address, when the hardware reports one.
    pub address: Option<u64>,
    pub pc: u64,
}

impl Fault {
    /// The instruction at `pc` touched `address`, outside guest memory or in a guard.
    pub(crate) fn access(address: u64, pc: u64) -> Fault {
        Fault {
            kind: FaultKind::of_access(address),
            address: Some(address),
            pc,
        }
    }
}

/// What stopped the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VcpuExit {
    /// `__xisa_syscall(nr, args...)`; answer with `complete_hypercall`.
    Hypercall {
        nr: u64,
        args: [u64; 6],
    },
    Fault(Fault),
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{backend} is not available: {reason}")]
    Unavailable {
        backend: &'static str,
        reason: String,
    },
    #[error("{backend} failed: {reason}")]
    Failed {
        backend: &'static str,
        reason: String,
    },
}

pub use xisa_converters::NativeState;

/// The value every register not part of a neutral frame gets in a poisoned restore.
pub const POISON: u64 = 0x5a5a_5a5a_5a5a_5a5a;

pub trait Vcpu {
    /// Runs the guest until it makes a hypercall or faults.
    fn run(&mut self) -> Result<VcpuExit, BackendError>;
    /// Returns `value` to the guest as the result of the pending hypercall.
    fn complete_hypercall(&mut self, value: u64) -> Result<(), BackendError>;
    /// The guest's program counter (for reports).
    fn pc(&mut self) -> u64;
    /// During a migrate hypercall: the innermost frame as if `__xisa_migrate()` had returned.
    fn migration_state(&mut self) -> Result<NativeState, BackendError>;
    /// Makes the next `run` continue in the state `at` (the inverse of `migration_state`: as
    /// if `__xisa_migrate()` had just returned to `at.return_address`); every other register
    /// gets `POISON` when `poison` is set.
    fn resume_at(&mut self, at: NativeState, poison: bool) -> Result<(), BackendError>;
    /// Tracks which guest pages the guest writes (called with the vCPU stopped). The first
    /// call starts tracking; later ones give the pages written since the call before.
    fn written_pages(&mut self) -> Result<WrittenPages, BackendError> {
        Ok(WrittenPages::Untracked)
    }
}

/// What a vCPU knows of the guest pages written since it was last asked.
#[derive(Debug)]
pub enum WrittenPages {
    /// This backend cannot tell.
    Untracked,
    /// Tracking started now.
    Started,
    /// Ascending, page-aligned ranges.
    Since(Vec<std::ops::Range<u64>>),
}
