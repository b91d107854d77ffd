//! The `xisa` command line: subcommands shared by the `xisa` and `xisa-cc` binaries.

pub mod commands;
pub mod machines;
pub mod report;
