//! The Wasmtime engine configuration for xisa guests.

use wasmtime::{Config, Engine, OptLevel};

/// Wasm frames of deeply recursive guests need far more than Wasmtime's default stack.
pub const WASM_STACK: usize = 256 << 20;

pub fn engine(mem_top: u64) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config
        .wasm_memory64(true)
        .wasm_simd(true)
        .wasm_bulk_memory(true)
        .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(64))
        .cranelift_opt_level(OptLevel::Speed)
        .max_wasm_stack(WASM_STACK)
        // Only checked against max_wasm_stack: guests never run asynchronously.
        .async_stack_size(WASM_STACK + (1 << 20))
        // Reserve the whole guest address space up front so growing memory never moves it.
        .memory_reservation(mem_top.next_power_of_two().max(1 << 32))
        .memory_may_move(false);
    Engine::new(&config)
}
