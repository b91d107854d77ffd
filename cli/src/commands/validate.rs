//! `xisa validate FILE [IMAGE]`: the full check of a checkpoint, alone or against its image.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use xisa_converters::snapshot;
use xisa_format::checkpoint::CheckpointFile;
use xisa_format::image::Image;

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
            Ok(()) => serde_json::json!({"valid": true}),
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
    result?;
    match &args.image {
        Some(image) => println!(
            "{}: valid checkpoint of {}",
            args.checkpoint.display(),
            image.display()
        ),
        None => println!("{}: valid checkpoint", args.checkpoint.display()),
    }
    Ok(ExitCode::SUCCESS)
}

fn check(args: &Args) -> anyhow::Result<()> {
    let file = CheckpointFile::open(&args.checkpoint)
        .with_context(|| format!("{} is not a valid checkpoint", args.checkpoint.display()))?;
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
    Ok(())
}
