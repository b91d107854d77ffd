//! How a native guest that stopped abnormally is described to the user.

use xisa_format::target::Target;

use crate::vcpu::FaultKind;

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
