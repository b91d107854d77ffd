//! `xisa cc` / `xisa-cc`: the compiler driver.

use std::ffi::OsString;
use std::process::ExitCode;

use xisa_toolchain::{ToolchainError, driver, pipeline};

#[derive(clap::Args)]
pub struct Args {
    /// Arguments as for `cc` (see `xisa cc --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<OsString>,
}

const HELP: &str = "\
xisa-cc: compile C into one image for x86-64, AArch64 and wasm64

Usage: xisa-cc [OPTIONS] FILE...

  -c                 compile to an object (LLVM bitcode) only
  -o FILE            output file (default a.out for images)
  -E, -S             preprocess only / emit LLVM IR text
  -O0 .. -O3, -Os    optimisation level of the whole-program optimisation (default -O2)
  -I -D -U -include  preprocessor flags, passed to clang
  -std= -W* -f* -g   language, warning, feature and debug flags, passed to clang
  -M -MD -MMD -MF    dependency files
  -l NAME, -L DIR    link lib<NAME>.a (built with xisa-cc); -lm, -lpthread, ... are part of libc
  -v                 show the commands and timings

Inputs: .c sources, .o objects and .a archives made by xisa-cc.
Flags that would make targets behave differently (-march, -ffast-math, ...) are refused.";

/// `xisa cc`: runs the `xisa-cc` beside this binary, which holds the compiler (and LLVM, so
/// that `xisa run` starts without loading it).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::toolchain_tool::run(&args.args)
}

/// The compiler itself, in the `xisa-cc` binary.
pub fn run_args(args: Vec<String>) -> anyhow::Result<ExitCode> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{HELP}");
        return Ok(ExitCode::SUCCESS);
    }
    let invocation = driver::parse(&args)?;
    match pipeline::run(&invocation) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // clang already printed its diagnostics in its own format.
        Err(ToolchainError::Frontend) => Ok(ExitCode::from(1)),
        Err(error) => Err(error.into()),
    }
}
