//! xisa-cc and the build pipeline: C sources to one multi-target image.

pub mod codegen;
pub mod compile;
pub mod driver;
pub mod error;
pub mod ir;
pub mod libc_build;
pub mod link;
pub mod pipeline;
pub mod sysroot;
pub mod target;
pub mod tools;
pub mod verify;

pub use error::{Result, ToolchainError};
