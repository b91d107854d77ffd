//! `xisa inspect FILE`: what a checkpoint holds, for people (`--json` for scripts).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::Context;
use serde_json::json;
use xisa_format::checkpoint::{DescriptionKind, PageCheck, PageStats};
use xisa_format::image::Image;
use xisa_format::target::Target;

use crate::commands::info::hex;
use crate::commands::restore::{find_image, open_checkpoint};

#[derive(clap::Args)]
pub struct Args {
    /// The checkpoint to describe.
    checkpoint: PathBuf,
    /// The image it was captured from, for function names and source lines (default: found
    /// by identity next to the checkpoint or in the current folder).
    #[arg(long)]
    image: Option<PathBuf>,
    /// Print the description as JSON.
    #[arg(long)]
    json: bool,
}

struct Frame {
    call_site: u32,
    record_bytes: usize,
    function: Option<String>,
    location: Option<String>,
}

pub fn run(args: Args, verbose: u8) -> anyhow::Result<ExitCode> {
    let file = open_checkpoint(&args.checkpoint, PageCheck::Decode, "inspect")?;
    let image_path = match &args.image {
        Some(path) => Some(path.clone()),
        None => find_image(&args.checkpoint, &file).ok(),
    };
    let image = match &image_path {
        Some(path) => Some(
            Image::open(path)
                .with_context(|| format!("cannot read the image {}", path.display()))?,
        ),
        None => None,
    };
    if let Some(image) = &image {
        file.validate_against_image(image).with_context(|| {
            format!(
                "{} does not belong to {}",
                args.checkpoint.display(),
                image_path.as_deref().unwrap_or(Path::new("?")).display()
            )
        })?;
    }
    let summary = file.summary();
    let checkpoint = file.archived();
    let frames: Vec<Frame> = checkpoint
        .threads
        .iter()
        .flat_map(|t| t.frames.iter())
        .map(|frame| {
            let id = frame.call_site.to_native();
            let function = image.as_ref().and_then(|image| {
                image
                    .manifest()
                    .call_sites
                    .iter()
                    .find(|c| c.id.to_native() == id)
                    .map(|c| c.function.to_string())
            });
            Frame {
                call_site: id,
                record_bytes: frame.record.len(),
                function,
                location: None,
            }
        })
        .collect();
    let mut frames = frames;
    if let Some(image) = &image {
        locate(image, &mut frames);
    }
    let personality = &checkpoint.personality;
    let registers = checkpoint.threads.first().map(|t| &t.registers);
    let ratio = |stats: &PageStats| {
        if stats.touched_bytes() == 0 {
            0.0
        } else {
            summary.file_size as f64 / stats.touched_bytes() as f64
        }
    };
    if args.json {
        let value = json!({
            "checkpoint": args.checkpoint.display().to_string(),
            "format_version": xisa_format::checkpoint::FORMAT_VERSION,
            "bytes": summary.file_size,
            "image_id": hex(&summary.image_id),
            "image": image_path.as_ref().map(|p| p.display().to_string()),
            "source_target": summary.source_target.to_string(),
            "created_unix_ms": summary.created_unix_ms,
            "image_hint": summary.image_hint,
            "chain": file.chain().iter().map(|link| json!({
                "path": link.path().map(|p| p.display().to_string()),
                "digest": hex(&link.digest()),
                "bytes": link.file_size(),
                "stored_pages": link.summary().total.pages(),
            })).collect::<Vec<_>>(),
            "abi_version": checkpoint.abi_version.to_native(),
            "mem_top": summary.mem_top,
            "registers": registers.map(|r| json!({
                "shadow_stack_pointer": r.shadow_stack_pointer.to_native(),
                "thread_pointer": r.thread_pointer.to_native(),
            })),
            "frames": frames.iter().map(|f| json!({
                "call_site": f.call_site,
                "record_bytes": f.record_bytes,
                "function": f.function,
                "location": f.location,
            })).collect::<Vec<_>>(),
            "regions": summary.regions.iter().map(|r| json!({
                "start": r.start,
                "length": r.length,
                "pages": pages_json(&r.pages),
            })).collect::<Vec<_>>(),
            "pages": pages_json(&summary.total),
            "size_ratio": ratio(&summary.total),
            "personality": {
                "cwd": String::from_utf8_lossy(personality.cwd.as_slice()),
                "umask": personality.umask.to_native(),
                "brk": personality.brk.to_native(),
                "mmap_regions": personality.mmap_regions.iter().map(|m| json!({"start": m.start.to_native(), "end": m.end.to_native()})).collect::<Vec<_>>(),
                "files": personality.files.iter().map(|f| {
                    let d = &personality.descriptions[f.description.to_native() as usize];
                    json!({
                        "fd": f.fd.to_native(),
                        "kind": kind_name(d.kind),
                        "path": String::from_utf8_lossy(d.path.as_slice()),
                        "flags": d.flags.to_native(),
                        "offset": d.offset.to_native(),
                        "cloexec": f.cloexec,
                    })
                }).collect::<Vec<_>>(),
                "monotonic_ns": personality.monotonic_ns.to_native(),
            },
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "checkpoint: {} ({} bytes, format version {})",
        args.checkpoint.display(),
        summary.file_size,
        xisa_format::checkpoint::FORMAT_VERSION
    );
    println!("image:      {}", hex(&summary.image_id));
    match &image_path {
        Some(path) => println!("            {}", path.display()),
        None => println!("            (not found; give --image for function names)"),
    }
    println!(
        "captured:   on {}, {} ms after the epoch, ABI {}, mem_top {:#x}",
        summary.source_target,
        summary.created_unix_ms,
        checkpoint.abi_version.to_native(),
        summary.mem_top
    );
    for (depth, parent) in file.chain().iter().enumerate().skip(1) {
        println!(
            "parent {depth}:   {} ({} bytes, {} stored pages; stores only pages changed since it)",
            parent
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            parent.file_size(),
            parent.summary().total.pages()
        );
    }
    if let Some(r) = registers {
        println!(
            "registers:  shadow stack {:#x}, thread pointer {:#x}",
            r.shadow_stack_pointer.to_native(),
            r.thread_pointer.to_native()
        );
    }
    println!(
        "frames:     {} ({} record bytes), innermost first",
        summary.frames, summary.record_bytes
    );
    let shown = if verbose > 0 {
        frames.len()
    } else {
        frames.len().min(32)
    };
    for (i, frame) in frames.iter().take(shown).enumerate() {
        let function = frame.function.as_deref().unwrap_or("?");
        let location = frame
            .location
            .as_deref()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        println!(
            "  #{i:<4} call site {:>5}  {:>5} bytes  {function}{location}",
            frame.call_site, frame.record_bytes
        );
    }
    if shown < frames.len() {
        println!("  ... {} more (-v shows all)", frames.len() - shown);
    }
    println!(
        "memory:     {} regions, {} pages ({} zero, {} same as image, {} raw, {} zstd)",
        summary.regions.len(),
        summary.total.pages(),
        summary.total.zero,
        summary.total.same_as_image,
        summary.total.raw,
        summary.total.zstd
    );
    for region in &summary.regions {
        println!(
            "  {:#012x}..{:#012x} {:>7} pages {:>10} stored bytes",
            region.start,
            region.start + region.length,
            region.pages.pages(),
            region.pages.stored_bytes
        );
    }
    println!(
        "size:       {} bytes for {} bytes of changed pages (ratio {:.3})",
        summary.file_size,
        summary.total.touched_bytes(),
        ratio(&summary.total)
    );
    println!(
        "personality: cwd {}, brk {:#x}, {} mmap regions, clock {} ns",
        String::from_utf8_lossy(personality.cwd.as_slice()),
        personality.brk.to_native(),
        personality.mmap_regions.len(),
        personality.monotonic_ns.to_native()
    );
    for f in personality.files.iter() {
        let d = &personality.descriptions[f.description.to_native() as usize];
        let path = String::from_utf8_lossy(d.path.as_slice());
        println!(
            "  fd {:>3}  {:<9} {path:<30} flags {:#o} offset {}",
            f.fd.to_native(),
            kind_name(d.kind),
            d.flags.to_native(),
            d.offset.to_native()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn pages_json(stats: &PageStats) -> serde_json::Value {
    json!({
        "total": stats.pages(),
        "zero": stats.zero,
        "same_as_image": stats.same_as_image,
        "raw": stats.raw,
        "zstd": stats.zstd,
        "stored_bytes": stats.stored_bytes,
        "touched_bytes": stats.touched_bytes(),
    })
}

fn kind_name(kind: u8) -> &'static str {
    match DescriptionKind::from_u8(kind) {
        Some(DescriptionKind::Stdin) => "stdin",
        Some(DescriptionKind::Stdout) => "stdout",
        Some(DescriptionKind::Stderr) => "stderr",
        Some(DescriptionKind::File) => "file",
        Some(DescriptionKind::Directory) => "directory",
        None => "unknown",
    }
}

/// Source lines of the frames' call sites, from a native program's debug information
/// through `llvm-symbolizer` (left empty when either is missing).
fn locate(image: &Image, frames: &mut [Frame]) {
    let manifest = image.manifest();
    let Some((target, program)) = [Target::X86_64, Target::Aarch64]
        .into_iter()
        .find_map(|t| Some((t, manifest.program(t)?)))
    else {
        return;
    };
    let Ok(elf) = image.program(target) else {
        return;
    };
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let path = dir.path().join("program.elf");
    if std::fs::write(&path, elf).is_err() {
        return;
    }
    let addresses: Vec<Option<u64>> = frames
        .iter()
        .map(|frame| {
            program
                .call_sites
                .iter()
                .find(|c| c.id.to_native() == frame.call_site)
                .map(|c| c.return_address.to_native() - 1)
        })
        .collect();
    let mut command = Command::new("llvm-symbolizer-19");
    command
        .arg(format!("--obj={}", path.display()))
        .arg("--no-inlines");
    for address in addresses.iter().flatten() {
        command.arg(format!("{address:#x}"));
    }
    let Ok(output) = command.output() else {
        return;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    // Each address gives a function line, a file:line:column line and a blank line.
    let mut locations = text
        .split("\n\n")
        .map(|block| block.lines().nth(1).unwrap_or("").to_string());
    for (frame, address) in frames.iter_mut().zip(&addresses) {
        if address.is_none() {
            continue;
        }
        let Some(location) = locations.next() else {
            break;
        };
        // Without line tables the symbolizer gives `??` or line 0.
        let line = location.split(':').nth(1).unwrap_or("0");
        if !location.starts_with("??") && line != "0" && !line.is_empty() {
            frame.location = Some(location);
        }
    }
}
