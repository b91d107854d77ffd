//! `xisa restore FILE`: resume a checkpoint on any target of its image.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use xisa_format::checkpoint::{CheckpointFile, PageCheck};
use xisa_format::image::Image;
use xisa_format::target::Target;
use xisa_runtime::page_stream::RemotePages;
use xisa_runtime::{RestoreMemory, RestorePlan, Session};

use crate::commands::capture::CaptureArgs;
use crate::commands::info::hex;
use crate::commands::run::finish;
use crate::machines::{BackendChoice, Executor, parse_backend, parse_target};
use crate::report::with_hint;

#[derive(clap::Args)]
pub struct Args {
    /// The checkpoint to resume.
    checkpoint: PathBuf,
    /// The image the checkpoint was captured from (default: the image with the checkpoint's
    /// identity in the checkpoint's folder or the current folder).
    #[arg(long)]
    image: Option<PathBuf>,
    /// Target to resume on: x86_64, aarch64 or wasm64 (default: the host's ISA).
    #[arg(long, value_parser = parse_target)]
    target: Option<Target>,
    /// How to run a native target: kvm, emu or process (default: kvm when /dev/kvm opens
    /// and the target is the host's, else emu).
    #[arg(long, value_parser = parse_backend)]
    backend: Option<BackendChoice>,
    /// Make a host folder visible to the guest: HOST[:GUEST]; give the same folders the
    /// captured run had (open files are reopened by their guest paths).
    #[arg(long = "dir", value_name = "HOST[:GUEST]")]
    dirs: Vec<String>,
    /// Overwrite every register and native-stack byte that is not part of a neutral frame
    /// with a pattern before resuming (a self-test of the migration contract).
    #[arg(long)]
    poison: bool,
    /// Write every page of the checkpoint into guest memory before resuming, instead of
    /// starting at once and filling each page on first touch (with the rest filled in the
    /// background).
    #[arg(long)]
    eager: bool,
    /// Write one byte to this open descriptor (then close it) once the guest is about to run:
    /// how a node learns that a guest it received runs.
    #[arg(long, value_name = "FD", hide = true)]
    ready_fd: Option<i32>,
    /// Take the pages from the post-copy page stream at SOCKET (a node's bridge to the
    /// source machine) instead of the checkpoint, which then holds none.
    #[arg(long, value_name = "SOCKET", hide = true)]
    page_server: Option<PathBuf>,
    #[command(flatten)]
    capture: CaptureArgs,
}

pub fn run(args: Args, verbose: u8) -> anyhow::Result<ExitCode> {
    // Listen for capture requests before opening and checking the checkpoint: until then
    // SIGUSR1 would still end the process.
    let policy = args.capture.policy()?;
    let started = Instant::now();
    // A lazy restore decodes each page when it fills it (and fails the run if one is bad), so
    // opening checks only the pages' frames.
    let pages = if args.eager {
        PageCheck::Decode
    } else {
        PageCheck::FrameOnly
    };
    let file = open_checkpoint(&args.checkpoint, pages, "restore")?;
    let opened = started.elapsed();
    let image_path = match &args.image {
        Some(path) => path.clone(),
        None => find_image(&args.checkpoint, &file)?,
    };
    let image = Image::open(&image_path)
        .with_context(|| format!("cannot read the image {}", image_path.display()))?;
    let executor = Executor::choose(args.target, args.backend)?;
    let target = executor.target;
    if !image.targets().contains(&target) {
        return Err(with_hint(
            anyhow::anyhow!("{} has no {target} program", image_path.display()),
            "choose another --target",
        ));
    }
    let mounts = args
        .dirs
        .iter()
        .map(|d| crate::commands::run::parse_mount(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if verbose > 0 {
        eprintln!(
            "xisa: restoring {} (captured on {}) on {}",
            args.checkpoint.display(),
            file.source_target(),
            executor.describe()
        );
    }
    let context = || format!("cannot restore {}", args.checkpoint.display());
    let plan = RestorePlan::new(&file, &image, target, started).with_context(context)?;
    let guest = plan.guest(&image, &mounts, policy).with_context(context)?;
    let machine = executor
        .machine(&image, plan.map, guest)
        .with_context(context)?;
    let machine_ready = started.elapsed();
    let memory = if args.eager {
        RestoreMemory::Eager
    } else {
        RestoreMemory::Lazy
    };
    let remote = match &args.page_server {
        None => None,
        Some(socket) => {
            if file.own_pages().next().is_some() || file.parent_digest().is_some() {
                anyhow::bail!(
                    "{} holds pages: a post-copy restore takes every page from the page stream",
                    args.checkpoint.display()
                );
            }
            Some(RemotePages::connect(socket).with_context(context)?)
        }
    };
    let session = Session::restore(&image, machine, &file, remote, plan, args.poison, memory)
        .with_context(context)?;
    if let Some(fd) = args.ready_fd {
        signal_ready(fd);
    }
    if verbose > 1 {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        eprintln!(
            "xisa: restore phases: checkpoint opened and checked {:.2} ms, machine ready {:.2} ms, memory and frames in place {:.2} ms",
            ms(opened),
            ms(machine_ready),
            ms(started.elapsed())
        );
    }
    let summary = session.run().with_context(context)?;
    let status = finish(summary, &args.capture, verbose);
    if verbose > 0 {
        eprintln!("xisa: guest exited with status {status}");
    }
    Ok(ExitCode::from(status as u8))
}

/// Opens a checkpoint with its chain of parents; `doing` says what for in the error.
pub fn open_checkpoint(
    path: &Path,
    pages: PageCheck,
    doing: &str,
) -> anyhow::Result<CheckpointFile> {
    CheckpointFile::open_checking(path, pages).map_err(|error| {
        let parent = matches!(error, xisa_format::checkpoint::CheckpointError::Parent(_));
        let error = anyhow::Error::new(error).context(format!("cannot {doing} {}", path.display()));
        if parent {
            with_hint(
                error,
                "an incremental checkpoint needs the checkpoint it was captured against: put that file beside it, unchanged",
            )
        } else {
            error
        }
    })
}

/// Looks for the checkpoint's image next to it and in the current folder.
pub fn find_image(checkpoint: &Path, file: &CheckpointFile) -> anyhow::Result<PathBuf> {
    let wanted = file.image_id();
    let matches = |candidate: &Path| Image::open(candidate).is_ok_and(|image| image.id() == wanted);
    // Where the image was at the capture comes first: `make` names images like the program.
    let hint = file.image_hint();
    if let Some(hint) = hint.filter(|hint| matches(hint)) {
        return Ok(hint.to_path_buf());
    }
    let mut folders = vec![
        checkpoint
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf(),
    ];
    folders.push(PathBuf::from("."));
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        let mut candidates: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "xisa"))
            .collect();
        candidates.sort();
        if let Some(found) = candidates.into_iter().find(|c| matches(c)) {
            return Ok(found);
        }
    }
    let at_capture = match hint {
        Some(hint) if hint.exists() => format!(
            "; {} (where the image was at the capture) is now a different image",
            hint.display()
        ),
        Some(hint) => format!(
            "; {} (where the image was at the capture) no longer exists",
            hint.display()
        ),
        None => String::new(),
    };
    Err(with_hint(
        anyhow::anyhow!(
            "no image with identity {} next to {} or in the current folder{at_capture}",
            hex(&wanted),
            checkpoint.display()
        ),
        "name the image with --image",
    ))
}

/// Tells whoever holds the other end of `fd` that the guest runs.
fn signal_ready(fd: i32) {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    // SAFETY: the caller handed this descriptor to us for exactly this use; it is owned (and
    // closed) here and nowhere else.
    let mut ready = unsafe { std::fs::File::from_raw_fd(fd) };
    let _ = ready.write_all(b"r");
}
