//! vCPU engines: KVM (guest ISA = host ISA) and, with the `emu` feature, CPU emulation.

pub mod kvm;
#[cfg(feature = "emu")]
pub mod emu;
