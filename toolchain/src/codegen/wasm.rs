//! Linking the wasm64 program: wasm-ld places the neutral regions at their fixed addresses
//! (they are the module's only data), the function table is imported so the executor can fill
//! it in neutral index order, and `__xisa_syscall` is the host import `xisa.syscall`.

use std::process::Command;

use xisa_format::memory_map::{IMAGE_BASE, PRIVATE};
use xisa_format::target::Target;

use crate::error::{Result, ToolchainError};
use crate::sysroot::Sysroot;
use crate::tools;

pub fn link(object: &[u8], sysroot: &Sysroot) -> Result<Vec<u8>> {
    let dir =
        tempfile::tempdir().map_err(|e| ToolchainError::io("creating a temporary folder", e))?;
    let input = dir.path().join("program.o");
    let output = dir.path().join("program.wasm");
    std::fs::write(&input, object).map_err(|e| ToolchainError::io("writing the wasm object", e))?;
    tools::run(
        Command::new(tools::wasm_ld())
            .arg("-mwasm64")
            .arg(&input)
            .args(sysroot.runtime_objects(Target::Wasm64))
            .arg(tools::builtins_library(Target::Wasm64))
            .arg("-o")
            .arg(&output)
            .arg("--no-entry")
            .arg("--export=__xisa_start")
            .arg("--export-if-defined=__xisa_resume")
            .arg("--import-table")
            // wasm-ld's own stack, unused by neutral code, stays in the private area.
            .arg("--stack-first")
            .arg(format!("-zstack-size={}", PRIVATE.end))
            .arg(format!("--global-base={IMAGE_BASE}"))
            .arg("--no-merge-data-segments"),
    )?;
    std::fs::read(&output).map_err(|e| ToolchainError::io("reading the linked wasm module", e))
}
