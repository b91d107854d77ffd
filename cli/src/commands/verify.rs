//! `xisa verify IMAGE`: static proof of memory alignment across targets.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use xisa_format::image::Image;
use xisa_toolchain::verify;

#[derive(clap::Args)]
pub struct Args {
    /// The image to check.
    image: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let image = Image::open(&args.image)
        .with_context(|| format!("cannot verify {}", args.image.display()))?;
    match verify::verify(&image) {
        Ok(report) => {
            let targets: Vec<String> = report.targets.iter().map(|t| t.to_string()).collect();
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"ok": true, "targets": targets, "symbols": report.symbols, "relocations_checked": report.checked_relocations})
                );
            } else {
                println!(
                    "verified: {} neutral symbols identical on {} ({} data relocations checked, none points at code)",
                    report.symbols,
                    targets.join(", "),
                    report.checked_relocations
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            if args.json {
                let problems: Vec<String> = failure.0.iter().map(|p| p.to_string()).collect();
                println!("{}", serde_json::json!({"ok": false, "problems": problems}));
            } else {
                eprintln!(
                    "error: {} is not aligned across targets:",
                    args.image.display()
                );
                for problem in &failure.0 {
                    eprintln!("  {problem}");
                }
            }
            Ok(ExitCode::from(1))
        }
    }
}
