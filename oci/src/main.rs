//! `xisa-oci`: an OCI runtime (the commands Podman, conmon and CRI-O call on runc or crun)
//! whose containers are `.xisa` images run by the `xisa` command.

mod bundle;
mod commands;
mod error;
mod process;
mod state;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::error::OciError;

#[derive(Parser)]
#[command(name = "xisa-oci", version, about = "OCI runtime for .xisa images", long_about = None)]
pub struct Cli {
    /// Folder for container state (default: /run/xisa-oci, or $XDG_RUNTIME_DIR/xisa-oci).
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    /// Also write errors to this file (Podman reads it).
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Format of --log: text or json.
    #[arg(long, global = true, default_value = "text")]
    log_format: String,
    /// Run every container on this target (overrides the run.xisa.target annotation).
    #[arg(long, global = true)]
    target: Option<String>,
    /// Run native targets with this backend (overrides run.xisa.backend).
    #[arg(long, global = true)]
    backend: Option<String>,
    /// Accepted and ignored (cgroups are not used).
    #[arg(long, global = true, hide = true)]
    systemd_cgroup: bool,
    #[arg(long, global = true, hide = true)]
    cgroup_manager: Option<String>,
    #[arg(long, global = true, hide = true)]
    debug: bool,
    #[arg(long, global = true, hide = true)]
    log_level: Option<String>,
    #[arg(long, global = true, hide = true)]
    rootless: Option<String>,
    #[arg(long, global = true, hide = true)]
    criu: Option<String>,
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = cli.log.clone();
    let json = cli.log_format == "json";
    match commands::run(cli) {
        Ok(code) => code,
        Err(error) => {
            report(&error, log, json);
            ExitCode::from(1)
        }
    }
}

/// Prints an error with its causes and hint to stderr and to the --log file.
fn report(error: &OciError, log: Option<PathBuf>, json: bool) {
    let mut message = format!("xisa-oci: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    if let Some(hint) = error.hint() {
        message.push_str(&format!(" (hint: {hint})"));
    }
    eprintln!("{message}");
    if let Some(path) = log
        && let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let line = if json {
            serde_json::json!({"level": "error", "msg": message}).to_string()
        } else {
            message
        };
        let _ = writeln!(file, "{line}");
    }
}
