//! `xisa-ar` and `xisa-ranlib`: the archivers for bitcode objects. GNU ar and ranlib cannot
//! read LLVM 19 bitcode (they print a plugin error per object and write no symbol index);
//! LLVM's own tools index bitcode symbols silently, so these hand over to them.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// Replaces this process with `tool` and the arguments this one was given.
pub fn hand_over(name: &str, tool: PathBuf) -> ExitCode {
    let error = Command::new(&tool).args(std::env::args_os().skip(1)).exec();
    eprintln!(
        "{name}: cannot run {}: {error}\n  hint: LLVM 19 is missing; scripts/setup installs it (llvm-19)",
        tool.display()
    );
    ExitCode::from(127)
}
