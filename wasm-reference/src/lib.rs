//! The Wasmtime reference executor: runs an image's wasm64 program with memory64, serving
//! `__xisa_syscall` (the import `xisa.syscall`) through the shared personality.

mod engine;
mod host;
mod migration;
mod trap;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Instance, Linker, Module, Store, Table, TableType, TypedFunc};
use xisa_converters::control::{AfterCapture, CaptureReport, MigrationPolicy, PointCounter};
use xisa_converters::snapshot::{self, COUNTDOWN_IDLE, CaptureInput, SnapshotError};
use xisa_format::abi::ABI_VERSION;
use xisa_format::checkpoint::{CheckpointError, CheckpointFile};
use xisa_format::image::Image;
use xisa_format::memory_map::{MIN_MEM_TOP, MemoryMap};
use xisa_format::target::Target;
use xisa_personality::{
    Config, FlatMemory, Mount, Personality, PersonalityState, build_startup_block,
};

use migration::{Mode, Unwinder};

pub use trap::GuestTrap;

/// Export name of neutral function index `k` (must match the toolchain's).
fn function_export(k: usize) -> String {
    format!("__xisa_fn.{k}")
}

/// How to run a program.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// argv, including argv[0].
    pub args: Vec<String>,
    /// Environment as `KEY=VALUE` strings.
    pub env: Vec<String>,
    pub mounts: Vec<(PathBuf, String)>,
    /// Exclusive top of guest memory.
    pub mem_top: u64,
}

/// How a run ended.
#[derive(Debug)]
pub enum RunOutcome {
    Exited(i32),
    Trapped(GuestTrap),
    /// Stopped at a migration point after writing a checkpoint.
    Checkpointed,
}

/// How a run ended, with what it captured on the way.
#[derive(Debug)]
pub struct WasmRun {
    pub outcome: RunOutcome,
    pub captures: Vec<CaptureReport>,
    /// Migration points the program passed.
    pub points: u64,
    /// For a restore: from opening the checkpoint to the guest running.
    pub resume_time: Option<Duration>,
    /// Time the guest ran (host calls and captures included).
    pub run_time: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    #[error(transparent)]
    Image(#[from] xisa_format::image::ImageError),
    #[error("the image was built for guest ABI {found}; this executor serves ABI {ABI_VERSION}")]
    Abi { found: u32 },
    #[error("--mem {0:#x} is too small (at least {MIN_MEM_TOP:#x} plus the program's static data)")]
    Memory(u64),
    #[error("cannot set up the sandbox")]
    Sandbox(#[source] xisa_personality::PersonalityError),
    #[error("cannot build the start-up block (argv and environment too large?): {0}")]
    Startup(xisa_personality::Errno),
    #[error("the wasm64 program is invalid: {0}")]
    Module(String),
    #[error("cannot start the guest: {0}")]
    Start(String),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("the checkpoint's frames do not fit the wasm64 program")]
    Frames(#[source] xisa_converters::ConvertError),
    #[error("the checkpoint's personality state is unusable: {0}")]
    BadPersonality(String),
    #[error("cannot read the personality's state")]
    PersonalityState(#[source] xisa_personality::PersonalityError),
    #[error("migration failed: {0}")]
    Protocol(String),
}

/// Host state of one guest.
pub(crate) struct Guest {
    pub personality: Personality,
    pub map: MemoryMap,
    pub memory: Option<wasmtime::Memory>,
    pub unwinder: Unwinder,
}

/// Runs the wasm64 program of `image` from its start.
pub fn run(
    image: &Image,
    config: &RunConfig,
    policy: MigrationPolicy,
) -> Result<WasmRun, WasmError> {
    let map = check_image(image, config.mem_top)?;
    let personality =
        Personality::new(personality_config(&config.mounts, map)).map_err(WasmError::Sandbox)?;
    let mut session = Session::new(image, map, personality, policy)?;
    let mut random = [0u8; 16];
    getrandom(&mut random);
    {
        let data = session.memory.data_mut(&mut session.store);
        let mut guest_memory = FlatMemory::new(data, map);
        build_startup_block(&mut guest_memory, &config.args, &config.env, random)
            .map_err(WasmError::Startup)?;
    }
    session.execute(Entry::Start, None)
}

/// Resumes a validated checkpoint of `image` on wasm64. `config.mem_top`, `args` and `env`
/// are ignored: the program keeps what it was captured with.
pub fn restore(
    image: &Image,
    file: &CheckpointFile,
    config: &RunConfig,
    policy: MigrationPolicy,
) -> Result<WasmRun, WasmError> {
    let started = Instant::now();
    snapshot::validate_for_image(file, image)?;
    snapshot::check_destination(file, image, Target::Wasm64)?;
    let map = check_image(image, file.memory_map().mem_top)?;
    let frames = snapshot::frames(file);
    let manifest = image.manifest();
    xisa_converters::wasm64::check_frames(&frames, &|id| manifest.record_size(id))
        .map_err(WasmError::Frames)?;
    let record = file.personality()?;
    let state = PersonalityState::from_record(&record).map_err(WasmError::BadPersonality)?;
    let personality = Personality::restore(&state, personality_config(&config.mounts, map))
        .map_err(WasmError::Sandbox)?;
    let mut session = Session::new(image, map, personality, policy)?;
    {
        let data = session.memory.data_mut(&mut session.store);
        let mut guest_memory = FlatMemory::new(data, map);
        snapshot::restore_memory(file, image, &mut guest_memory)?;
    }
    let unwinder = &mut session.store.data_mut().unwinder;
    unwinder.mode = Mode::Rewinding;
    unwinder.frames = frames;
    session.execute(Entry::Resume, Some(started))
}

fn check_image(image: &Image, mem_top: u64) -> Result<MemoryMap, WasmError> {
    let manifest = image.manifest();
    let found = manifest.abi_version.to_native();
    if found != ABI_VERSION {
        return Err(WasmError::Abi { found });
    }
    let map = MemoryMap {
        image: manifest.layout(),
        mem_top,
    };
    if mem_top < MIN_MEM_TOP || mem_top <= map.brk_base() || !mem_top.is_multiple_of(65536) {
        return Err(WasmError::Memory(mem_top));
    }
    Ok(map)
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

/// Where execution (re)enters the program.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    Start,
    Resume,
}

/// An instantiated program with its memory, ready to start or resume.
struct Session<'a> {
    image: &'a Image,
    store: Store<Guest>,
    instance: Instance,
    memory: wasmtime::Memory,
    map: MemoryMap,
}

impl<'a> Session<'a> {
    fn new(
        image: &'a Image,
        map: MemoryMap,
        personality: Personality,
        policy: MigrationPolicy,
    ) -> Result<Self, WasmError> {
        let manifest = image.manifest();
        let countdown = manifest
            .symbol_address(snapshot::COUNTDOWN)
            .ok_or(SnapshotError::Symbol(snapshot::COUNTDOWN))?;
        let wasm = image.program(Target::Wasm64)?;
        let start_error = |e: wasmtime::Error| WasmError::Start(format!("{e:#}"));
        let engine = engine::engine(map.mem_top).map_err(start_error)?;
        let module = Module::new(&engine, wasm).map_err(|e| WasmError::Module(format!("{e:#}")))?;
        let mut store = Store::new(
            &engine,
            Guest {
                personality,
                map,
                memory: None,
                unwinder: Unwinder::new(policy, countdown),
            },
        );
        let mut linker = Linker::new(&engine);
        host::define_imports(&mut linker).map_err(start_error)?;
        migration::define_imports(&mut linker).map_err(start_error)?;
        let functions = manifest.functions.len() as u64;
        let table_type = TableType::new64(
            wasmtime::RefType::FUNCREF,
            functions + 1,
            Some(functions + 1),
        );
        let table =
            Table::new(&mut store, table_type, wasmtime::Ref::Func(None)).map_err(start_error)?;
        linker
            .define(&mut store, "env", "__indirect_function_table", table)
            .map_err(start_error)?;
        let instance = linker
            .instantiate(&mut store, &module)
            .map_err(|e| WasmError::Module(format!("{e:#}")))?;
        fill_function_table(&mut store, &instance, table, functions)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| WasmError::Module("the program exports no memory".into()))?;
        let pages = map.mem_top / 65536;
        let current = memory.size(&store);
        if pages > current {
            memory.grow(&mut store, pages - current).map_err(|e| {
                WasmError::Start(format!(
                    "cannot grow guest memory to {:#x}: {e:#}",
                    map.mem_top
                ))
            })?;
        }
        store.data_mut().memory = Some(memory);
        Ok(Session {
            image,
            store,
            instance,
            memory,
            map,
        })
    }

    fn countdown(&mut self) -> Result<(u64, &mut [u8; 8]), WasmError> {
        let address = self.store.data().unwinder.countdown;
        let data = self.memory.data_mut(&mut self.store);
        let bytes = usize::try_from(address)
            .ok()
            .and_then(|a| data.get_mut(a..a.checked_add(8)?))
            .and_then(|b| <&mut [u8; 8]>::try_from(b).ok())
            .ok_or(SnapshotError::Write { address })?;
        Ok((address, bytes))
    }

    fn execute(
        mut self,
        mut entry: Entry,
        resume_started: Option<Instant>,
    ) -> Result<WasmRun, WasmError> {
        let first = self.store.data().unwinder.first_countdown();
        {
            let (_, bytes) = self.countdown()?;
            *bytes = first.to_le_bytes();
        }
        let unwinder = &mut self.store.data_mut().unwinder;
        {
            let mut points = unwinder.counter.lock().unwrap_or_else(|e| e.into_inner());
            *points = PointCounter::default();
            points.reset(COUNTDOWN_IDLE, first);
        }
        let counter = Arc::clone(&unwinder.counter);
        let trigger = match (&unwinder.policy.trigger, &unwinder.policy.checkpoint_to) {
            (Some(trigger), Some(_)) => Some(Arc::clone(trigger)),
            _ => None,
        };
        let watcher = match &trigger {
            Some(trigger) => {
                let (_, bytes) = self.countdown()?;
                let pointer = bytes.as_mut_ptr().cast::<i64>();
                // SAFETY: the countdown is an 8-aligned neutral global in linear memory, which
                // never moves (the engine reserves the whole address space) and lives in the
                // store until the thread is joined below.
                Some(unsafe { Arc::clone(trigger).arm(pointer, Arc::clone(&counter)) })
            }
            None => None,
        };
        let resume_time = resume_started.map(|t| t.elapsed());
        let running = Instant::now();
        let result = self.drive(&mut entry);
        let run_time = running.elapsed();
        if let Some(trigger) = &trigger {
            trigger.close();
        }
        if let Some(watcher) = watcher {
            let _ = watcher.join();
        }
        let points = {
            let (_, bytes) = self.countdown()?;
            let countdown = i64::from_le_bytes(*bytes);
            let points = self.store.data().unwinder.counter.lock();
            points.unwrap_or_else(|e| e.into_inner()).passed(countdown)
        };
        let (outcome, captures) = result?;
        Ok(WasmRun {
            outcome,
            captures,
            points,
            resume_time,
            run_time,
        })
    }

    fn drive(&mut self, entry: &mut Entry) -> Result<(RunOutcome, Vec<CaptureReport>), WasmError> {
        let mut captures = Vec::new();
        loop {
            let name = match entry {
                Entry::Start => "__xisa_start",
                Entry::Resume => "__xisa_resume",
            };
            let function: TypedFunc<(), ()> =
                self.instance
                    .get_typed_func(&mut self.store, name)
                    .map_err(|e| WasmError::Module(format!("no entry point {name}: {e:#}")))?;
            let result = function.call(&mut self.store, ());
            match result {
                Ok(()) if self.store.data().unwinder.mode == Mode::Unwinding => {
                    let report = self.capture()?;
                    captures.push(report);
                    let unwinder = &mut self.store.data_mut().unwinder;
                    if unwinder.policy.then == AfterCapture::Exit {
                        return Ok((RunOutcome::Checkpointed, captures));
                    }
                    // Carry on: rewind the frames just saved.
                    unwinder.mode = Mode::Rewinding;
                    *entry = Entry::Resume;
                }
                Ok(()) => return Ok((RunOutcome::Exited(0), captures)),
                Err(error) => {
                    if let Some(protocol) = error.downcast_ref::<migration::ProtocolError>() {
                        return Err(WasmError::Protocol(protocol.0.clone()));
                    }
                    return Ok((trap::classify(error), captures));
                }
            }
        }
    }

    /// Writes the checkpoint of a program that has just unwound.
    fn capture(&mut self) -> Result<CaptureReport, WasmError> {
        let guest = self.store.data();
        let (point, started, requested) = guest
            .unwinder
            .unwind_started
            .ok_or_else(|| WasmError::Protocol("an unwind without a migration point".into()))?;
        let path = guest
            .unwinder
            .policy
            .checkpoint_to
            .clone()
            .ok_or_else(|| WasmError::Protocol("an unwind without a checkpoint file".into()))?;
        let frames = guest.unwinder.frames.clone();
        xisa_converters::wasm64::check_frames(&frames, &|id| self.image.manifest().record_size(id))
            .map_err(|e| WasmError::Protocol(e.to_string()))?;
        let personality = guest
            .personality
            .state()
            .map_err(WasmError::PersonalityState)?
            .to_record();
        let state_time = started.elapsed();
        let map = self.map;
        let image = self.image;
        let (data, guest) = self.memory.data_and_store_mut(&mut self.store);
        let memory = FlatMemory::new(data, map);
        let mut report = snapshot::capture_to_file(
            &memory,
            CaptureInput {
                image,
                source: Target::Wasm64,
                map,
                frames: frames.clone(),
                personality,
            },
            &path,
            state_time,
        )?;
        report.point = point;
        report.response_latency = requested.map(|t| t.elapsed());
        guest.unwinder.frames = frames;
        Ok(report)
    }
}

/// Slot k of the function table holds the function with neutral index k.
fn fill_function_table(
    store: &mut Store<Guest>,
    instance: &Instance,
    table: Table,
    count: u64,
) -> Result<(), WasmError> {
    for k in 1..=count {
        let name = function_export(k as usize);
        let function = instance.get_func(&mut *store, &name).ok_or_else(|| {
            WasmError::Module(format!("function index {k} is not exported ({name})"))
        })?;
        table
            .set(&mut *store, k, wasmtime::Ref::Func(Some(function)))
            .map_err(|e| WasmError::Start(format!("{e:#}")))?;
    }
    Ok(())
}

fn getrandom(buffer: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut file) = std::fs::File::open("/dev/urandom") {
        let _ = file.read_exact(buffer);
    }
}
