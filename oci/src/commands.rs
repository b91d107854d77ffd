//! The runtime's subcommands, with the flags runc and crun take.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use crate::Cli;
use crate::bundle::Plan;
use crate::error::OciError;
use crate::process;
use crate::state::{Record, Root, Status, default_root, process_start_time};

/// The neutral checkpoint's name inside a checkpoint's image path.
pub const CHECKPOINT_FILE: &str = "xisa.ckpt";

/// The file Podman looks for to decide that a checkpoint folder is complete.
const PODMAN_MARKER: &str = "inventory.img";
const MARKER_TEXT: &str = "This is not a CRIU image. The checkpoint in this folder is the ISA-neutral xisa \
checkpoint xisa.ckpt; Podman only checks that inventory.img exists.\n";

#[derive(Subcommand)]
pub enum Command {
    /// Create a container: start its `xisa` process, held until `start`.
    Create {
        #[arg(long, short, default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        pid_file: Option<PathBuf>,
        #[arg(long)]
        console_socket: Option<PathBuf>,
        #[arg(long, hide = true)]
        no_pivot: bool,
        #[arg(long, hide = true)]
        no_new_keyring: bool,
        #[arg(long, hide = true)]
        preserve_fds: Option<u32>,
        id: String,
    },
    /// Let a created container's program begin.
    Start { id: String },
    /// Print a container's OCI state as JSON.
    State { id: String },
    /// Send a signal to a container's process (default TERM).
    Kill {
        #[arg(long, short)]
        all: bool,
        id: String,
        #[arg(default_value = "TERM")]
        signal: String,
    },
    /// Remove a stopped container (--force stops it first).
    Delete {
        #[arg(long, short)]
        force: bool,
        id: String,
    },
    /// Print what this runtime supports as JSON.
    Features,
    /// List a container's processes.
    Ps {
        #[arg(long, short, default_value = "table")]
        format: String,
        id: String,
    },
    /// Capture a running container at its next migration point into an ISA-neutral
    /// checkpoint (the container stops).
    Checkpoint {
        #[arg(long, default_value = "checkpoint")]
        image_path: PathBuf,
        #[arg(long)]
        work_path: Option<PathBuf>,
        #[arg(long)]
        leave_running: bool,
        #[command(flatten)]
        criu: CriuFlags,
        id: String,
    },
    /// Resume a checkpoint as a running container, on any target.
    Restore {
        #[arg(long, default_value = "checkpoint")]
        image_path: PathBuf,
        #[arg(long)]
        work_path: Option<PathBuf>,
        #[arg(long, short, default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        pid_file: Option<PathBuf>,
        #[arg(long)]
        console_socket: Option<PathBuf>,
        #[arg(long, short)]
        detach: bool,
        #[command(flatten)]
        criu: CriuFlags,
        id: String,
    },
    /// Not supported: xisa guests are single programs.
    #[command(hide = true)]
    Exec {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
}

/// CRIU options runc accepts; accepted and ignored (the checkpoint is xisa's own).
#[derive(clap::Args)]
pub struct CriuFlags {
    #[arg(long, hide = true)]
    tcp_established: bool,
    #[arg(long, hide = true)]
    ext_unix_sk: bool,
    #[arg(long, hide = true)]
    shell_job: bool,
    #[arg(long, hide = true)]
    file_locks: bool,
    #[arg(long, hide = true)]
    pre_dump: bool,
    #[arg(long, hide = true)]
    parent_path: Option<PathBuf>,
    #[arg(long, hide = true)]
    manage_cgroups_mode: Option<String>,
    #[arg(long, hide = true)]
    lsm_profile: Option<String>,
    #[arg(long, hide = true)]
    lsm_mount_context: Option<String>,
    #[arg(long, hide = true)]
    auto_dedup: bool,
    #[arg(long, hide = true)]
    lazy_pages: bool,
    #[arg(long, hide = true)]
    no_subreaper: bool,
}

fn xisa_binary() -> Result<PathBuf, OciError> {
    let exe = std::env::current_exe().map_err(|e| OciError::io("cannot find xisa-oci", e))?;
    let xisa = exe.with_file_name("xisa");
    if !xisa.is_file() {
        return Err(OciError::io(
            format!("no xisa command next to {}", exe.display()),
            std::io::ErrorKind::NotFound.into(),
        ));
    }
    Ok(xisa)
}

fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// The `--dir`, `--target`, `--backend` and `--checkpoint-to` options every launch passes.
fn common_args(plan: &Plan, cli: &Cli, capture: &Path) -> Vec<String> {
    let mut args = Vec::new();
    for (host, guest) in &plan.dirs {
        args.push("--dir".into());
        args.push(format!("{}:{guest}", host.display()));
    }
    if let Some(target) = cli.target.as_ref().or(plan.target.as_ref()) {
        args.extend(["--target".into(), target.clone()]);
    }
    if let Some(backend) = cli.backend.as_ref().or(plan.backend.as_ref()) {
        args.extend(["--backend".into(), backend.clone()]);
    }
    args.extend(["--checkpoint-to".into(), capture.display().to_string()]);
    args
}

fn refuse_terminal(plan: &Plan, console: &Option<PathBuf>) -> Result<(), OciError> {
    if plan.terminal || console.is_some() {
        return Err(OciError::Unsupported {
            what: "a terminal (podman -t)".into(),
            why: "the guest's stdio is the container's pipes; run without -t".into(),
        });
    }
    Ok(())
}

fn write_pid_file(path: &Option<PathBuf>, pid: i32) -> Result<(), OciError> {
    if let Some(path) = path {
        std::fs::write(path, pid.to_string())
            .map_err(|e| OciError::io(format!("cannot write {}", path.display()), e))?;
    }
    Ok(())
}

/// Starts the container process and records it; `held` keeps it at the exec fifo.
fn launch(
    root: &Root,
    id: &str,
    bundle: &Path,
    plan: &Plan,
    args: Vec<String>,
    held: bool,
) -> Result<Record, OciError> {
    let fifo = root.fifo(id);
    if held {
        process::make_fifo(&fifo)?;
    }
    let pid = process::spawn(&xisa_binary()?, &args, held.then_some(fifo.as_path()))?;
    let record = Record {
        id: id.into(),
        pid,
        start_time: process_start_time(pid).unwrap_or(0),
        bundle: bundle.to_path_buf(),
        started: !held,
        created: now(),
        annotations: plan.annotations.clone(),
    };
    root.save(&record)?;
    Ok(record)
}

/// The bundle's absolute path and what its config asks for, refusing a terminal.
fn load_bundle(
    bundle: &Path,
    console_socket: &Option<PathBuf>,
) -> Result<(PathBuf, Plan), OciError> {
    let bundle = std::path::absolute(bundle)
        .map_err(|e| OciError::io("cannot resolve the bundle path", e))?;
    let plan = Plan::load(&bundle)?;
    refuse_terminal(&plan, console_socket)?;
    Ok((bundle, plan))
}

pub fn run(cli: Cli) -> Result<ExitCode, OciError> {
    let root = Root::new(cli.root.clone().unwrap_or_else(default_root));
    match &cli.command {
        Command::Create {
            bundle,
            pid_file,
            console_socket,
            id,
            ..
        } => {
            let (bundle, plan) = load_bundle(bundle, console_socket)?;
            root.create(id)?;
            let mut args = vec!["run".to_string(), plan.image.display().to_string()];
            args.extend(common_args(&plan, &cli, &root.capture(id)));
            for entry in plan.env.iter().filter(|e| e.contains('=')) {
                args.extend(["--env".into(), entry.clone()]);
            }
            if let Some(mem) = &plan.mem {
                args.extend(["--mem".into(), mem.clone()]);
            }
            args.extend(["--cwd".into(), plan.cwd.clone()]);
            args.push("--".into());
            args.extend(plan.args.iter().cloned());
            let record = match launch(&root, id, &bundle, &plan, args, true) {
                Ok(record) => record,
                Err(error) => {
                    let _ = root.remove(id);
                    return Err(error);
                }
            };
            write_pid_file(pid_file, record.pid)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Start { id } => {
            let mut record = root.load(id)?;
            let status = record.status();
            if status != Status::Created {
                return Err(OciError::WrongStatus {
                    id: id.clone(),
                    status: status.name().into(),
                    needed: "only a created container can be started",
                });
            }
            record.started = true;
            root.save(&record)?;
            process::release(&root.fifo(id), record.pid, record.start_time)?;
            let _ = std::fs::remove_file(root.fifo(id));
            Ok(ExitCode::SUCCESS)
        }
        Command::State { id } => {
            let record = root.load(id)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&record.oci_state()).expect("json")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Kill { id, signal, .. } => {
            let record = root.load(id)?;
            let number = process::parse_signal(signal)?;
            if record.status() == Status::Stopped {
                return Err(OciError::WrongStatus {
                    id: id.clone(),
                    status: "stopped".into(),
                    needed: "cannot signal it",
                });
            }
            process::signal(record.pid, number)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Delete { force, id } => {
            let record = match root.load(id) {
                Ok(record) => record,
                Err(OciError::NoContainer(_)) if *force => return Ok(ExitCode::SUCCESS),
                Err(error) => return Err(error),
            };
            if record.status() != Status::Stopped {
                if !force {
                    return Err(OciError::WrongStatus {
                        id: id.clone(),
                        status: record.status().name().into(),
                        needed: "stop it first or use --force",
                    });
                }
                process::signal(record.pid, libc::SIGKILL)?;
                process::wait_gone(record.pid, record.start_time, Duration::from_secs(10));
            }
            root.remove(id)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Features => {
            let features = serde_json::json!({
                "ociVersionMin": "1.0.0",
                "ociVersionMax": "1.1.0",
                "hooks": [],
                "mountOptions": ["bind", "rbind"],
                "linux": {"namespaces": [], "capabilities": [], "cgroup": {"v1": false, "v2": false}},
                "annotations": {
                    "run.xisa.target": "x86_64|aarch64|wasm64",
                    "run.xisa.backend": "kvm|emu|process",
                    "run.xisa.mem": "guest memory size, e.g. 4G",
                    "io.github.seccomp.libseccomp.version": "none",
                    "org.criu.config": "none: checkpoints are ISA-neutral xisa checkpoints"
                },
            });
            println!("{}", serde_json::to_string_pretty(&features).expect("json"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Ps { format, id } => {
            let record = root.load(id)?;
            let pids: Vec<i32> = if record.status() == Status::Stopped {
                vec![]
            } else {
                vec![record.pid]
            };
            if format == "json" {
                println!("{}", serde_json::to_string(&pids).expect("json"));
            } else {
                println!("PID");
                for pid in pids {
                    println!("{pid}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Checkpoint {
            image_path,
            leave_running,
            id,
            ..
        } => {
            if *leave_running {
                return Err(OciError::Unsupported {
                    what: "--leave-running".into(),
                    why: "a capture ends the run at the migration point it is taken at, so the output after it is not duplicated on restore".into(),
                });
            }
            let record = root.load(id)?;
            if record.status() != Status::Running {
                return Err(OciError::WrongStatus {
                    id: id.clone(),
                    status: record.status().name().into(),
                    needed: "only a running container can be checkpointed",
                });
            }
            let capture = root.capture(id);
            let _ = std::fs::remove_file(&capture);
            process::signal(record.pid, libc::SIGUSR1)?;
            process::wait_gone(record.pid, record.start_time, Duration::MAX);
            if !capture.is_file() {
                return Err(OciError::NoCapture);
            }
            std::fs::create_dir_all(image_path)
                .map_err(|e| OciError::io(format!("cannot create {}", image_path.display()), e))?;
            let destination = image_path.join(CHECKPOINT_FILE);
            std::fs::copy(&capture, &destination)
                .map_err(|e| OciError::io(format!("cannot write {}", destination.display()), e))?;
            // Podman restores only from a folder holding `inventory.img` (it checks that the
            // file exists and never reads it). Say plainly what the folder holds instead.
            let marker = image_path.join(PODMAN_MARKER);
            std::fs::write(&marker, MARKER_TEXT)
                .map_err(|e| OciError::io(format!("cannot write {}", marker.display()), e))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore {
            image_path,
            bundle,
            pid_file,
            console_socket,
            detach,
            id,
            ..
        } => {
            let (bundle, plan) = load_bundle(bundle, console_socket)?;
            let checkpoint = std::path::absolute(image_path.join(CHECKPOINT_FILE))
                .map_err(|e| OciError::io("cannot resolve the image path", e))?;
            if !checkpoint.is_file() {
                return Err(OciError::io(
                    format!("no xisa checkpoint {}", checkpoint.display()),
                    std::io::ErrorKind::NotFound.into(),
                ));
            }
            root.create(id)?;
            // Podman removes the image path as soon as the restore command returns, before
            // `xisa` has read it: resume from a copy of our own.
            let own = root.dir(id).join("restore.ckpt");
            if let Err(e) = std::fs::copy(&checkpoint, &own) {
                let _ = root.remove(id);
                return Err(OciError::io(
                    format!("cannot copy {}", checkpoint.display()),
                    e,
                ));
            }
            let mut args = vec![
                "restore".to_string(),
                own.display().to_string(),
                "--image".into(),
                plan.image.display().to_string(),
            ];
            args.extend(common_args(&plan, &cli, &root.capture(id)));
            let record = match launch(&root, id, &bundle, &plan, args, false) {
                Ok(record) => record,
                Err(error) => {
                    let _ = root.remove(id);
                    return Err(error);
                }
            };
            write_pid_file(pid_file, record.pid)?;
            if *detach {
                return Ok(ExitCode::SUCCESS);
            }
            Ok(ExitCode::from(process::wait_child(record.pid) as u8))
        }
        Command::Exec { .. } => Err(OciError::Unsupported {
            what: "exec (podman exec)".into(),
            why: "a container is one xisa guest program, with no shell to run more in".into(),
        }),
    }
}
