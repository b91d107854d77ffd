//! The Wasmtime reference executor: runs an image's wasm64 program with memory64, serving
//! `__xisa_syscall` (the import `xisa.syscall`) through the shared personality.

mod engine;
mod host;
mod trap;

use std::path::PathBuf;

use wasmtime::{Instance, Linker, Module, Store, Table, TableType, TypedFunc};
use xisa_format::abi::ABI_VERSION;
use xisa_format::image::Image;
use xisa_format::memory_map::{MIN_MEM_TOP, MemoryMap};
use xisa_format::target::Target;
use xisa_personality::{Config, FlatMemory, Mount, Personality, build_startup_block};

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
}

/// Host state of one guest.
pub(crate) struct Guest {
    pub personality: Personality,
    pub map: MemoryMap,
    pub memory: Option<wasmtime::Memory>,
}

pub fn run(image: &Image, config: &RunConfig) -> Result<RunOutcome, WasmError> {
    let manifest = image.manifest();
    let found = manifest.abi_version.to_native();
    if found != ABI_VERSION {
        return Err(WasmError::Abi { found });
    }
    let map = MemoryMap {
        image: manifest.layout(),
        mem_top: config.mem_top,
    };
    if config.mem_top < MIN_MEM_TOP
        || config.mem_top <= map.brk_base()
        || !config.mem_top.is_multiple_of(65536)
    {
        return Err(WasmError::Memory(config.mem_top));
    }
    let wasm = image.program(Target::Wasm64)?;
    let engine = engine::engine(config.mem_top).map_err(|e| WasmError::Start(format!("{e:#}")))?;
    let module = Module::new(&engine, wasm).map_err(|e| WasmError::Module(format!("{e:#}")))?;
    let mounts = config
        .mounts
        .iter()
        .map(|(host, guest)| Mount {
            host: host.clone(),
            guest: guest.clone(),
        })
        .collect();
    let personality = Personality::new(Config { mounts, map }).map_err(WasmError::Sandbox)?;
    let mut store = Store::new(
        &engine,
        Guest {
            personality,
            map,
            memory: None,
        },
    );
    let mut linker = Linker::new(&engine);
    host::define_imports(&mut linker).map_err(|e| WasmError::Start(format!("{e:#}")))?;
    let functions = manifest.functions.len() as u64;
    let table_type = TableType::new64(
        wasmtime::RefType::FUNCREF,
        functions + 1,
        Some(functions + 1),
    );
    let table = Table::new(&mut store, table_type, wasmtime::Ref::Func(None))
        .map_err(|e| WasmError::Start(format!("{e:#}")))?;
    linker
        .define(&mut store, "env", "__indirect_function_table", table)
        .map_err(|e| WasmError::Start(format!("{e:#}")))?;
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| WasmError::Module(format!("{e:#}")))?;
    fill_function_table(&mut store, &instance, table, functions)?;
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or_else(|| WasmError::Module("the program exports no memory".into()))?;
    let pages = config.mem_top / 65536;
    let current = memory.size(&store);
    if pages > current {
        memory.grow(&mut store, pages - current).map_err(|e| {
            WasmError::Start(format!(
                "cannot grow guest memory to {:#x}: {e:#}",
                config.mem_top
            ))
        })?;
    }
    store.data_mut().memory = Some(memory);
    let mut random = [0u8; 16];
    getrandom(&mut random);
    {
        let data = memory.data_mut(&mut store);
        let mut guest_memory = FlatMemory::new(data, map);
        build_startup_block(&mut guest_memory, &config.args, &config.env, random)
            .map_err(WasmError::Startup)?;
    }
    let start: TypedFunc<(), ()> = instance
        .get_typed_func(&mut store, "__xisa_start")
        .map_err(|e| WasmError::Module(format!("no entry point: {e:#}")))?;
    match start.call(&mut store, ()) {
        Ok(()) => Ok(RunOutcome::Exited(0)),
        Err(error) => Ok(trap::classify(error)),
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
