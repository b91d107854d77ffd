//! `xisa cc` and `xisa build-libc` run the `xisa-cc` binary: the compiler links LLVM, and
//! keeping it out of `xisa` saves every `xisa run` the ~10 ms of loading and relocating it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context, anyhow};

const TOOL: &str = "xisa-cc";

/// `xisa-cc` beside the running binary (as installed and as built), else on PATH.
fn locate() -> anyhow::Result<PathBuf> {
    if let Some(beside) = std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name(TOOL))
        .filter(|path| path.is_file())
    {
        return Ok(beside);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(TOOL))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            anyhow!(
                "`{TOOL}` is neither beside `xisa` nor on PATH\n\
                 hint: build both with `cargo build --release --workspace --bins`"
            )
        })
}

/// Runs `xisa-cc ARGS` and passes on its exit status (a signal death as 128 + N).
pub fn run(args: &[OsString]) -> anyhow::Result<ExitCode> {
    let tool = locate()?;
    let status = Command::new(&tool)
        .args(args)
        .status()
        .with_context(|| format!("cannot start {}", tool.display()))?;
    let code = match status.code() {
        Some(code) => code,
        None => {
            use std::os::unix::process::ExitStatusExt;
            128 + status.signal().unwrap_or(0)
        }
    };
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}
