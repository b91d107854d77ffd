//! The executor's half of the wasm64 unwind protocol (the toolchain's `codegen::unwind` is
//! the program's half): the imports `xisa.migrate`, `xisa.setjmp_point`, `xisa.longjmp`,
//! `xisa.mode`, `xisa.save_frame` and `xisa.restore_frame`. Whether a migration point
//! captures is the runtime's decision (`xisa_runtime::migration_point`); here a capture (or a
//! `longjmp`, `xisa_runtime::long_jump`) means unwinding the program into neutral frames, and
//! carrying on or resuming means rewinding it from them.

use wasmtime::{Caller, Linker};
use xisa_converters::NeutralFrame;
use xisa_personality::GuestMemory;
use xisa_runtime::{CaptureRequest, PointDecision};

use crate::Guest;

/// What the program is doing, as the wasm global `__xisa_unwind_mode` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Running = 0,
    Unwinding = 1,
    Rewinding = 2,
}

/// A broken unwind or rewind: stops the guest with this message.
#[derive(Debug)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

fn protocol(message: impl Into<String>) -> wasmtime::Error {
    wasmtime::Error::new(ProtocolError(message.into()))
}

/// Unwind/rewind state of one wasm64 guest.
pub struct Unwinder {
    pub mode: Mode,
    /// Unwinding: frames saved so far, innermost first. Rewinding: frames still to restore,
    /// outermost last (so `pop` gives the next one).
    pub frames: Vec<NeutralFrame>,
    /// The capture the unwind in progress is for.
    pub capture: Option<CaptureRequest>,
    /// Or the jump buffer of the `longjmp` it is for.
    pub long_jump: Option<u64>,
}

impl Unwinder {
    pub fn new() -> Self {
        Unwinder {
            mode: Mode::Running,
            frames: Vec::new(),
            capture: None,
            long_jump: None,
        }
    }
}

impl Unwinder {
    /// The program reached a runtime stop (`what`): ends a rewind there, or (`true`) says the
    /// program is running and the stop is to be served.
    fn reached_stop(&mut self, what: &str) -> wasmtime::Result<bool> {
        match self.mode {
            Mode::Rewinding if self.frames.is_empty() => {
                self.mode = Mode::Running;
                Ok(false)
            }
            Mode::Rewinding => Err(protocol(format!(
                "the program reached its {what} with {} frames still to restore",
                self.frames.len()
            ))),
            Mode::Unwinding => Err(protocol(format!(
                "the program reached a {what} while unwinding"
            ))),
            Mode::Running => Ok(true),
        }
    }

    fn start_unwinding(&mut self) {
        self.mode = Mode::Unwinding;
        self.frames.clear();
        self.capture = None;
        self.long_jump = None;
    }
}

pub fn define_imports(linker: &mut Linker<Guest>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "xisa",
        "migrate",
        |mut caller: Caller<'_, Guest>| -> wasmtime::Result<()> {
            let Guest {
                memory,
                state,
                unwinder,
            } = caller.data_mut();
            if !unwinder.reached_stop("migration point")? {
                return Ok(());
            }
            match state
                .points
                .at_point(memory as &mut dyn GuestMemory)
                .map_err(|e| protocol(e.to_string()))?
            {
                PointDecision::Continue => {}
                PointDecision::Capture(request) => {
                    unwinder.start_unwinding();
                    unwinder.capture = Some(request);
                }
            }
            Ok(())
        },
    )?;
    // Where a setjmp stood: a longjmp's rewind ends here.
    linker.func_wrap(
        "xisa",
        "setjmp_point",
        |mut caller: Caller<'_, Guest>| -> wasmtime::Result<()> {
            caller.data_mut().unwinder.reached_stop("setjmp")?;
            Ok(())
        },
    )?;
    linker.func_wrap(
        "xisa",
        "longjmp",
        |mut caller: Caller<'_, Guest>, buffer: i64| -> wasmtime::Result<()> {
            let unwinder = &mut caller.data_mut().unwinder;
            if unwinder.reached_stop("longjmp")? {
                unwinder.start_unwinding();
                unwinder.long_jump = Some(buffer as u64);
            }
            Ok(())
        },
    )?;
    linker.func_wrap("xisa", "mode", |caller: Caller<'_, Guest>| -> i32 {
        caller.data().unwinder.mode as i32
    })?;
    linker.func_wrap(
        "xisa",
        "save_frame",
        |mut caller: Caller<'_, Guest>, id: i32, record: i64, size: i64| -> wasmtime::Result<()> {
            let Guest {
                memory, unwinder, ..
            } = caller.data_mut();
            if unwinder.mode != Mode::Unwinding {
                return Err(protocol("a frame was saved while not unwinding"));
            }
            let bytes = guest_range(memory, record, size)?;
            unwinder.frames.push(NeutralFrame {
                call_site: id as u32,
                record: bytes.to_vec(),
            });
            Ok(())
        },
    )?;
    linker.func_wrap(
        "xisa",
        "restore_frame",
        |mut caller: Caller<'_, Guest>,
         record: i64,
         size: i64,
         first: i32,
         last: i32|
         -> wasmtime::Result<i32> {
            let Guest {
                memory, unwinder, ..
            } = caller.data_mut();
            let depth = unwinder.frames.len();
            let frame = unwinder.frames.pop().ok_or_else(|| {
                protocol("the checkpoint's frames ran out before the innermost call site")
            })?;
            let (first, last) = (first as u32, last as u32);
            if !(first..=last).contains(&frame.call_site) {
                return Err(protocol(format!(
                    "frame {} from the innermost has call site {}, but the function being rewound has call sites {first}..={last}",
                    depth - 1,
                    frame.call_site
                )));
            }
            let out = guest_range(memory, record, size)?;
            if out.len() != frame.record.len() {
                return Err(protocol(format!(
                    "call site {} keeps a {}-byte record, but the checkpoint holds {} bytes",
                    frame.call_site,
                    out.len(),
                    frame.record.len()
                )));
            }
            out.copy_from_slice(&frame.record);
            Ok(frame.call_site as i32)
        },
    )?;
    Ok(())
}

fn guest_range(
    memory: &mut dyn GuestMemory,
    address: i64,
    size: i64,
) -> wasmtime::Result<&mut [u8]> {
    u64::try_from(size)
        .ok()
        .and_then(|size| memory.bytes_mut(address as u64, size).ok())
        .ok_or_else(|| {
            protocol(format!(
                "frame record at {address:#x} ({size} bytes) is outside memory"
            ))
        })
}
