//! `xisa node ...` and `xisa migrate`: the cluster's machines and moving guests between them.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use xisa_node::certs::{self, Identity};
use xisa_node::client;
use xisa_node::client::ClientConfig;
use xisa_node::daemon::{self, NodeConfig};
use xisa_node::wire::{Frame, MigrateMode, NodeInfo, Request, Response, Timeline};

/// Who this command is in the cluster.
#[derive(clap::Args)]
pub struct Member {
    /// The cluster folder (`xisa node init` makes it): its authority and member certificates.
    #[arg(long, env = "XISA_CLUSTER", value_name = "DIR")]
    pub cluster: PathBuf,
    /// This member's name in the cluster folder.
    #[arg(long, env = "XISA_MEMBER", default_value = "client")]
    pub member: String,
}

impl Member {
    pub fn client(&self) -> anyhow::Result<Arc<ClientConfig>> {
        let identity = Identity::load(&self.cluster, &self.member).with_context(|| {
            format!(
                "cannot load member `{}` of cluster {} (hint: `xisa node init {} {}`)",
                self.member,
                self.cluster.display(),
                self.cluster.display(),
                self.member
            )
        })?;
        Ok(identity.client_config()?)
    }
}

/// Where a guest runs on a node.
#[derive(clap::Args)]
pub struct Placement {
    /// Target: x86_64, aarch64 or wasm64.
    #[arg(long)]
    target: String,
    /// Backend for a native target: kvm, emu or process.
    #[arg(long)]
    backend: Option<String>,
}

/// What a node declares to a cluster controller.
#[derive(clap::Args)]
pub struct Profile {
    /// The target its guests run on, as a controller places them.
    #[arg(long = "isa", default_value = "x86_64", value_name = "TARGET")]
    target: String,
    /// The backend for that target (kvm, emu or process).
    #[arg(long = "runs-on", value_name = "BACKEND")]
    backend: Option<String>,
    /// Guests it runs at once (one per core).
    #[arg(long, default_value_t = 1)]
    cores: u32,
    /// The share of a host core each guest gets, in (0, 1]: a slower board modelled on a
    /// faster machine (e.g. 0.25 runs guests at a quarter of this machine's speed).
    #[arg(long, default_value_t = 1.0, value_parser = parse_share)]
    cpu_share: f64,
    /// Power drawn when idle, in watts (for the controller's energy estimate).
    #[arg(long, default_value_t = 0.0)]
    watts_idle: f64,
    /// Power each busy core adds, in watts.
    #[arg(long, default_value_t = 0.0)]
    watts_per_core: f64,
}

fn parse_share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if share > 0.0 && share <= 1.0 => Ok(share),
        _ => Err(format!("`{text}` is not a share in (0, 1]")),
    }
}

#[derive(clap::Subcommand)]
pub enum NodeCommand {
    /// Make the cluster authority (once) and a member certificate for NAME in DIR.
    Init {
        /// The cluster folder.
        dir: PathBuf,
        /// The member: a node or a client.
        name: String,
    },
    /// Run a node: accept guests and migrations from members of the cluster.
    Serve {
        /// Address to listen on, e.g. 0.0.0.0:7400.
        #[arg(long)]
        listen: String,
        /// Folder for the guests' files.
        #[arg(long)]
        state: PathBuf,
        #[command(flatten)]
        member: Member,
        #[command(flatten)]
        profile: Profile,
    },
    /// Start an image on a node; prints the guest's number.
    Run {
        /// The node's address.
        #[arg(long)]
        node: String,
        #[command(flatten)]
        placement: Placement,
        #[command(flatten)]
        member: Member,
        /// Print the answer as JSON.
        #[arg(long)]
        json: bool,
        image: PathBuf,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// List a node's guests with their state and CPU time.
    List {
        #[arg(long)]
        node: String,
        #[command(flatten)]
        member: Member,
        #[arg(long)]
        json: bool,
    },
    /// Wait for a guest to end (following it when it moved) and print its output; exits with
    /// its status.
    Wait {
        #[arg(long)]
        node: String,
        guest: u64,
        #[command(flatten)]
        member: Member,
    },
}

#[derive(clap::Args)]
pub struct MigrateArgs {
    /// The guest's number on its node.
    guest: u64,
    /// The node the guest runs on.
    #[arg(long)]
    node: String,
    /// The node to move it to.
    #[arg(long)]
    to: String,
    /// Where it resumes there.
    #[command(flatten)]
    placement: Placement,
    #[command(flatten)]
    member: Member,
    /// stop-copy: hold the guest, send its checkpoint, resume it there. pre-copy: first
    /// send a checkpoint taken while the guest runs on, then hold it and send only the pages
    /// changed since (less downtime for a guest with much memory it rarely writes).
    /// post-copy: hold the guest only to send its frames and state; it runs there at once
    /// and its pages follow from the held source, on demand and in the background.
    #[arg(long, value_enum, default_value_t = Mode::StopCopy)]
    mode: Mode,
    /// With --mode post-copy: have the held guest write a complete checkpoint on the source
    /// node first (longer downtime), so that it survives the source failing before the
    /// destination holds every page: resume that file with `xisa restore`.
    #[arg(long)]
    safe: bool,
    /// Print the timeline as JSON.
    #[arg(long)]
    json: bool,
}

// The modes' names as the field knows them: stop-and-copy, pre-copy, post-copy.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Mode {
    StopCopy,
    PreCopy,
    PostCopy,
}

impl From<Mode> for MigrateMode {
    fn from(mode: Mode) -> MigrateMode {
        match mode {
            Mode::StopCopy => MigrateMode::StopCopy,
            Mode::PreCopy => MigrateMode::PreCopy,
            Mode::PostCopy => MigrateMode::PostCopy,
        }
    }
}

pub fn run(command: NodeCommand, verbose: u8) -> anyhow::Result<ExitCode> {
    match command {
        NodeCommand::Init { dir, name } => {
            let made = certs::init(&dir, &name)
                .with_context(|| format!("cannot make certificates in {}", dir.display()))?;
            if made.created_authority {
                println!("made the cluster authority in {}", dir.display());
            }
            println!("made member certificate {}", made.certificate.display());
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Serve {
            listen,
            state,
            member,
            profile,
        } => {
            let xisa = std::env::current_exe().context("cannot find the xisa binary")?;
            let config = NodeConfig {
                listen,
                cluster: member.cluster,
                member: member.member.clone(),
                state,
                xisa,
                info: NodeInfo {
                    member: member.member,
                    target: profile.target,
                    backend: profile.backend,
                    cores: profile.cores.max(1),
                    cpu_share: profile.cpu_share,
                    watts_idle: profile.watts_idle,
                    watts_per_core: profile.watts_per_core,
                },
            };
            daemon::serve(config, |address| {
                eprintln!("xisa node: listening on {address}");
            })
            .context("the node stopped")?;
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Run {
            node,
            placement: Placement { target, backend },
            member,
            json,
            image,
            args,
        } => {
            let bytes = std::fs::read(&image)
                .with_context(|| format!("cannot read {}", image.display()))?;
            let request = Frame::with_blobs(
                Request::Run {
                    target,
                    backend,
                    args,
                    job: None,
                    checkpoint_every_ms: None,
                },
                vec![bytes],
            );
            let answer = client::call(&node, &member.client()?, &request)?;
            let Response::Started { guest } = answer.message else {
                bail!("node {node} answered {:?}", answer.message);
            };
            if json {
                println!("{}", serde_json::json!({ "guest": guest, "node": node }));
            } else {
                println!("{guest}");
            }
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::List { node, member, json } => {
            let answer = client::call(&node, &member.client()?, &Frame::new(Request::List))?;
            let Response::Guests { guests } = answer.message else {
                bail!("node {node} answered {:?}", answer.message);
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&guests)?);
            } else {
                println!(
                    "{:>6}  {:<8} {:<16} {:>9}  detail",
                    "guest", "state", "target", "cpu ms"
                );
                for g in guests {
                    let target = match &g.backend {
                        Some(backend) => format!("{backend}/{}", g.target),
                        None => g.target.clone(),
                    };
                    let detail = g
                        .status
                        .map(|s| format!("status {s}"))
                        .or(g.moved_to.map(|to| format!("now {to}")))
                        .or(g.reason)
                        .unwrap_or_default();
                    println!(
                        "{:>6}  {:<8} {:<16} {:>9}  {detail}",
                        g.guest, g.state, target, g.cpu_ms
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Wait {
            mut node,
            mut guest,
            member,
        } => {
            let config = member.client()?;
            loop {
                let answer = client::call(&node, &config, &Frame::new(Request::Wait { guest }))?;
                match answer.message {
                    Response::Finished { status, .. } => {
                        let [stdout, stderr] = answer.blobs.as_slice() else {
                            bail!("node {node} sent no output");
                        };
                        std::io::stdout().write_all(stdout)?;
                        std::io::stderr().write_all(stderr)?;
                        return Ok(ExitCode::from(status as u8));
                    }
                    Response::Moved { to, .. } => {
                        let (address, number) = to
                            .rsplit_once('#')
                            .and_then(|(a, n)| Some((a.to_string(), n.parse().ok()?)))
                            .with_context(|| format!("node {node} says `{to}`"))?;
                        if verbose > 0 {
                            eprintln!("xisa: guest {guest} moved to {address} as guest {number}");
                        }
                        node = address;
                        guest = number;
                    }
                    other => bail!("node {node} answered {other:?}"),
                }
            }
        }
    }
}

pub fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let request = Frame::new(Request::Migrate {
        guest: args.guest,
        to: args.to.clone(),
        target: args.placement.target.clone(),
        backend: args.placement.backend.clone(),
        mode: args.mode.into(),
        safe: args.safe,
    });
    let answer = client::call(&args.node, &args.member.client()?, &request)
        .with_context(|| format!("cannot move guest {} to {}", args.guest, args.to))?;
    let Response::Migrated { timeline } = answer.message else {
        bail!("node {} answered {:?}", args.node, answer.message);
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&timeline)?);
    } else {
        print_timeline(&args, &timeline);
    }
    Ok(if timeline.kept_on_source.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_timeline(args: &MigrateArgs, t: &Timeline) {
    let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
    if t.mode == MigrateMode::PreCopy {
        println!(
            "pre-copy   {:>9.1} ms  {} round(s), {:.2} MiB sent while the guest ran on (a complete checkpoint and the image, then the pages changed since)",
            t.precopy_ms,
            t.precopy_rounds,
            mib(t.precopy_bytes)
        );
        if t.remote_guest.is_none() && t.capture_ms == 0.0 {
            if let Some(reason) = &t.kept_on_source {
                println!(
                    "kept       the guest runs on {} as before: {reason}",
                    args.node
                );
            }
            return;
        }
    }
    println!(
        "capture    {:>9.1} ms  guest held at its next migration point, checkpoint {:.2} MiB{}",
        t.capture_ms,
        mib(t.checkpoint_bytes),
        if t.mode == MigrateMode::PreCopy {
            " (pages changed since the pre-copy)"
        } else {
            ""
        }
    );
    let sent = t.checkpoint_bytes + t.image_bytes;
    let rate = mib(sent) / (t.transfer_ms / 1e3).max(1e-9);
    println!(
        "transfer   {:>9.1} ms  {:.2} MiB with the image ({rate:.1} MiB/s), of which restore {:.1} ms there",
        t.transfer_ms,
        mib(sent),
        t.restore_ms
    );
    println!("downtime   {:>9.1} ms", t.downtime_ms);
    if let Some(path) = &t.safe_checkpoint {
        println!(
            "safe                    complete checkpoint written first on the source: {path} (removed once the destination held every page)"
        );
    }
    if t.mode == MigrateMode::PostCopy && t.remote_guest.is_some() {
        println!(
            "post-copy  {:>9.1} ms  {} pages taken from the source, {:.2} MiB of them not as at start, while the guest ran there",
            t.postcopy_ms,
            t.postcopy_pages,
            mib(t.postcopy_bytes)
        );
    }
    match (&t.remote_guest, &t.kept_on_source) {
        (Some(guest), _) => println!(
            "moved      guest {} is guest {guest} on {} ({})",
            args.guest, args.to, args.placement.target
        ),
        (None, Some(reason)) => {
            println!("kept       the guest runs on {} again: {reason}", args.node)
        }
        (None, None) => {}
    }
}
