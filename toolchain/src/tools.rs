//! Locations of the LLVM 19 tools and runtime libraries xisa drives.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::error::{Result, ToolchainError};
use xisa_format::target::Target;

const LLVM_BIN: &str = "/usr/lib/llvm-19/bin";

fn llvm_tool(name: &str) -> PathBuf {
    let path = Path::new(LLVM_BIN).join(name);
    if path.exists() {
        path
    } else {
        PathBuf::from(format!("{name}-19"))
    }
}

pub fn clang() -> PathBuf {
    llvm_tool("clang")
}

pub fn ld_lld() -> PathBuf {
    llvm_tool("ld.lld")
}

pub fn llvm_ar() -> PathBuf {
    llvm_tool("llvm-ar")
}

pub fn llvm_ranlib() -> PathBuf {
    llvm_tool("llvm-ranlib")
}

pub fn wasm_ld() -> PathBuf {
    llvm_tool("wasm-ld")
}

/// clang's own headers (stdatomic.h and friends), searched after the sysroot.
pub fn clang_resource_include() -> PathBuf {
    PathBuf::from("/usr/lib/llvm-19/lib/clang/19/include")
}

/// Soft-float and wide-integer helpers the backends call (`__addtf3`, `__multi3`, ...).
pub fn builtins_library(target: Target) -> PathBuf {
    PathBuf::from(match target {
        Target::X86_64 => "/usr/lib/gcc/x86_64-linux-gnu/12/libgcc.a",
        Target::Aarch64 => "/usr/lib/gcc-cross/aarch64-linux-gnu/12/libgcc.a",
        Target::Wasm64 => "/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm64.a",
    })
}

/// Runs a tool, returning its output; a non-zero exit becomes an error with its stderr.
pub fn run(command: &mut Command) -> Result<Output> {
    let tool = command.get_program().to_string_lossy().into_owned();
    let output = command
        .output()
        .map_err(|source| ToolchainError::ToolMissing {
            tool: tool.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(ToolchainError::Tool {
            tool,
            status: output.status.to_string(),
            output: String::from_utf8_lossy(&output.stderr)
                .trim_end()
                .to_string(),
        });
    }
    Ok(output)
}
