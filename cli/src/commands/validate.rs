//! `xisa validate FILE [IMAGE]`: the full check of a checkpoint, alone or against its image.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use xisa_converters::snapshot;
use xisa_format::checkpoint::PageCheck;
use xisa_format::image::Image;

use crate::commands::restore::open_checkpoint;

#[derive(clap::Args)]
pub struct Args {
    /// The checkpoint to check.
    checkpoint: PathBuf,
    /// The image it was captured from: also checks identity, layout and every frame.
    image: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let result = check(&args);
    if args.json {
        let value = match &result {
            Ok(links) => serde_json::json!({"valid": true, "chain": links}),
            Err(error) => serde_json::json!({
                "valid": false,
                "error": error.chain().map(|e| e.to_string()).collect::<Vec<_>>().join(": "),
            }),
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(if result.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let links = result?;
    let chain = match links {
        0 | 1 => String::new(),
        n => format!(" (with its {} parent checkpoint(s))", n - 1),
    };
    match &args.image {
        Some(image) => println!(
            "{}: valid checkpoint of {}{chain}",
            args.checkpoint.display(),
            image.display()
        ),
        None => println!("{}: valid checkpoint{chain}", args.checkpoint.display()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Checks the checkpoint and its parents; returns how many files the chain has.
fn check(args: &Args) -> anyhow::Result<usize> {
    let file = open_checkpoint(&args.checkpoint, PageCheck::Decode, "validate")?;
    if let Some(path) = &args.image {
        let image = Image::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        snapshot::validate_for_image(&file, &image).with_context(|| {
            format!(
                "{} does not belong to {}",
                args.checkpoint.display(),
                path.display()
            )
        })?;
    }
    Ok(file.chain().len())
}
