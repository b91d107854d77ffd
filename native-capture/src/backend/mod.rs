//! vCPU engines: KVM (guest ISA = host ISA) and, with the `emu` feature, CPU emulation.

#[cfg(feature = "emu")]
pub mod emu;
pub mod kvm;
mod kvm_slots;
pub mod process;
