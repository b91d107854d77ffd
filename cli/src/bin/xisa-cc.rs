//! `xisa-cc`: a C compiler driver for build systems (`make CC=xisa-cc`).

use std::process::ExitCode;

use xisa_cli::{commands::cc, report};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cc::run_args(args) {
        Ok(code) => code,
        Err(error) => {
            report::print_error(&error);
            ExitCode::from(1)
        }
    }
}
