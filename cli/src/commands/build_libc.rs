//! `xisa build-libc`: builds the sysroot once; later runs are a cache hit.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use xisa_toolchain::libc_build;
use xisa_toolchain::sysroot::Sysroot;

/// The option of `xisa-cc` that builds the sysroot (what `xisa build-libc` runs).
pub const XISA_CC_OPTION: &str = "--build-libc";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// musl 1.2.3 source tree (from `apt-get source musl`).
    #[arg(long)]
    musl_src: PathBuf,
    /// Where to build the sysroot (default: $XISA_SYSROOT or target/xisa-sysroot).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// `xisa build-libc`: runs `xisa-cc --build-libc`, where the compiler lives.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut forwarded: Vec<std::ffi::OsString> = vec![
        XISA_CC_OPTION.into(),
        "--musl-src".into(),
        args.musl_src.into(),
    ];
    if let Some(out) = args.out {
        forwarded.extend(["--out".into(), out.into()]);
    }
    super::toolchain_tool::run(&forwarded)
}

/// In `xisa-cc`: `xisa-cc --build-libc --musl-src DIR [--out DIR]`.
pub fn build(args: Args) -> anyhow::Result<ExitCode> {
    let sysroot = args.out.map(Sysroot::at).unwrap_or_else(Sysroot::locate);
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{spinner} compiling libc {pos}/{len} {wide_bar}")
                .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let start = Instant::now();
    let report = libc_build::build_sysroot(&args.musl_src, &sysroot, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    if report.up_to_date {
        eprintln!(
            "libc is up to date at {} ({} members)",
            sysroot.root().display(),
            report.members
        );
    } else {
        eprintln!(
            "built libc at {} ({} members) in {:.1} s",
            sysroot.root().display(),
            report.members,
            start.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}
