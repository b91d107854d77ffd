//! The native monitor: loads an image's x86-64 or AArch64 program into guest memory laid out by
//! the neutral memory map and runs it as a unikernel on a vCPU backend (KVM, or CPU emulation
//! with the `emu` feature), serving its system calls through the shared personality.

pub mod arch;
pub mod backend;
pub mod loader;
pub mod memory;
pub mod monitor;
pub mod process;
pub mod vcpu;

use std::path::PathBuf;

use xisa_format::abi::ABI_VERSION;
use xisa_format::image::Image;
use xisa_format::memory_map::{MIN_MEM_TOP, MemoryMap};
use xisa_format::target::Target;
use xisa_personality::{Config, Mount, Personality, build_startup_block};

pub use monitor::{GuestFaultReport, NativeOutcome};
pub use vcpu::{BackendError, FaultKind};

/// How a native guest is executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Kvm,
    Emu,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Kvm => "kvm",
            Backend::Emu => "emu",
        }
    }
}

#[derive(Clone, Debug)]
pub struct NativeConfig {
    pub target: Target,
    pub backend: Backend,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub mounts: Vec<(PathBuf, String)>,
    pub mem_top: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    #[error(transparent)]
    Image(#[from] xisa_format::image::ImageError),
    #[error("the image was built for guest ABI {found}; this monitor serves ABI {ABI_VERSION}")]
    Abi { found: u32 },
    #[error(
        "--mem {0:#x} is too small (at least {MIN_MEM_TOP:#x} plus the program's static data, a multiple of 64 KiB)"
    )]
    Memory(u64),
    #[error(transparent)]
    Reserve(#[from] memory::MemoryError),
    #[error(transparent)]
    Load(#[from] loader::LoadError),
    #[error("cannot set up the sandbox")]
    Sandbox(#[source] xisa_personality::PersonalityError),
    #[error("cannot build the start-up block (argv and environment too large?): {0}")]
    Startup(xisa_personality::Errno),
    #[error("the {backend} backend cannot run {target} guests on this machine{hint}")]
    Unsupported {
        backend: &'static str,
        target: Target,
        hint: &'static str,
    },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

pub fn run(image: &Image, config: &NativeConfig) -> Result<NativeOutcome, NativeError> {
    let manifest = image.manifest();
    let found = manifest.abi_version.to_native();
    if found != ABI_VERSION {
        return Err(NativeError::Abi { found });
    }
    let map = MemoryMap {
        image: manifest.layout(),
        mem_top: config.mem_top,
    };
    if config.mem_top < MIN_MEM_TOP
        || config.mem_top <= map.brk_base()
        || !config.mem_top.is_multiple_of(1 << 16)
    {
        return Err(NativeError::Memory(config.mem_top));
    }
    let elf = image.program(config.target)?;
    let mut ram = memory::GuestRam::new(map)?;
    let program = loader::load(config.target, elf, &mut ram)?;
    let mounts = config
        .mounts
        .iter()
        .map(|(host, guest)| Mount {
            host: host.clone(),
            guest: guest.clone(),
        })
        .collect();
    let mut personality = Personality::new(Config { mounts, map }).map_err(NativeError::Sandbox)?;
    let mut random = [0u8; 16];
    fill_random(&mut random);
    build_startup_block(&mut ram, &config.args, &config.env, random)
        .map_err(NativeError::Startup)?;
    let mut vcpu = make_vcpu(config, &mut ram, &program)?;
    let outcome = monitor::serve(
        config.target,
        vcpu.as_mut(),
        &mut ram,
        &mut personality,
        &program.symbols,
    )?;
    // The vCPU (and its VM) must go before the memory it maps.
    drop(vcpu);
    Ok(outcome)
}

fn make_vcpu(
    config: &NativeConfig,
    ram: &mut memory::GuestRam,
    program: &loader::LoadedProgram,
) -> Result<Box<dyn vcpu::Vcpu>, NativeError> {
    match (config.backend, config.target) {
        (Backend::Kvm, Target::X86_64) if cfg!(target_arch = "x86_64") => {
            Ok(Box::new(backend::kvm::KvmVcpu::new(ram, program.entry)?))
        }
        (Backend::Kvm, target) => Err(NativeError::Unsupported {
            backend: "kvm",
            target,
            hint: " (KVM runs guests of the host's ISA; use --backend emu)",
        }),
        #[cfg(feature = "emu")]
        (Backend::Emu, target) => Ok(backend::emu::new_vcpu(target, ram, program.entry)?),
        #[cfg(not(feature = "emu"))]
        (Backend::Emu, target) => Err(NativeError::Unsupported {
            backend: "emu",
            target,
            hint: " (this xisa was built without the `emu` feature)",
        }),
    }
}

fn fill_random(buffer: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut file) = std::fs::File::open("/dev/urandom") {
        let _ = file.read_exact(buffer);
    }
}
