//! The cluster controller with real nodes on this machine (loopback): an x86-64 server node and
//! an AArch64 board node (qemu-user), talking mutual TLS. Jobs submitted to `xisa cluster` are
//! placed, tried on the board, brought back when the server frees up, and return output
//! identical to an uninterrupted run; a board that dies mid-run loses nothing but time (its
//! job restarts from its latest snapshot); a controller killed mid-run finds its jobs again.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use xisa_e2e::*;

/// Writes a file, works for a few seconds on the server (several times that on the board),
/// appends to the file and prints it with its result.
const WORK: &str = r#"
#include <stdio.h>
#include <stdlib.h>
static double work(int n) { double x = 1; for (int i = 1; i <= n; i++) x = x * 1.0000001 + 1.0 / i; return x; }
int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 100;
    char input[64] = "";
    FILE *f = fopen("/input.txt", "r");
    if (f) { fgets(input, sizeof input, f); fclose(f); }
    f = fopen("/log.txt", "w");
    fprintf(f, "started with %s", input);
    fclose(f);
    double total = 0;
    for (int round = 0; round < rounds; round++)
        total += work(200000);
    f = fopen("/log.txt", "a");
    fputs("ended\n", f);
    fclose(f);
    char line[80];
    f = fopen("/log.txt", "r");
    while (fgets(line, sizeof line, f))
        printf("log: %s", line);
    fclose(f);
    printf("rounds %d total %.6f\n", rounds, total);
    return 0;
}
"#;

/// Rounds of work: about 5 s on the server node.
const ROUNDS: &str = "10000";

/// A `xisa ... serve` process; killed (with every guest it started) on drop.
struct Daemon {
    child: Child,
    log: PathBuf,
    address: String,
    /// A path every process of this daemon has on its command line.
    marker: PathBuf,
}

impl Daemon {
    fn start(args: &[&str], marker: &Path, log: PathBuf, address: String) -> Daemon {
        let child = Command::new(xisa())
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start xisa");
        let daemon = Daemon {
            child,
            log,
            address,
            marker: marker.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !daemon.log_text().contains("listening on") {
            assert!(
                Instant::now() < deadline,
                "`xisa {}` did not start: {}",
                args.join(" "),
                daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Ends the daemon and every process it started, as when its machine goes down.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("pkill")
            .arg("-KILL")
            .arg("-f")
            .arg(self.marker.to_str().unwrap())
            .status();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A server node, a board node and a controller, with their certificates and the work image.
struct Cluster {
    dir: PathBuf,
    certificates: PathBuf,
    image: PathBuf,
    inputs: PathBuf,
    server: Daemon,
    board: Daemon,
    controller: Option<Daemon>,
    /// Controllers started so far (each logs to its own file).
    controller_starts: usize,
    policy: &'static str,
}

impl Cluster {
    fn start(name: &str, policy: &'static str) -> Result<Cluster, String> {
        if which("qemu-aarch64").is_none() && which("qemu-aarch64-static").is_none() {
            return Err("qemu-user (for the AArch64 board node) is not installed".into());
        }
        let dir = work_dir(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let source = dir.join("work.c");
        std::fs::write(&source, WORK).unwrap();
        let image = dir.join("work.xisa");
        build_source(&source, &image)?;
        let inputs = dir.join("inputs");
        std::fs::create_dir_all(&inputs).unwrap();
        std::fs::write(inputs.join("input.txt"), "the submitted input\n").unwrap();
        let certificates = dir.join("cluster");
        for member in ["server", "board", "controller", "client"] {
            let made = Command::new(xisa())
                .args(["node", "init"])
                .arg(&certificates)
                .arg(member)
                .output()
                .unwrap();
            assert!(made.status.success(), "node init: {}", text(&made));
        }
        let node = |member: &str, isa: &str| {
            let state = dir.join(format!("{member}.state"));
            let address = format!("127.0.0.1:{}", free_port());
            Daemon::start(
                &[
                    "node",
                    "serve",
                    "--listen",
                    &address,
                    "--state",
                    state.to_str().unwrap(),
                    "--cluster",
                    certificates.to_str().unwrap(),
                    "--member",
                    member,
                    "--isa",
                    isa,
                    "--runs-on",
                    "process",
                ],
                &state,
                dir.join(format!("{member}.log")),
                address.clone(),
            )
        };
        let server = node("server", "x86_64");
        let board = node("board", "aarch64");
        let mut cluster = Cluster {
            dir,
            certificates,
            image,
            inputs,
            server,
            board,
            controller: None,
            controller_starts: 0,
            policy,
        };
        cluster.start_controller(free_port());
        Ok(cluster)
    }

    fn start_controller(&mut self, port: u16) {
        let state = self.dir.join("controller.state");
        let address = format!("127.0.0.1:{port}");
        self.controller_starts += 1;
        let log = self
            .dir
            .join(format!("controller-{}.log", self.controller_starts));
        self.controller = Some(Daemon::start(
            &[
                "cluster",
                "serve",
                "--listen",
                &address,
                "--state",
                state.to_str().unwrap(),
                "--cluster",
                self.certificates.to_str().unwrap(),
                "--server",
                &self.server.address,
                "--board",
                &self.board.address,
                "--policy",
                self.policy,
                "--checkpoint-every",
                "1s",
            ],
            &state,
            log,
            address.clone(),
        ));
    }

    /// Kills the controller, runs `while_down`, and starts a new one on the same port.
    fn restart_controller(&mut self, while_down: impl FnOnce(&Cluster)) {
        let port: u16 = self
            .controller()
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .expect("the controller listens on a port");
        self.controller.take().unwrap().kill();
        while_down(self);
        self.start_controller(port);
    }

    fn controller(&self) -> &str {
        &self.controller.as_ref().expect("a controller").address
    }

    fn xisa(&self, args: &[&str]) -> Output {
        Command::new(xisa())
            .args(args)
            .env("XISA_CLUSTER", &self.certificates)
            .env("XISA_MEMBER", "client")
            .output()
            .expect("run xisa")
    }

    /// Submits the work image and returns the job's number.
    fn submit(&self) -> u64 {
        let submitted = self.xisa(&[
            "cluster",
            "submit",
            "--controller",
            self.controller(),
            "--detach",
            "--json",
            "--dir",
            self.inputs.to_str().unwrap(),
            self.image.to_str().unwrap(),
            "--",
            ROUNDS,
        ]);
        assert!(submitted.status.success(), "submit: {}", text(&submitted));
        let answer: serde_json::Value = serde_json::from_slice(&submitted.stdout).unwrap();
        answer["job"].as_u64().expect("a job number")
    }

    fn status(&self) -> serde_json::Value {
        let status = self.xisa(&[
            "cluster",
            "status",
            "--controller",
            self.controller(),
            "--json",
        ]);
        assert!(status.status.success(), "status: {}", text(&status));
        serde_json::from_slice(&status.stdout).unwrap()
    }

    fn job(&self, job: u64) -> serde_json::Value {
        self.status()["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job"] == job)
            .cloned()
            .expect("the job is listed")
    }

    /// Waits until `check` holds for the job, or fails with the cluster's logs.
    fn wait_for(&self, job: u64, what: &str, check: impl Fn(&serde_json::Value) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let info = self.job(job);
            if check(&info) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "job {job} never {what}: {info}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `xisa cluster wait`: the job's output.
    fn wait(&self, job: u64) -> Output {
        self.xisa(&[
            "cluster",
            "wait",
            "--controller",
            self.controller(),
            &job.to_string(),
        ])
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for daemon in [
            Some(&self.server),
            Some(&self.board),
            self.controller.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            all += &format!("--- {}\n{}", daemon.log.display(), daemon.log_text());
        }
        all
    }

    /// The uninterrupted run's output.
    fn expected(&self) -> Vec<u8> {
        let sandbox = self.dir.join("uninterrupted");
        let _ = std::fs::remove_dir_all(&sandbox);
        std::fs::create_dir_all(&sandbox).unwrap();
        copy_tree(&self.inputs, &sandbox);
        let run = Command::new(xisa())
            .args(["run", "--target", "x86_64", "--backend", "process", "--dir"])
            .arg(&sandbox)
            .arg(&self.image)
            .args(["--", ROUNDS])
            .output()
            .unwrap();
        assert!(run.status.success(), "uninterrupted run: {}", text(&run));
        run.stdout
    }

    fn assert_output(&self, job: u64, expected: &[u8]) {
        let output = self.wait(job);
        assert!(
            output.status.success(),
            "job {job}: {}\n{}",
            text(&output),
            self.logs()
        );
        assert!(
            output.stdout == expected,
            "job {job}'s output differs from the uninterrupted run: {}\n{}",
            first_difference(expected, &output.stdout),
            self.logs()
        );
    }
}

fn nodes_of(job: &serde_json::Value) -> Vec<String> {
    job["placements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["node"].as_str().unwrap().to_string())
        .collect()
}

fn start_or_skip(name: &str, policy: &'static str) -> Option<Cluster> {
    match Cluster::start(name, policy) {
        Ok(cluster) => Some(cluster),
        Err(reason) => {
            println!("SKIPPED {name}: {reason}");
            None
        }
    }
}

#[test]
fn a_job_is_tried_on_the_board_and_brought_back_with_identical_output() {
    let Some(cluster) = start_or_skip("cluster_offload", "xisa") else {
        return;
    };
    let expected = cluster.expected();
    let jobs = [cluster.submit(), cluster.submit(), cluster.submit()];
    for job in jobs {
        cluster.assert_output(job, &expected);
    }
    let [first, second, third] = jobs.map(|job| cluster.job(job));
    // The server takes the first job; the second would wait, so it is tried on the board
    // (its program was never measured there, and the third job would use the figure) and
    // comes back when the server is free, the board having measured slow for it (moved, or
    // parked while the third job takes the server, and resumed there after it); the third
    // waits for the server rather than go to a board it would be slow on.
    assert_eq!(nodes_of(&first), ["server"], "{first}");
    assert_eq!(nodes_of(&second), ["board", "server"], "{second}");
    assert_eq!(nodes_of(&third), ["server"], "{third}");
    assert_eq!(second["migrations"], 1, "{second}");
    assert!(second["bytes_moved"].as_u64().unwrap() > 0, "{second}");
    let placements = second["placements"].as_array().unwrap();
    assert!(
        placements[0]["points"].as_u64().unwrap_or(0) > 0,
        "the board stay's migration points were not measured: {second}"
    );
}

#[test]
fn a_lost_board_s_job_restarts_from_its_snapshot() {
    let Some(mut cluster) = start_or_skip("cluster_lost_node", "xisa") else {
        return;
    };
    let expected = cluster.expected();
    let first = cluster.submit();
    let second = cluster.submit();
    let third = cluster.submit();
    cluster.wait_for(second, "ran on the board", |job| {
        job["state"] == "running" && nodes_of(job) == ["board"]
    });
    // A snapshot is kept once a second: wait for one, then the board dies.
    let snapshot = cluster
        .dir
        .join("controller.state/jobs")
        .join(second.to_string())
        .join("snapshot/guest.ckpt");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !snapshot.exists() {
        assert!(
            Instant::now() < deadline,
            "no snapshot of job {second}: {}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    cluster.board.kill();
    cluster.assert_output(first, &expected);
    cluster.assert_output(second, &expected);
    cluster.assert_output(third, &expected);
    let second = cluster.job(second);
    assert_eq!(second["restarts"], 1, "{second}");
    assert_eq!(nodes_of(&second), ["board", "server"], "{second}");
    let log = cluster.controller.as_ref().unwrap().log_text();
    assert!(
        log.contains("restarts from its latest snapshot"),
        "the controller did not say how the job restarted: {log}"
    );
    let status = cluster.status();
    assert_eq!(status["nodes"][1]["alive"], false, "{status}");
}

#[test]
fn a_restarted_controller_finds_its_jobs_on_the_nodes() {
    let Some(mut cluster) = start_or_skip("cluster_controller_restart", "xisa") else {
        return;
    };
    let expected = cluster.expected();
    let jobs = [cluster.submit(), cluster.submit()];
    cluster.wait_for(jobs[1], "started", |job| job["state"] == "running");
    cluster.restart_controller(|_| std::thread::sleep(Duration::from_secs(2)));
    for job in jobs {
        cluster.assert_output(job, &expected);
        let info = cluster.job(job);
        assert_eq!(
            info["restarts"], 0,
            "job {job} restarted though its node ran on: {info}"
        );
    }
}

/// A controller that stops between starting a guest and writing its table down: the
/// restarted controller finds the guests on the nodes by their labels and adopts them instead
/// of starting the jobs a second time.
#[test]
fn a_restarted_controller_adopts_guests_its_table_missed() {
    let Some(mut cluster) = start_or_skip("cluster_unrecorded_start", "hexo") else {
        return;
    };
    let expected = cluster.expected();
    let jobs = [cluster.submit(), cluster.submit()];
    for job in jobs {
        cluster.wait_for(job, "started", |job| job["state"] == "running");
    }
    // The table as it was before the guests started: both jobs waiting, never placed.
    cluster.restart_controller(|cluster| {
        let table_path = cluster.dir.join("controller.state").join("jobs.json");
        let mut table: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&table_path).unwrap()).unwrap();
        for job in jobs {
            let entry = &mut table["jobs"][job.to_string()];
            entry["state"] = serde_json::json!({ "state": "pending" });
            entry["stays"] = serde_json::json!([]);
        }
        std::fs::write(&table_path, serde_json::to_vec(&table).unwrap()).unwrap();
    });
    for job in jobs {
        cluster.assert_output(job, &expected);
        let info = cluster.job(job);
        assert_eq!(info["restarts"], 0, "job {job}: {info}");
        assert_eq!(
            info["placements"].as_array().map(Vec::len),
            Some(1),
            "job {job} should have run once, where the first controller started it: {info}"
        );
    }
    let log = cluster.controller.as_ref().unwrap().log_text();
    assert_eq!(log.matches("unrecorded; adopted").count(), 2, "{log}");
    // A second start would have left the first guest behind, exited and never collected.
    for node in [&cluster.server, &cluster.board] {
        let listed = cluster.xisa(&["node", "list", "--node", &node.address, "--json"]);
        assert!(listed.status.success(), "node list: {}", text(&listed));
        let guests: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
        let left: Vec<_> = guests
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["state"] == "running" || g["state"] == "exited")
            .collect();
        assert!(left.is_empty(), "guests left on {}: {left:?}", node.address);
    }
}

#[test]
fn nodes_and_controllers_refuse_requests_meant_for_the_other() {
    let Some(cluster) = start_or_skip("cluster_refusals", "xisa") else {
        return;
    };
    let to_node = cluster.xisa(&[
        "cluster",
        "submit",
        "--controller",
        &cluster.server.address,
        "--detach",
        cluster.image.to_str().unwrap(),
    ]);
    refused(&to_node, &["this is a node"]).unwrap();
    let missing = cluster.xisa(&[
        "cluster",
        "submit",
        "--controller",
        cluster.controller(),
        "/nonexistent/job.xisa",
    ]);
    refused(&missing, &["cannot read image", "/nonexistent/job.xisa"]).unwrap();
    let no_job = cluster.xisa(&[
        "cluster",
        "wait",
        "--controller",
        cluster.controller(),
        "99",
    ]);
    refused(&no_job, &["no job 99"]).unwrap();
    let to_controller = cluster.xisa(&["node", "list", "--node", cluster.controller()]);
    refused(&to_controller, &["cluster controller"]).unwrap();
}
