//! `xisa cluster ...`: run the controller, submit jobs to it, and see the cluster.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use xisa_cluster::controller::{self, ControllerConfig, ControllerError};
use xisa_node::client;
use xisa_node::wire::{ClusterStatus, Frame, Request, Response};

use crate::commands::capture::parse_duration;
use crate::commands::node::Member;
use crate::report::with_hint;

#[derive(clap::Subcommand)]
pub enum ClusterCommand {
    /// Run the controller: place submitted jobs on the nodes, offload them to boards when the
    /// servers are overloaded, bring them back, restart jobs of lost nodes.
    Serve(ServeArgs),
    /// Submit a job; waits for it and prints its output unless --detach.
    Submit {
        /// The controller's address.
        #[arg(long)]
        controller: String,
        /// The job's program name (what the controller learns by); default: the image's name.
        #[arg(long)]
        name: Option<String>,
        /// A folder the job sees as its `/` (sent with it).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Print the job number and return at once.
        #[arg(long)]
        detach: bool,
        /// Print the job number as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        member: Member,
        image: PathBuf,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Show the nodes and jobs.
    Status {
        #[arg(long)]
        controller: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        member: Member,
    },
    /// Wait for a job and print its output; exits with its status.
    Wait {
        #[arg(long)]
        controller: String,
        job: u64,
        #[command(flatten)]
        member: Member,
    },
}

/// `xisa cluster serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on for submitters, e.g. 0.0.0.0:7500.
    #[arg(long)]
    listen: String,
    /// Folder for the job table, images, snapshots and outputs (kept across restarts).
    #[arg(long)]
    state: PathBuf,
    /// A server node (where jobs start); repeat for several.
    #[arg(long = "server", value_name = "ADDR", required = true)]
    servers: Vec<String>,
    /// A board node (where jobs may be offloaded); repeat for several.
    #[arg(long = "board", value_name = "ADDR")]
    boards: Vec<String>,
    /// Placement policy: `xisa` (measured slowdowns, brings jobs back) or `hexo` (the
    /// published HEXO rules).
    #[arg(long, default_value = "xisa", value_parser = ["xisa", "hexo"])]
    policy: String,
    /// How often running jobs are checkpointed and their snapshot kept here.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    checkpoint_every: Duration,
    /// How often the control loop runs.
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    tick: Duration,
    /// The cluster folder (`xisa node init DIR controller` makes this member).
    #[arg(long, env = "XISA_CLUSTER", value_name = "DIR")]
    cluster: PathBuf,
    /// The controller's member name in the cluster folder.
    #[arg(long, default_value = "controller")]
    member: String,
}

impl ServeArgs {
    fn into_config(self) -> ControllerConfig {
        ControllerConfig {
            listen: self.listen,
            cluster: self.cluster,
            member: self.member,
            state: self.state,
            servers: self.servers,
            boards: self.boards,
            policy: self.policy,
            checkpoint_every: self.checkpoint_every,
            tick: self.tick,
        }
    }
}

pub fn run(command: ClusterCommand, verbose: u8) -> anyhow::Result<ExitCode> {
    match command {
        ClusterCommand::Serve(args) => {
            let (cluster, member) = (args.cluster.display().to_string(), args.member.clone());
            let served = controller::serve(args.into_config(), |address| {
                eprintln!("xisa cluster: listening on {address}");
            });
            if let Err(error @ ControllerError::Certificates(_)) = served {
                let hint = format!(
                    "make the controller's certificate: `xisa node init {cluster} {member}`"
                );
                return Err(with_hint(anyhow::Error::new(error), &hint));
            }
            served.context("the controller stopped")?;
            Ok(ExitCode::SUCCESS)
        }
        ClusterCommand::Submit {
            controller,
            name,
            dir,
            detach,
            json,
            member,
            image,
            args,
        } => {
            let bytes = std::fs::read(&image)
                .with_context(|| format!("cannot read image {}", image.display()))?;
            let name = name.unwrap_or_else(|| {
                image
                    .file_stem()
                    .map_or_else(|| "job".into(), |s| s.to_string_lossy().into_owned())
            });
            let mut blobs = vec![bytes];
            if let Some(dir) = &dir {
                blobs.push(pack(dir)?);
            }
            let config = member.client()?;
            let answer = client::call(
                &controller,
                &config,
                &Frame::with_blobs(Request::Submit { name, args }, blobs),
            )?;
            let Response::Submitted { job } = answer.message else {
                bail!("controller {controller} answered {:?}", answer.message);
            };
            if json {
                println!("{}", serde_json::json!({ "job": job }));
            } else if detach || verbose > 0 {
                println!("{job}");
            }
            if detach {
                return Ok(ExitCode::SUCCESS);
            }
            wait(&controller, &config, job)
        }
        ClusterCommand::Status {
            controller,
            json,
            member,
        } => {
            let answer =
                client::call(&controller, &member.client()?, &Frame::new(Request::Status))?;
            let Response::Cluster { status } = answer.message else {
                bail!("controller {controller} answered {:?}", answer.message);
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status, verbose);
            }
            Ok(ExitCode::SUCCESS)
        }
        ClusterCommand::Wait {
            controller,
            job,
            member,
        } => wait(&controller, &member.client()?, job),
    }
}

fn wait(
    controller: &str,
    config: &std::sync::Arc<client::ClientConfig>,
    job: u64,
) -> anyhow::Result<ExitCode> {
    let answer = client::call(controller, config, &Frame::new(Request::Result { job }))
        .with_context(|| format!("job {job} did not finish"))?;
    let Response::Finished { status, .. } = answer.message else {
        bail!("controller {controller} answered {:?}", answer.message);
    };
    let [stdout, stderr] = answer.blobs.as_slice() else {
        bail!("controller {controller} sent no output for job {job}");
    };
    std::io::stdout().write_all(stdout)?;
    std::io::stderr().write_all(stderr)?;
    Ok(ExitCode::from(status.clamp(0, 255) as u8))
}

/// A folder as a tar archive, for a job's inputs.
fn pack(dir: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    if !dir.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    let mut archive = tar::Builder::new(Vec::new());
    archive.follow_symlinks(false);
    archive.append_dir_all(".", dir)?;
    Ok(archive.into_inner()?)
}

fn print_status(status: &ClusterStatus, verbose: u8) {
    println!(
        "policy {}, {:.1} s since start",
        status.policy,
        status.now_ms as f64 / 1e3
    );
    println!(
        "{:<22} {:<10} {:<16} {:>5} {:>6} {:>7}",
        "node", "member", "runs", "cores", "share", "running"
    );
    for node in &status.nodes {
        let (member, runs, cores, share) = match &node.info {
            Some(info) => (
                info.member.clone(),
                match &info.backend {
                    Some(b) => format!("{b}/{}", info.target),
                    None => info.target.clone(),
                },
                info.cores.to_string(),
                format!("{:.2}", info.cpu_share),
            ),
            None => ("?".into(), "?".into(), "?".into(), "?".into()),
        };
        let alive = if node.alive { "" } else { "  (not answering)" };
        println!(
            "{:<22} {:<10} {:<16} {:>5} {:>6} {:>7}{alive}",
            node.address, member, runs, cores, share, node.running
        );
    }
    println!();
    println!(
        "{:>4}  {:<12} {:<9} {:>8} {:>6} {:>8}  where",
        "job", "name", "state", "time s", "moves", "restarts"
    );
    for job in &status.jobs {
        let end = job.finished_ms.unwrap_or(status.now_ms);
        let place = match (job.state.as_str(), job.placements.last()) {
            ("running", Some(p)) => p.node.clone(),
            ("finished", _) => format!("status {}", job.status.unwrap_or(-1)),
            ("failed", _) => job.reason.clone().unwrap_or_default(),
            _ => String::new(),
        };
        println!(
            "{:>4}  {:<12} {:<9} {:>8.1} {:>6} {:>8}  {place}",
            job.job,
            job.name,
            job.state,
            end.saturating_sub(job.submitted_ms) as f64 / 1e3,
            job.migrations,
            job.restarts
        );
        if verbose > 0 {
            for p in &job.placements {
                println!(
                    "      {:<10} {:<8} {:>8.1} .. {}",
                    p.node,
                    p.target,
                    p.from_ms as f64 / 1e3,
                    p.to_ms
                        .map_or_else(|| "now".into(), |t| format!("{:.1}", t as f64 / 1e3))
                );
            }
        }
    }
}
