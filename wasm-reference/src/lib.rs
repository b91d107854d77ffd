//! The Wasmtime reference executor: runs an image's wasm64 program with memory64 as a runtime
//! [`Machine`], serving `__xisa_syscall` (the import `xisa.syscall`) through the shared
//! personality and migrating through the program's own unwind/rewind code.

mod engine;
mod host;
mod linear_memory;
mod migration;
mod module_cache;
mod trap;

use wasmtime::{Instance, Linker, Store, Table, TableType, TypedFunc};
use xisa_converters::NeutralFrame;
use xisa_format::image::Image;
use xisa_format::memory_map::MemoryMap;
use xisa_format::target::Target;
use xisa_personality::GuestMemory;
use xisa_runtime::{GuestState, HostRegion, Machine, MachineError, Stop};

use linear_memory::LinearMemory;
use migration::{Mode, Unwinder};

pub use trap::GuestTrap;

const BACKEND: &str = "wasm64";

/// Export name of neutral function index `k` (must match the toolchain's).
fn function_export(k: usize) -> String {
    format!("__xisa_fn.{k}")
}

#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    #[error(transparent)]
    Image(#[from] xisa_format::image::ImageError),
    #[error("the wasm64 program is invalid: {0}")]
    Module(String),
    #[error("cannot start the wasm64 program: {0}")]
    Start(String),
}

/// Host state of one guest, reachable from its imports.
pub(crate) struct Guest {
    pub memory: LinearMemory,
    pub state: GuestState,
    pub unwinder: Unwinder,
}

/// Where execution (re)enters the program.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    Start,
    Resume,
}

/// An instantiated wasm64 program with its memory.
pub struct WasmMachine {
    store: Store<Guest>,
    instance: Instance,
    entry: Entry,
}

impl WasmMachine {
    /// Instantiates `image`'s wasm64 program with linear memory laid out by `map`.
    pub fn new(image: &Image, map: MemoryMap, state: GuestState) -> Result<Self, WasmError> {
        let manifest = image.manifest();
        let wasm = image.program(Target::Wasm64)?;
        let start_error = |e: wasmtime::Error| WasmError::Start(format!("{e:#}"));
        let engine = engine::engine(map.mem_top).map_err(start_error)?;
        let module =
            module_cache::module(&engine, wasm).map_err(|e| WasmError::Module(format!("{e:#}")))?;
        let mut store = Store::new(
            &engine,
            Guest {
                // SAFETY: an empty view; replaced below once the memory exists.
                memory: unsafe { LinearMemory::new(std::ptr::null_mut(), 0, map) },
                state,
                unwinder: Unwinder::new(),
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
        let (base, len) = (memory.data_ptr(&store), memory.data_size(&store));
        // SAFETY: the engine reserves the whole guest address space and never moves memory
        // (engine::engine), the memory lives as long as the store that owns this view, and
        // the host touches it only between guest calls or from the guest's own imports.
        store.data_mut().memory = unsafe { LinearMemory::new(base, len, map) };
        Ok(WasmMachine {
            store,
            instance,
            entry: Entry::Start,
        })
    }

    fn call(&mut self, name: &str) -> Result<Stop, MachineError> {
        let function: TypedFunc<(), ()> = self
            .instance
            .get_typed_func(&mut self.store, name)
            .map_err(|e| MachineError::new(BACKEND, format!("no entry point {name}: {e:#}")))?;
        match function.call(&mut self.store, ()) {
            Ok(()) => {
                let unwinder = &mut self.store.data_mut().unwinder;
                if unwinder.mode == Mode::Unwinding {
                    if let Some(buffer) = unwinder.long_jump.take() {
                        return Ok(Stop::LongJump { buffer });
                    }
                    let request = unwinder.capture.take().ok_or_else(|| {
                        MachineError::new(BACKEND, "the program unwound without a migration point")
                    })?;
                    Ok(Stop::Capture(request))
                } else {
                    Ok(Stop::Exited(0))
                }
            }
            Err(error) => {
                if let Some(protocol) = error.downcast_ref::<migration::ProtocolError>() {
                    return Err(MachineError::new(
                        BACKEND,
                        format!("migration failed: {protocol}"),
                    ));
                }
                Ok(trap::classify(error))
            }
        }
    }
}

impl Machine for WasmMachine {
    fn target(&self) -> Target {
        Target::Wasm64
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn parts(&mut self) -> (&mut dyn GuestMemory, &mut GuestState) {
        let guest = self.store.data_mut();
        (&mut guest.memory, &mut guest.state)
    }

    fn memory(&self) -> &dyn GuestMemory {
        &self.store.data().memory
    }

    fn guest(&self) -> &GuestState {
        &self.store.data().state
    }

    fn host_memory(&self) -> Option<Vec<HostRegion>> {
        Some(vec![self.store.data().memory.host_region()])
    }

    fn run(&mut self) -> Result<Stop, MachineError> {
        let name = match self.entry {
            Entry::Start => "__xisa_start",
            Entry::Resume => "__xisa_resume",
        };
        self.call(name)
    }

    fn frames(&mut self) -> Result<Vec<NeutralFrame>, MachineError> {
        let unwinder = &self.store.data().unwinder;
        if unwinder.mode != Mode::Unwinding {
            return Err(MachineError::new(
                BACKEND,
                "frames asked for outside a capture",
            ));
        }
        Ok(unwinder.frames.clone())
    }

    fn carry_on(&mut self) -> Result<(), MachineError> {
        // Rewind the frames just saved.
        let unwinder = &mut self.store.data_mut().unwinder;
        unwinder.mode = Mode::Rewinding;
        self.entry = Entry::Resume;
        Ok(())
    }

    fn resume(&mut self, frames: Vec<NeutralFrame>, _poison: bool) -> Result<(), MachineError> {
        if frames.is_empty() {
            return Err(MachineError::new(BACKEND, "no frames to resume"));
        }
        // Innermost first, so popping rewinds from the outermost frame in.
        let unwinder = &mut self.store.data_mut().unwinder;
        unwinder.mode = Mode::Rewinding;
        unwinder.frames = frames;
        self.entry = Entry::Resume;
        Ok(())
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
