//! Turning the ways a guest run stops into outcomes: exit, a Wasm trap, a fault the guest
//! reported itself.

use std::fmt;

use xisa_format::abi::GuestFault;

use xisa_format::target::Target;
use xisa_runtime::Stop;

/// The guest called exit; carried out of Wasmtime as an error to unwind the guest.
#[derive(Debug)]
pub struct Exit(pub i32);

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "guest exited with status {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// The guest reported a fatal condition through `XISA_CALL_FAULT`.
#[derive(Debug)]
pub struct FaultReport(pub Option<GuestFault>);

impl fmt::Display for FaultReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(fault) => f.write_str(fault.describe()),
            None => f.write_str("unknown guest-reported fault"),
        }
    }
}

impl std::error::Error for FaultReport {}

/// A guest that stopped abnormally: what happened and where.
#[derive(Debug, Clone)]
pub struct GuestTrap {
    /// What went wrong, e.g. "out of bounds memory access".
    pub kind: String,
    /// The innermost guest function, when known.
    pub function: Option<String>,
    /// Guest call stack, innermost first.
    pub backtrace: Vec<String>,
    /// Exit status a Linux process would have for this death (128 + signal).
    pub status: i32,
}

impl fmt::Display for GuestTrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "guest trap on wasm64: {}", self.kind)?;
        if let Some(function) = &self.function {
            write!(f, " in function `{function}`")?;
        }
        Ok(())
    }
}

const SIGILL: i32 = 4;
const SIGFPE: i32 = 8;
const SIGSEGV: i32 = 11;
const SIGABRT: i32 = 6;

/// How a guest call that returned an error stopped.
pub fn classify(error: wasmtime::Error) -> Stop {
    if let Some(exit) = error.downcast_ref::<Exit>() {
        return Stop::Exited(exit.0);
    }
    let backtrace: Vec<String> = error
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .map(|trace| {
            trace
                .frames()
                .iter()
                .map(|frame| {
                    frame
                        .func_name()
                        .map(demangle)
                        .unwrap_or_else(|| format!("<function {}>", frame.func_index()))
                })
                .collect()
        })
        .unwrap_or_default();
    let (kind, signal) = if let Some(report) = error.downcast_ref::<FaultReport>() {
        (report.to_string(), SIGSEGV)
    } else if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        let signal = match trap {
            wasmtime::Trap::IntegerDivisionByZero
            | wasmtime::Trap::IntegerOverflow
            | wasmtime::Trap::BadConversionToInteger => SIGFPE,
            wasmtime::Trap::UnreachableCodeReached => SIGILL,
            wasmtime::Trap::MemoryOutOfBounds
            | wasmtime::Trap::TableOutOfBounds
            | wasmtime::Trap::StackOverflow => SIGSEGV,
            wasmtime::Trap::IndirectCallToNull | wasmtime::Trap::BadSignature => SIGSEGV,
            _ => SIGABRT,
        };
        (trap.to_string(), signal)
    } else {
        (format!("{error:#}"), SIGABRT)
    };
    // The innermost frame of a self-reported fault is the reporting helper; name its caller.
    let function = backtrace
        .iter()
        .find(|name| {
            !name.starts_with("__xisa_shadow_stack_overflow") && !name.starts_with("__xisa_fnptr")
        })
        .cloned();
    let trap = GuestTrap {
        kind,
        function,
        backtrace,
        status: 128 + signal,
    };
    Stop::Faulted(xisa_runtime::GuestFault {
        target: Target::Wasm64,
        message: trap.to_string(),
        backtrace: trap.backtrace,
        status: trap.status,
    })
}

fn demangle(name: &str) -> String {
    name.to_string()
}
