//! x86-64: the long-mode environment and fault decoding.

pub mod boot;
pub mod decode;
