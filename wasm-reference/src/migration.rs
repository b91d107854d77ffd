//! The executor's half of the wasm64 unwind protocol (the toolchain's `codegen::unwind` is
//! the program's half): the imports `xisa.migrate`, `xisa.mode`, `xisa.save_frame` and
//! `xisa.restore_frame`, and the policy deciding when a migration point captures.

use std::time::Instant;

use wasmtime::{Caller, Linker};
use xisa_converters::NeutralFrame;
use xisa_converters::control::{MigrationPolicy, PointCounter, SharedCounter};

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

/// Migration state of one wasm64 guest.
pub struct Unwinder {
    pub mode: Mode,
    /// Unwinding: frames saved so far, innermost first. Rewinding: frames still to restore,
    /// outermost last (so `pop` gives the next one).
    pub frames: Vec<NeutralFrame>,
    pub policy: MigrationPolicy,
    pub countdown: u64,
    pub counter: SharedCounter,
    pub at_pending: bool,
    /// The point and request time of the unwind in progress.
    pub unwind_started: Option<(u64, Instant, Option<Instant>)>,
}

impl Unwinder {
    pub fn new(policy: MigrationPolicy, countdown: u64) -> Self {
        Unwinder {
            mode: Mode::Running,
            frames: Vec::new(),
            at_pending: policy.checkpoint_at.is_some(),
            policy,
            countdown,
            counter: PointCounter::shared(),
            unwind_started: None,
        }
    }

    /// The countdown value a (re)started program begins with.
    pub fn first_countdown(&self) -> i64 {
        self.policy.countdown_after(0, self.at_pending)
    }
}

fn countdown_bytes(data: &mut [u8], address: u64) -> Option<&mut [u8; 8]> {
    let start = usize::try_from(address).ok()?;
    data.get_mut(start..start.checked_add(8)?)?.try_into().ok()
}

pub fn define_imports(linker: &mut Linker<Guest>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "xisa",
        "migrate",
        |mut caller: Caller<'_, Guest>| -> wasmtime::Result<()> {
            let memory = caller.data().memory.expect("memory is set before start");
            let (data, guest) = memory.data_and_store_mut(&mut caller);
            let unwinder = &mut guest.unwinder;
            match unwinder.mode {
                Mode::Rewinding if unwinder.frames.is_empty() => {
                    unwinder.mode = Mode::Running;
                    return Ok(());
                }
                Mode::Rewinding => {
                    return Err(wasmtime::Error::new(ProtocolError(format!(
                        "the program reached its migration point with {} frames still to restore",
                        unwinder.frames.len()
                    ))));
                }
                Mode::Unwinding => {
                    return Err(wasmtime::Error::new(ProtocolError(
                        "a migration point fired while unwinding".into(),
                    )));
                }
                Mode::Running => {}
            }
            let address = unwinder.countdown;
            let bytes = countdown_bytes(data, address).ok_or_else(|| {
                ProtocolError(format!("the countdown at {address:#x} is outside memory"))
            })?;
            let countdown = i64::from_le_bytes(*bytes);
            let mut points = unwinder.counter.lock().unwrap_or_else(|e| e.into_inner());
            let point = points.passed(countdown);
            let requested = unwinder.policy.trigger.as_ref().and_then(|t| t.take());
            let at = unwinder.at_pending && unwinder.policy.checkpoint_at == Some(point);
            if at {
                unwinder.at_pending = false;
            }
            let next = unwinder.policy.countdown_after(point, unwinder.at_pending);
            points.reset(countdown, next);
            drop(points);
            *bytes = next.to_le_bytes();
            if unwinder.policy.checkpoint_to.is_some() && (at || requested.is_some()) {
                unwinder.mode = Mode::Unwinding;
                unwinder.frames.clear();
                unwinder.unwind_started = Some((point, Instant::now(), requested));
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
            let memory = caller.data().memory.expect("memory is set before start");
            let (data, guest) = memory.data_and_store_mut(&mut caller);
            if guest.unwinder.mode != Mode::Unwinding {
                return Err(wasmtime::Error::new(ProtocolError(
                    "a frame was saved while not unwinding".into(),
                )));
            }
            let bytes = guest_range(data, record, size).ok_or_else(|| {
                ProtocolError(format!(
                    "frame record at {record:#x} ({size} bytes) is outside memory"
                ))
            })?;
            guest.unwinder.frames.push(NeutralFrame {
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
            let memory = caller.data().memory.expect("memory is set before start");
            let (data, guest) = memory.data_and_store_mut(&mut caller);
            let unwinder = &mut guest.unwinder;
            let depth = unwinder.frames.len();
            let frame = unwinder.frames.pop().ok_or_else(|| {
                ProtocolError(
                    "the checkpoint's frames ran out before the innermost call site".into(),
                )
            })?;
            let (first, last) = (first as u32, last as u32);
            if !(first..=last).contains(&frame.call_site) {
                return Err(wasmtime::Error::new(ProtocolError(format!(
                    "frame {} from the innermost has call site {}, but the function being rewound has call sites {first}..={last}",
                    depth - 1,
                    frame.call_site
                ))));
            }
            let out = guest_range(data, record, size).ok_or_else(|| {
                ProtocolError(format!(
                    "frame record at {record:#x} ({size} bytes) is outside memory"
                ))
            })?;
            if out.len() != frame.record.len() {
                return Err(wasmtime::Error::new(ProtocolError(format!(
                    "call site {} keeps a {}-byte record, but the checkpoint holds {} bytes",
                    frame.call_site,
                    out.len(),
                    frame.record.len()
                ))));
            }
            out.copy_from_slice(&frame.record);
            Ok(frame.call_site as i32)
        },
    )?;
    Ok(())
}

fn guest_range(data: &mut [u8], address: i64, size: i64) -> Option<&mut [u8]> {
    let start = usize::try_from(address).ok()?;
    let size = usize::try_from(size).ok()?;
    data.get_mut(start..start.checked_add(size)?)
}
