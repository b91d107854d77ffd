//! `xisa`: build C programs into multi-target images, check them and run them.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xisa_cli::{commands, report};

#[derive(Parser)]
#[command(name = "xisa", version, about = "Build C programs once, run them on x86-64, AArch64 and wasm64", long_about = None)]
struct Cli {
    /// Show more detail (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile and link C, exactly like `xisa-cc` (accepts the flags `cc` does).
    #[command(disable_help_flag = true)]
    Cc(commands::cc::Args),
    /// Run an image on one of its targets.
    Run(commands::run::Args),
    /// Run an image marked executable (used by the `#!` line images start with).
    #[command(hide = true)]
    Exec(commands::run::ExecArgs),
    /// Resume a checkpoint on any target of its image.
    Restore(commands::restore::Args),
    /// Ask a running `xisa run` to checkpoint at its next migration point.
    Checkpoint(commands::checkpoint::Args),
    /// Show what a checkpoint holds.
    Inspect(commands::inspect::Args),
    /// Check a checkpoint completely (and against its image when given).
    Validate(commands::validate::Args),
    /// Prove that an image's memory layout is identical on every target.
    Verify(commands::verify::Args),
    /// Show an image's targets, sizes and memory map.
    Info(commands::info::Args),
    /// Build the libc bitcode and headers from musl source (cached).
    BuildLibc(commands::build_libc::Args),
    /// Package an image as an OCI image archive for `podman load` (linux/amd64 and linux/arm64).
    OciImage(commands::oci_image::Args),
    /// Cluster nodes: make certificates, serve, run guests on a node, list and wait for them.
    #[command(subcommand)]
    Node(commands::node::NodeCommand),
    /// Move a running guest from its node to another node, on any ISA.
    Migrate(commands::node::MigrateArgs),
    /// The cluster controller: submit jobs, see where they run; it offloads them from busy
    /// servers to boards and takes them back.
    #[command(subcommand)]
    Cluster(commands::cluster::ClusterCommand),
}

fn main() -> ExitCode {
    // Like other command-line tools, end quietly when the reader of our output goes away
    // (`xisa inspect f | head`).
    // SAFETY: restoring the default action of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let command_line: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(args) = commands::run::ExecArgs::from_shebang(&command_line) {
        return finish(commands::run::exec(args, 0));
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Cc(mut args) => {
            // `-v` belongs to the compiler here: clap reads it as the global flag.
            for _ in 0..cli.verbose {
                args.args.insert(0, "-v".into());
            }
            commands::cc::run(args)
        }
        Command::Run(args) => commands::run::run(args, cli.verbose),
        Command::Exec(args) => commands::run::exec(args, cli.verbose),
        Command::Restore(args) => commands::restore::run(args, cli.verbose),
        Command::Checkpoint(args) => commands::checkpoint::run(args),
        Command::Inspect(args) => commands::inspect::run(args, cli.verbose),
        Command::Validate(args) => commands::validate::run(args),
        Command::Verify(args) => commands::verify::run(args),
        Command::Info(args) => commands::info::run(args),
        Command::BuildLibc(args) => commands::build_libc::run(args),
        Command::OciImage(args) => commands::oci_image::run(args),
        Command::Node(command) => commands::node::run(command, cli.verbose),
        Command::Migrate(args) => commands::node::migrate(args),
        Command::Cluster(command) => commands::cluster::run(command, cli.verbose),
    };
    finish(result)
}

fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(error) => {
            report::print_error(&error);
            ExitCode::from(1)
        }
    }
}
