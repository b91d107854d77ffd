//! `xisa-cc`: a C compiler driver for build systems (`make CC=xisa-cc`). `xisa-cc --build-libc`
//! builds the libc sysroot (what `xisa build-libc` runs).

use std::process::ExitCode;

use clap::Parser;
use xisa_cli::{commands::build_libc, commands::cc, report};

#[derive(Parser)]
#[command(
    name = "xisa-cc --build-libc",
    about = "Build the libc bitcode and headers from musl source (cached)"
)]
struct BuildLibc {
    #[command(flatten)]
    args: build_libc::Args,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some(build_libc::XISA_CC_OPTION) {
        let parsed = BuildLibc::parse_from(
            std::iter::once("xisa-cc --build-libc".to_string()).chain(args.into_iter().skip(1)),
        );
        build_libc::build(parsed.args)
    } else {
        cc::run_args(args)
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            report::print_error(&error);
            ExitCode::from(1)
        }
    }
}
