//! Neutral formats shared by every part of xisa: the memory map, the multi-target image file
//! and the checkpoint. Pure data and validation; no executor code and no I/O policy.

pub mod abi;
pub mod checkpoint;
mod coded_enum;
mod error_chain;
mod file_bytes;
mod file_kind;
pub mod image;
pub mod memory_map;
pub mod output;
pub mod page_stream;
pub mod target;

pub use error_chain::error_chain;
