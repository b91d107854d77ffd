//! The native monitor: loads an image's x86-64 or AArch64 program into guest memory laid out by
//! the neutral memory map and runs it as a unikernel on a vCPU backend (KVM, or CPU emulation
//! with the `emu` feature), serving its system calls through the shared personality.

pub mod arch;
pub mod backend;
pub mod loader;
pub mod memory;
pub mod migration;
pub mod monitor;
pub mod process;
pub mod vcpu;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use xisa_converters::control::{CaptureReport, MigrationPolicy};
use xisa_converters::snapshot;
use xisa_format::abi::ABI_VERSION;
use xisa_format::checkpoint::{CheckpointError, CheckpointFile};
use xisa_format::image::Image;
use xisa_format::memory_map::{MIN_MEM_TOP, MemoryMap};
use xisa_format::target::Target;
use xisa_personality::{Config, Mount, Personality, PersonalityState, build_startup_block};

use migration::Migration;

pub use migration::MigrationError;
pub use monitor::{GuestFaultReport, NativeOutcome};
pub use vcpu::{BackendError, FaultKind};
pub use xisa_converters::control;

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
    #[error(transparent)]
    Migration(#[from] MigrationError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("the checkpoint's personality state is unusable: {0}")]
    BadPersonality(String),
}

/// How a native run ended, with what it captured on the way.
#[derive(Debug)]
pub struct NativeRun {
    pub outcome: NativeOutcome,
    pub captures: Vec<CaptureReport>,
    /// Migration points the program passed.
    pub points: u64,
    /// For a restore: from opening the checkpoint to the guest running.
    pub resume_time: Option<Duration>,
    /// Time the guest ran (hypercalls and captures included).
    pub run_time: Duration,
}

/// Runs `config.target`'s program of `image` from its start.
pub fn run(
    image: &Image,
    config: &NativeConfig,
    policy: MigrationPolicy,
) -> Result<NativeRun, NativeError> {
    let map = check_image(image, config.mem_top)?;
    let mut ram = memory::GuestRam::new(map)?;
    let program = loader::load(config.target, image.program(config.target)?, &mut ram)?;
    let mut personality =
        Personality::new(personality_config(config, map)).map_err(NativeError::Sandbox)?;
    let mut random = [0u8; 16];
    fill_random(&mut random);
    build_startup_block(&mut ram, &config.args, &config.env, random)
        .map_err(NativeError::Startup)?;
    let vcpu = make_vcpu(config, &mut ram, &program)?;
    execute(
        image,
        config,
        policy,
        vcpu,
        ram,
        &mut personality,
        &program,
        None,
    )
}

/// Options of a restore beyond those of a run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RestoreOptions {
    /// Overwrite every register and native-stack byte that is not part of a neutral frame
    /// with a pattern before resuming (proves nothing native survives a migration).
    pub poison: bool,
}

/// Resumes a validated checkpoint of `image` on `config.target`. `config.mem_top` is ignored:
/// the program keeps the memory map it was captured with.
pub fn restore(
    image: &Image,
    file: &CheckpointFile,
    config: &NativeConfig,
    options: RestoreOptions,
    policy: MigrationPolicy,
) -> Result<NativeRun, NativeError> {
    let started = Instant::now();
    snapshot::validate_for_image(file, image).map_err(MigrationError::from)?;
    snapshot::check_destination(file, image, config.target).map_err(MigrationError::from)?;
    let map = check_image(image, file.memory_map().mem_top)?;
    let mut ram = memory::GuestRam::new(map)?;
    let program = loader::load(config.target, image.program(config.target)?, &mut ram)?;
    snapshot::restore_memory(file, image, &mut ram).map_err(MigrationError::from)?;
    let record = file.personality()?;
    let state = PersonalityState::from_record(&record).map_err(NativeError::BadPersonality)?;
    let mut personality = Personality::restore(&state, personality_config(config, map))
        .map_err(NativeError::Sandbox)?;
    let frames = snapshot::frames(file);
    let resume = migration::place_frames(image, config.target, &frames, &mut ram, options.poison)?;
    let mut vcpu = make_vcpu(config, &mut ram, &program)?;
    vcpu.resume_at(
        resume.pc,
        resume.stack_pointer,
        resume.frame_pointer,
        options.poison,
    )?;
    let resume_started = Some(started);
    execute(
        image,
        config,
        policy,
        vcpu,
        ram,
        &mut personality,
        &program,
        resume_started,
    )
}

fn check_image(image: &Image, mem_top: u64) -> Result<MemoryMap, NativeError> {
    let manifest = image.manifest();
    let found = manifest.abi_version.to_native();
    if found != ABI_VERSION {
        return Err(NativeError::Abi { found });
    }
    let map = MemoryMap {
        image: manifest.layout(),
        mem_top,
    };
    if mem_top < MIN_MEM_TOP || mem_top <= map.brk_base() || !mem_top.is_multiple_of(1 << 16) {
        return Err(NativeError::Memory(mem_top));
    }
    Ok(map)
}

fn personality_config(config: &NativeConfig, map: MemoryMap) -> Config {
    let mounts = config
        .mounts
        .iter()
        .map(|(host, guest)| Mount {
            host: host.clone(),
            guest: guest.clone(),
        })
        .collect();
    Config { mounts, map }
}

#[allow(clippy::too_many_arguments)]
fn execute(
    image: &Image,
    config: &NativeConfig,
    policy: MigrationPolicy,
    mut vcpu: Box<dyn vcpu::Vcpu>,
    mut ram: memory::GuestRam,
    personality: &mut Personality,
    program: &loader::LoadedProgram,
    resume_started: Option<Instant>,
) -> Result<NativeRun, NativeError> {
    let mut migration = Migration::new(image, config.target, policy)?;
    migration.start(&mut ram)?;
    let resume_time = resume_started.map(|t| t.elapsed());
    let running = Instant::now();
    let outcome = monitor::serve(
        config.target,
        vcpu.as_mut(),
        &mut ram,
        personality,
        &program.symbols,
        &mut migration,
    );
    let run_time = running.elapsed();
    migration.finish();
    let points = migration.points_passed(&ram);
    // The vCPU (and its VM) must go before the memory it maps.
    drop(vcpu);
    Ok(NativeRun {
        outcome: outcome?,
        captures: std::mem::take(&mut migration.captures),
        points,
        resume_time,
        run_time,
    })
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
