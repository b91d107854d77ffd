//! Per-ISA pieces of the monitor: how a guest is booted and how its faults read.

pub mod x86_64;
