//! `xisa-ar`: `ar` for archives of xisa-cc objects (`make CC=xisa-cc AR=xisa-ar`).

fn main() -> std::process::ExitCode {
    xisa_cli::archiver::hand_over("xisa-ar", xisa_toolchain::tools::llvm_ar())
}
