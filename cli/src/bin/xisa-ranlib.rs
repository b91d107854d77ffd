//! `xisa-ranlib`: `ranlib` for archives of xisa-cc objects (`make RANLIB=xisa-ranlib`).

fn main() -> std::process::ExitCode {
    xisa_cli::archiver::hand_over("xisa-ranlib", xisa_toolchain::tools::llvm_ranlib())
}
