//! Getting a guest ready, the same way for every backend: the image checks and memory map,
//! the personality, the start-up block, and what a restore takes from its checkpoint.

use std::path::PathBuf;
use std::time::Instant;

use xisa_converters::NeutralFrame;
use xisa_converters::control::MigrationPolicy;
use xisa_converters::snapshot::{self, SnapshotError};
use xisa_format::abi::ABI_VERSION;
use xisa_format::checkpoint::{CheckpointError, CheckpointFile};
use xisa_format::image::{Image, ImageError};
use xisa_format::memory_map::{MIN_MEM_TOP, MemoryMap};
use xisa_format::target::Target;
use xisa_personality::{
    Config, Errno, GuestMemory, Mount, Personality, PersonalityError, PersonalityState,
    build_startup_block,
};

use crate::machine::GuestState;
use crate::migration_point::{PointControl, PointError};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("the image has no {0} program")]
    NoProgram(Target),
    #[error("the image was built for guest ABI {found}; this xisa serves ABI {ABI_VERSION}")]
    Abi { found: u32 },
    #[error(
        "--mem {0:#x} is too small (at least {MIN_MEM_TOP:#x} plus the program's static data, a multiple of 64 KiB)"
    )]
    Memory(u64),
    #[error("cannot set up the sandbox")]
    Sandbox(#[source] PersonalityError),
    #[error("cannot build the start-up block (argv and environment too large?): {0}")]
    Startup(Errno),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("the checkpoint's personality state is unusable: {0}")]
    BadPersonality(String),
    #[error(transparent)]
    Points(#[from] PointError),
}

/// What a fresh run is given.
#[derive(Clone, Debug)]
pub struct GuestSetup {
    /// argv, including argv[0].
    pub args: Vec<String>,
    /// Environment as `KEY=VALUE` strings.
    pub env: Vec<String>,
    /// Host folders and the guest paths they appear at.
    pub mounts: Vec<(PathBuf, String)>,
    /// Exclusive top of guest memory.
    pub mem_top: u64,
    /// The guest's working directory at start (an absolute guest path).
    pub cwd: String,
}

/// The memory map of `image`'s programs with memory up to `mem_top`, after checking that this
/// runtime serves the image's ABI and that the memory is large enough.
pub fn memory_map(image: &Image, mem_top: u64) -> Result<MemoryMap, SetupError> {
    let manifest = image.manifest();
    let found = manifest.abi_version.to_native();
    if found != ABI_VERSION {
        return Err(SetupError::Abi { found });
    }
    let map = MemoryMap {
        image: manifest.layout(),
        mem_top,
    };
    if mem_top < MIN_MEM_TOP || mem_top <= map.brk_base() || !mem_top.is_multiple_of(1 << 16) {
        return Err(SetupError::Memory(mem_top));
    }
    Ok(map)
}

/// Refuses a target the image has no program for.
pub fn check_target(image: &Image, target: Target) -> Result<(), SetupError> {
    if image.targets().contains(&target) {
        Ok(())
    } else {
        Err(SetupError::NoProgram(target))
    }
}

fn personality_config(mounts: &[(PathBuf, String)], map: MemoryMap) -> Config {
    let mounts = mounts
        .iter()
        .map(|(host, guest)| Mount {
            host: host.clone(),
            guest: guest.clone(),
        })
        .collect();
    Config { mounts, map }
}

/// The guest state of a fresh run.
pub fn fresh_guest(
    image: &Image,
    setup: &GuestSetup,
    map: MemoryMap,
    policy: MigrationPolicy,
) -> Result<GuestState, SetupError> {
    let mut personality =
        Personality::new(personality_config(&setup.mounts, map)).map_err(SetupError::Sandbox)?;
    personality
        .set_start_dir(&setup.cwd)
        .map_err(SetupError::Sandbox)?;
    Ok(GuestState {
        personality,
        points: PointControl::new(image, policy)?,
    })
}

/// Writes the start-up block (argc, argv, envp, auxv) of a fresh run into guest memory.
pub fn write_startup_block(
    memory: &mut dyn GuestMemory,
    setup: &GuestSetup,
) -> Result<(), SetupError> {
    let mut random = [0u8; 16];
    fill_random(&mut random);
    build_startup_block(memory, &setup.args, &setup.env, random)
        .map(drop)
        .map_err(SetupError::Startup)
}

fn fill_random(buffer: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut file) = std::fs::File::open("/dev/urandom") {
        let _ = file.read_exact(buffer);
    }
}

/// What a restore takes from a checkpoint once it has been checked against the image and the
/// destination: the memory map, the personality's state and the frames.
pub struct RestorePlan {
    pub map: MemoryMap,
    pub frames: Vec<NeutralFrame>,
    state: PersonalityState,
    /// When the restore began (opening the checkpoint), for the resume time.
    pub started: Instant,
}

impl RestorePlan {
    /// Checks `file` against `image` and against resuming on `target`.
    pub fn new(
        file: &CheckpointFile,
        image: &Image,
        target: Target,
        started: Instant,
    ) -> Result<Self, SetupError> {
        check_target(image, target)?;
        snapshot::validate_for_image(file, image)?;
        snapshot::check_destination(file, image, target)?;
        let map = memory_map(image, file.memory_map().mem_top)?;
        let record = file.personality()?;
        let state = PersonalityState::from_record(&record).map_err(SetupError::BadPersonality)?;
        Ok(RestorePlan {
            map,
            frames: snapshot::frames(file),
            state,
            started,
        })
    }

    /// The guest state of the restored run: its personality as captured, with `mounts` as
    /// the folders open files are reopened in.
    pub fn guest(
        &self,
        image: &Image,
        mounts: &[(PathBuf, String)],
        policy: MigrationPolicy,
    ) -> Result<GuestState, SetupError> {
        let personality = Personality::restore(&self.state, personality_config(mounts, self.map))
            .map_err(SetupError::Sandbox)?;
        Ok(GuestState {
            personality,
            points: PointControl::new(image, policy)?,
        })
    }
}
