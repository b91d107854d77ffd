//! The host side of `__xisa_syscall`: the import `xisa.syscall`.

use wasmtime::{Caller, Linker};
use xisa_format::abi::{GuestFault, XISA_CALL_FAULT};
use xisa_personality::Outcome;

use crate::Guest;
use crate::trap::{Exit, FaultReport};

pub fn define_imports(linker: &mut Linker<Guest>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "xisa",
        "syscall",
        |mut caller: Caller<'_, Guest>,
         nr: i64,
         a0: i64,
         a1: i64,
         a2: i64,
         a3: i64,
         a4: i64,
         a5: i64|
         -> wasmtime::Result<i64> {
            let nr = nr as u64;
            if nr == XISA_CALL_FAULT {
                let fault = GuestFault::from_code(a0 as u64);
                return Err(wasmtime::Error::new(FaultReport(fault)));
            }
            let Guest { memory, state, .. } = caller.data_mut();
            let args = [a0, a1, a2, a3, a4, a5].map(|a| a as u64);
            match state.personality.syscall(memory, nr, args) {
                Outcome::Return(value) => Ok(value),
                Outcome::Exit(code) => Err(wasmtime::Error::new(Exit(code))),
            }
        },
    )?;
    Ok(())
}
