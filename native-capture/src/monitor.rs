//! The monitor loop shared by every backend: serve hypercalls through the personality until the
//! guest exits or faults.

use xisa_format::abi::{GuestFault, XISA_CALL_FAULT, XISA_CALL_MIGRATE};
use xisa_format::target::Target;
use xisa_personality::{Outcome, Personality};

use crate::loader::Symbolizer;
use crate::memory::GuestRam;
use crate::migration::{Migration, MigrationError, PointAction};
use crate::vcpu::{Fault, FaultKind, Vcpu, VcpuExit};

/// A guest that stopped abnormally, named for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestFaultReport {
    pub target: Target,
    pub kind: FaultKind,
    pub address: Option<u64>,
    pub pc: u64,
    pub function: Option<String>,
}

impl GuestFaultReport {
    /// Exit status of a Linux process killed by the matching signal.
    pub fn status(&self) -> i32 {
        128 + self.kind.signal()
    }
}

impl std::fmt::Display for GuestFaultReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "guest fault on {}: {}",
            self.target,
            self.kind.describe()
        )?;
        if let Some(address) = self.address {
            write!(f, " at address {address:#x}")?;
        }
        write!(f, ", pc {:#x}", self.pc)?;
        match &self.function {
            Some(function) => write!(f, " in function `{function}`"),
            None => write!(f, " (no function there)"),
        }
    }
}

#[derive(Debug)]
pub enum NativeOutcome {
    Exited(i32),
    /// Stopped at a migration point after writing a checkpoint.
    Checkpointed,
    Faulted(GuestFaultReport),
}

pub fn serve(
    target: Target,
    vcpu: &mut dyn Vcpu,
    ram: &mut GuestRam,
    personality: &mut Personality,
    symbols: &Symbolizer,
    migration: &mut Migration<'_>,
) -> Result<NativeOutcome, MigrationError> {
    let report = |fault: Fault| {
        NativeOutcome::Faulted(GuestFaultReport {
            target,
            function: symbols.function_at(fault.pc).map(String::from),
            kind: fault.kind,
            address: fault.address,
            pc: fault.pc,
        })
    };
    loop {
        match vcpu.run()? {
            VcpuExit::Hypercall { nr, args } if nr == XISA_CALL_FAULT => {
                let kind = match GuestFault::from_code(args[0]) {
                    Some(GuestFault::ShadowStackOverflow) => FaultKind::StackOverflow,
                    Some(fault) => FaultKind::Exception(fault.describe().into()),
                    None => FaultKind::Exception(format!("guest-reported fault {}", args[0])),
                };
                let pc = caller_pc(vcpu, ram, target);
                return Ok(report(Fault {
                    kind,
                    address: None,
                    pc,
                }));
            }
            VcpuExit::Hypercall { nr, .. } if nr == XISA_CALL_MIGRATE => {
                match migration.on_point(vcpu, ram, personality)? {
                    PointAction::Continue => {}
                    PointAction::Stop => return Ok(NativeOutcome::Checkpointed),
                }
            }
            VcpuExit::Hypercall { nr, args } => match personality.syscall(ram, nr, args) {
                Outcome::Return(value) => vcpu.complete_hypercall(value as u64)?,
                Outcome::Exit(code) => return Ok(NativeOutcome::Exited(code)),
            },
            VcpuExit::Fault(fault) => return Ok(report(fault)),
        }
    }
}

/// For a guest-reported fault the interesting code is the function that called the reporting
/// helper; the pc of the hypercall itself sits in the runtime stub.
fn caller_pc(vcpu: &mut dyn Vcpu, _ram: &GuestRam, _target: Target) -> u64 {
    vcpu.pc()
}
