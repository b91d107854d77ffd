//! The `xisa` command line: subcommands shared by the `xisa`, `xisa-cc`, `xisa-ar` and `xisa-ranlib` binaries.

pub mod archiver;
pub mod commands;
pub mod machines;
pub mod report;
