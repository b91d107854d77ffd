//! The native executor: loads an image's x86-64 or AArch64 program into guest memory laid out
//! by the neutral memory map and runs it on a vCPU backend: KVM, CPU emulation (with the `emu`
//! feature), or an ordinary Linux process of the program's ISA (directly or under qemu-user)
//! whose system calls come back to the monitor. Each is a runtime [`Machine`]
//! (`xisa_runtime`), so every backend serves the same personality and migrates the same way.
//!
//! [`Machine`]: xisa_runtime::Machine

pub mod arch;
pub mod backend;
pub mod fault_report;
pub mod loader;
pub mod machine;
pub mod memory;
pub mod migration;
pub mod vcpu;

use xisa_format::image::Image;
use xisa_format::target::Target;

pub use fault_report::GuestFaultReport;
pub use machine::NativeMachine;
pub use migration::MigrationError;
pub use vcpu::{BackendError, FaultKind};

/// How a native guest is executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Kvm,
    Emu,
    Process,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Kvm => "kvm",
            Backend::Emu => "emu",
            Backend::Process => "process",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    #[error(transparent)]
    Image(#[from] xisa_format::image::ImageError),
    #[error(transparent)]
    Reserve(#[from] memory::MemoryError),
    #[error(transparent)]
    Load(#[from] loader::LoadError),
    #[error("the {backend} backend cannot run {target} guests on this machine{hint}")]
    Unsupported {
        backend: &'static str,
        target: Target,
        hint: &'static str,
    },
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Migration(#[from] MigrationError),
}

fn make_vcpu(
    image: &Image,
    target: Target,
    backend: Backend,
    ram: &mut memory::GuestRam,
    program: &loader::LoadedProgram,
) -> Result<Box<dyn vcpu::Vcpu>, NativeError> {
    match (backend, target) {
        (Backend::Kvm, Target::X86_64) if cfg!(target_arch = "x86_64") => {
            Ok(Box::new(backend::kvm::KvmVcpu::new(ram, program.entry)?))
        }
        (Backend::Kvm, target) => Err(NativeError::Unsupported {
            backend: "kvm",
            target,
            hint: " (KVM runs guests of the host's ISA; use --backend emu or process)",
        }),
        #[cfg(feature = "emu")]
        (Backend::Emu, target) => Ok(backend::emu::new_vcpu(target, ram, program.entry)?),
        #[cfg(not(feature = "emu"))]
        (Backend::Emu, target) => Err(NativeError::Unsupported {
            backend: "emu",
            target,
            hint: " (this xisa was built without the `emu` feature)",
        }),
        (Backend::Process, target) => Ok(Box::new(backend::process::ProcessVcpu::new(
            image.program(target)?,
            target,
            ram,
        )?)),
    }
}
