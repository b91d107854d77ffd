//! `xisa info IMAGE`: what an image holds.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use xisa_format::image::Image;
use xisa_format::memory_map::{self, DEFAULT_MEM_TOP, MemoryMap};

#[derive(clap::Args)]
pub struct Args {
    /// The image to describe.
    image: PathBuf,
    /// Print the description as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let image = Image::open(&args.image)
        .with_context(|| format!("cannot read {}", args.image.display()))?;
    let manifest = image.manifest();
    let layout = manifest.layout();
    let map = MemoryMap {
        image: layout,
        mem_top: DEFAULT_MEM_TOP,
    };
    let sections: Vec<serde_json::Value> = image
        .section_sizes()
        .into_iter()
        .map(|(kind, target, size)| serde_json::json!({"kind": kind, "target": target.map(|t| t.to_string()), "bytes": size}))
        .collect();
    let regions = [
        ("null guard", 0..memory_map::NULL_GUARD_END),
        ("private (per target)", memory_map::PRIVATE),
        ("start-up block", memory_map::STARTUP),
        ("shadow-stack guard", memory_map::SHADOW_STACK_GUARD),
        ("shadow stack", memory_map::SHADOW_STACK),
        ("rodata", layout.rodata()),
        ("data", layout.data()),
        ("bss", layout.bss()),
        ("heap (brk) and mmap", map.brk_base()..map.mem_top),
    ];
    if args.json {
        let value = serde_json::json!({
            "image": args.image.display().to_string(),
            "id": hex(&image.id()),
            "bytes": image.file_size(),
            "producer": manifest.producer.as_str(),
            "opt_level": manifest.opt_level.as_str(),
            "abi_version": manifest.abi_version.to_native(),
            "targets": manifest.targets().iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            "sections": sections,
            "symbols": manifest.symbols.len(),
            "function_indices": manifest.functions.len(),
            "call_sites": manifest.call_sites.len(),
            "native_state": manifest.native_state.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            "memory_map": regions.iter().map(|(name, r)| serde_json::json!({"region": name, "start": r.start, "end": r.end})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "image:      {} ({} bytes)",
        args.image.display(),
        image.file_size()
    );
    println!("id:         {}", hex(&image.id()));
    println!(
        "producer:   {} (-{}; ABI {})",
        manifest.producer,
        manifest.opt_level,
        manifest.abi_version.to_native()
    );
    let targets: Vec<String> = manifest.targets().iter().map(|t| t.to_string()).collect();
    println!("targets:    {}", targets.join(", "));
    println!("sections:");
    for (kind, target, size) in image.section_sizes() {
        let name = target.map(|t| t.to_string()).unwrap_or_default();
        println!("  {kind:<9} {name:<8} {size:>10} bytes");
    }
    println!(
        "neutral:    {} symbols, {} function indices",
        manifest.symbols.len(),
        manifest.functions.len()
    );
    if manifest.call_sites.is_empty() {
        println!("migration:  none (built with -fmigration-points=none)");
    } else {
        println!(
            "migration:  {} instrumented call sites",
            manifest.call_sites.len()
        );
    }
    if !manifest.native_state.is_empty() {
        let features: Vec<&str> = manifest.native_state.iter().map(|f| f.as_str()).collect();
        println!(
            "            uses {}: checkpoints resume only on the ISA that captured them",
            features.join(", ")
        );
    }
    println!("memory map (default --mem {} MiB):", DEFAULT_MEM_TOP >> 20);
    for (name, range) in regions {
        println!(
            "  {:#012x}..{:#012x}  {:>10} KiB  {name}",
            range.start,
            range.end,
            (range.end - range.start) / 1024
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
