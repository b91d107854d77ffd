//! LLVM code generation settings of each target.

pub use xisa_format::target::Target;

pub trait CodegenSettings {
    /// LLVM triple used for code generation.
    fn triple(self) -> &'static str;
    fn cpu(self) -> &'static str;
    fn features(self) -> &'static str;
}

impl CodegenSettings for Target {
    /// Native targets use the bare-metal OS so that no OS-specific thread-pointer conventions
    /// (such as `%fs`-relative stack guards) are assumed.
    fn triple(self) -> &'static str {
        match self {
            Target::X86_64 => "x86_64-unknown-none-elf",
            Target::Aarch64 => "aarch64-unknown-none-elf",
            Target::Wasm64 => "wasm64-unknown-unknown",
        }
    }

    fn cpu(self) -> &'static str {
        match self {
            Target::X86_64 => "x86-64",
            Target::Aarch64 | Target::Wasm64 => "generic",
        }
    }

    fn features(self) -> &'static str {
        match self {
            Target::X86_64 => "",
            Target::Aarch64 => "+neon,+fp-armv8",
            Target::Wasm64 => {
                "+simd128,+bulk-memory,+nontrapping-fptoint,+sign-ext,+mutable-globals"
            }
        }
    }
}

/// The data layout of the shared IR: wasm64's, with 128-bit integers 16-byte aligned as the
/// front end already lays them out and as both native targets do.
pub const NEUTRAL_DATA_LAYOUT: &str =
    "e-m:e-p:64:64-p10:8:8-p20:8:8-i64:64-i128:128-n32:64-S128-ni:1:10:20";

/// Triple of the shared IR.
pub const NEUTRAL_TRIPLE: &str = "wasm64-unknown-unknown";
