//! Moving running guests between machines: two `xisa node`s, each in its own network namespace,
//! joined by a veth pair shaped to 200 Mbit/s (tc tbf), talking mutual TLS with certificates
//! from `xisa node init`. A guest started on one node moves to the other on another ISA and
//! back, mid-run, and its output equals an uninterrupted run's; a move to a node that is down
//! leaves the guest running on its source; a peer from another cluster and a peer that does not
//! speak TLS are refused with a logged reason while the node carries on.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use xisa_e2e::*;

/// Writes a line to a file, works long enough to be moved, then appends and prints the file.
const WRITER: &str = r#"
#include <stdio.h>
static double work(int n) { double x = 1; for (int i = 1; i <= n; i++) x = x * 1.0000001 + 1.0 / i; return x; }
int main(void) {
    FILE *f = fopen("/log.txt", "w");
    fputs("before\n", f);
    fclose(f);
    double total = 0;
    for (int round = 0; round < 4000; round++)
        total += work(200000);
    f = fopen("/log.txt", "a");
    fputs("after\n", f);
    fclose(f);
    char line[64];
    f = fopen("/log.txt", "r");
    while (fgets(line, sizeof line, f))
        printf("log: %s", line);
    fclose(f);
    return total > 0 ? 0 : 1;
}
"#;

/// Fills 32 MiB once, then reads it at random for a while: pre-copy sends the table while it
/// runs, and the final capture holds only the pages written since.
const READ_MOSTLY: &str = r#"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#define N (8u << 20)
int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 200;
    uint32_t *table = malloc(N * sizeof *table);
    if (!table) return 2;
    uint32_t x = 12345;
    for (uint32_t i = 0; i < N; i++) { x = x * 1103515245u + 12345u; table[i] = x; }
    uint64_t sum = 0;
    uint32_t at = 0;
    for (int round = 0; round < rounds; round++)
        for (int k = 0; k < 1000000; k++) {
            at = (at * 2654435761u + table[at % N]) % N;
            sum += table[at];
        }
    printf("sum %llu\n", (unsigned long long)sum);
    return 0;
}
"#;

/// Two network namespaces joined by a shaped veth pair; removed on drop.
struct Network {
    names: [String; 2],
}

impl Network {
    fn create(tag: &str, subnet: u8) -> Result<Network, String> {
        if which("ip").is_none() || which("tc").is_none() {
            return Err("`ip` and `tc` (package iproute2) are not installed".into());
        }
        let names = [format!("xisa-{tag}-a"), format!("xisa-{tag}-b")];
        let network = Network {
            names: names.clone(),
        };
        let (va, vb) = (format!("xv{tag}a"), format!("xv{tag}b"));
        let (a, b) = (&names[0], &names[1]);
        let mut steps = vec![
            format!("netns add {a}"),
            format!("netns add {b}"),
            format!("link add {va} type veth peer name {vb}"),
            format!("link set {va} netns {a}"),
            format!("link set {vb} netns {b}"),
        ];
        for (i, (ns, dev)) in [(a, &va), (b, &vb)].into_iter().enumerate() {
            steps.push(format!(
                "-n {ns} addr add 10.{subnet}.0.{}/24 dev {dev}",
                i + 1
            ));
            steps.push(format!("-n {ns} link set {dev} up"));
            steps.push(format!("-n {ns} link set lo up"));
        }
        for step in steps {
            let output = Command::new("ip")
                .args(step.split(' '))
                .output()
                .map_err(|e| e.to_string())?;
            if !output.status.success() {
                return Err(format!(
                    "`ip {step}` failed (network namespaces need root): {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
        }
        for (ns, dev) in [(&names[0], &va), (&names[1], &vb)] {
            let shaped = Command::new("tc")
                .args(["-n", ns, "qdisc", "add", "dev", dev, "root", "tbf"])
                .args(["rate", "200mbit", "burst", "64kb", "latency", "50ms"])
                .output()
                .map_err(|e| e.to_string())?;
            if !shaped.status.success() {
                return Err(format!(
                    "tc tbf shaping failed: {}",
                    String::from_utf8_lossy(&shaped.stderr).trim()
                ));
            }
        }
        Ok(network)
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

/// A node process; killed on drop.
struct Node {
    child: Child,
    log: PathBuf,
    address: String,
}

impl Node {
    fn start(namespace: &str, address: &str, cluster: &Path, member: &str, dir: &Path) -> Node {
        let log = dir.join(format!("{member}.log"));
        let state = dir.join(format!("{member}.state"));
        let _ = std::fs::remove_dir_all(&state);
        let child = Command::new("ip")
            .args(["netns", "exec", namespace])
            .arg(xisa())
            .args(["node", "serve", "--listen", address, "--state"])
            .arg(&state)
            .arg("--cluster")
            .arg(cluster)
            .args(["--member", member])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start xisa node serve");
        let node = Node {
            child,
            log,
            address: address.into(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !node.log_text().contains("listening on") {
            assert!(
                Instant::now() < deadline,
                "node {member} did not start: {}",
                node.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        node
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `xisa` run inside a namespace as a member of a cluster.
struct Client<'a> {
    namespace: &'a str,
    cluster: &'a Path,
}

impl Client<'_> {
    fn xisa(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", self.namespace])
            .arg(xisa())
            .args(args)
            .env("XISA_CLUSTER", self.cluster)
            .env("XISA_MEMBER", "client")
            .output()
            .expect("run xisa")
    }

    /// Starts `image` on `node` and returns the guest's number.
    fn run(&self, node: &str, placement: &[&str], image: &str, args: &[String]) -> String {
        let mut command = vec!["node", "run", "--node", node];
        command.extend(placement);
        command.push(image);
        command.extend(args.iter().map(String::as_str));
        let started = self.xisa(&command);
        assert!(started.status.success(), "node run: {}", text(&started));
        String::from_utf8_lossy(&started.stdout).trim().to_string()
    }

    /// `xisa migrate GUEST --node FROM --to TO ARGS` (the placement, maybe `--json`).
    fn migrate(&self, guest: &str, from: &str, to: &str, args: &[&str]) -> Output {
        let mut command = vec!["migrate", guest, "--node", from, "--to", to];
        command.extend(args);
        self.xisa(&command)
    }

    fn wait(&self, node: &str, guest: &str) -> Output {
        self.xisa(&["node", "wait", "--node", node, guest])
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn guests_move_between_nodes_across_isas_and_nothing_is_lost() {
    let network = match Network::create("mig", 77) {
        Ok(network) => network,
        Err(reason) => {
            println!("SKIPPED node migration: {reason}");
            return;
        }
    };
    let [ns_a, ns_b] = network.names.clone();
    let program = corpus()
        .into_iter()
        .find(|p| p.name == "malloc_churn")
        .expect("malloc_churn is in the corpus");
    let dir = work_dir("node_migration");
    let image = build(&program, &dir).expect("build");
    let image = image.to_str().unwrap().to_string();
    let cluster = dir.join("cluster");
    let _ = std::fs::remove_dir_all(&cluster);
    for member in ["a", "b", "c", "client"] {
        let made = Command::new(xisa())
            .args(["node", "init"])
            .arg(&cluster)
            .arg(member)
            .output()
            .unwrap();
        assert!(made.status.success(), "node init: {}", text(&made));
    }
    let node_a = Node::start(&ns_a, "10.77.0.1:7400", &cluster, "a", &dir);
    let node_b = Node::start(&ns_b, "10.77.0.2:7400", &cluster, "b", &dir);
    let x86 = x86_64_executor();
    let on_x86 = [
        "--target",
        "x86_64",
        "--backend",
        x86.run_args[x86.run_args.len() - 1],
    ];
    let on_wasm = ["--target", "wasm64"];
    let client = Client {
        namespace: &ns_a,
        cluster: &cluster,
    };

    // 1. x86-64 on node a -> wasm64 on node b -> AArch64 (qemu-user) on node a, mid-run.
    let guest = client.run(&node_a.address, &on_x86, &image, &program.args);
    std::thread::sleep(Duration::from_millis(300));
    let moved = client.migrate(
        &guest,
        &node_a.address,
        &node_b.address,
        &["--target", "wasm64", "--json"],
    );
    assert!(moved.status.success(), "migrate to b: {}", text(&moved));
    let timeline: serde_json::Value = serde_json::from_slice(&moved.stdout).unwrap();
    let remote = timeline["remote_guest"]
        .as_u64()
        .expect("moved to b")
        .to_string();
    println!(
        "ok   kvm/x86_64 on a -> wasm64 on b: downtime {:.1} ms, checkpoint {} bytes",
        timeline["downtime_ms"].as_f64().unwrap_or(0.0),
        timeline["checkpoint_bytes"]
    );
    let back_target = if which("qemu-aarch64").is_some() {
        ["--target", "aarch64", "--backend", "process"]
    } else {
        println!("SKIPPED process/aarch64: qemu-aarch64 is not installed; moving back as x86_64");
        on_x86
    };
    let moved_back = client.migrate(&remote, &node_b.address, &node_a.address, &back_target);
    assert!(
        moved_back.status.success(),
        "migrate back: {}",
        text(&moved_back)
    );
    println!("ok   wasm64 on b -> {} on a", back_target[1]);
    let waited = client.wait(&node_a.address, &guest);
    assert_eq!(
        waited.status.code(),
        Some(program.expected_status),
        "{}",
        text(&waited)
    );
    assert!(
        waited.stdout == program.expected_stdout,
        "output after two moves differs from an uninterrupted run: {}",
        first_difference(&program.expected_stdout, &waited.stdout)
    );
    let stderr = String::from_utf8_lossy(&waited.stderr);
    let points: Vec<u64> = stderr
        .lines()
        .filter_map(|l| l.split(" at migration point ").nth(1))
        .filter_map(|rest| rest.split(':').next()?.parse().ok())
        .collect();
    assert!(
        // Each run counts the points it passed itself: both captures are past the first.
        points.len() == 2 && points.iter().all(|&n| n > 1),
        "the guest was not captured twice mid-run: {stderr}"
    );
    println!("ok   output equals an uninterrupted run (captured at points {points:?})");

    // 2. The destination is down: the guest stays on its source and finishes there.
    let guest = client.run(&node_a.address, &on_x86, &image, &program.args);
    std::thread::sleep(Duration::from_millis(300));
    let nowhere = client.migrate(&guest, &node_a.address, "10.77.0.2:7999", &on_wasm);
    assert_eq!(nowhere.status.code(), Some(1), "{}", text(&nowhere));
    assert!(
        text(&nowhere).contains("the guest runs on 10.77.0.1:7400 again"),
        "{}",
        text(&nowhere)
    );
    let waited = client.wait(&node_a.address, &guest);
    assert!(
        waited.stdout == program.expected_stdout,
        "output after a failed move differs: {}",
        first_difference(&program.expected_stdout, &waited.stdout)
    );
    println!("ok   a move to a node that is down keeps the guest on its source");

    // 3. The guest's files move with it: a line written before the move is read after it.
    let writer_source = dir.join("writer.c");
    std::fs::write(&writer_source, WRITER).unwrap();
    let writer = dir.join("writer.xisa");
    build_source(&writer_source, &writer).expect("build the writer");
    let guest = client.run(&node_a.address, &on_x86, writer.to_str().unwrap(), &[]);
    std::thread::sleep(Duration::from_millis(200));
    let moved = client.migrate(&guest, &node_a.address, &node_b.address, &on_wasm);
    assert!(
        moved.status.success(),
        "migrate the writer: {}",
        text(&moved)
    );
    let waited = client.wait(&node_a.address, &guest);
    let printed = String::from_utf8_lossy(&waited.stdout);
    assert!(
        waited.status.success() && printed.contains("log: before\nlog: after\n"),
        "the guest's file did not move with it: {}",
        text(&waited)
    );
    println!("ok   a file written before the move is there after it");

    // 4. Pre-copy: the table goes over while the guest runs; the final capture is small.
    let read_mostly_source = dir.join("read_mostly.c");
    std::fs::write(&read_mostly_source, READ_MOSTLY).unwrap();
    let read_mostly = dir.join("read_mostly.xisa");
    build_source(&read_mostly_source, &read_mostly).expect("build the read-mostly program");
    let read_mostly = read_mostly.to_str().unwrap();
    let rounds = vec!["1500".to_string()];
    let uninterrupted = Command::new(xisa())
        .arg("run")
        .args(&x86.run_args)
        .arg(read_mostly)
        .arg("--")
        .args(&rounds)
        .output()
        .unwrap();
    assert!(uninterrupted.status.success(), "{}", text(&uninterrupted));
    // Starts the read-mostly guest on a, moves it as `args` say after half a second, checks
    // that it ends with the uninterrupted run's output wherever it ran, and returns what
    // `xisa migrate` printed.
    let move_read_mostly = |to: &str, args: &[&str], what: &str| -> Output {
        let guest = client.run(&node_a.address, &on_x86, read_mostly, &rounds);
        std::thread::sleep(Duration::from_millis(500));
        let moved = client.migrate(&guest, &node_a.address, to, args);
        let waited = client.wait(&node_a.address, &guest);
        assert!(
            waited.status.success() && waited.stdout == uninterrupted.stdout,
            "output after {what} differs: {}\nmigrate said: {}",
            text(&waited),
            text(&moved)
        );
        moved
    };
    let timeline_of = |moved: &Output| -> serde_json::Value {
        serde_json::from_slice(&moved.stdout)
            .unwrap_or_else(|e| panic!("no timeline ({e}): {}", text(moved)))
    };
    let pre_copy = ["--target", "wasm64", "--mode", "pre-copy", "--json"];
    let moved = move_read_mostly(&node_b.address, &pre_copy, "a pre-copy move");
    assert!(moved.status.success(), "pre-copy migrate: {}", text(&moved));
    let timeline = timeline_of(&moved);
    let (before, after) = (
        timeline["precopy_bytes"].as_u64().unwrap_or(0),
        timeline["checkpoint_bytes"].as_u64().unwrap_or(u64::MAX),
    );
    assert!(
        timeline["mode"] == "pre-copy"
            && timeline["image_bytes"] == 0
            && timeline["precopy_rounds"].as_u64() >= Some(2)
            && after * 4 < before,
        "pre-copy sent {before} bytes ahead, then {after} bytes: {timeline}"
    );
    println!(
        "ok   pre-copy kvm/x86_64 on a -> wasm64 on b: {before} bytes in {} rounds while running, then {after} bytes, downtime {:.1} ms",
        timeline["precopy_rounds"],
        timeline["downtime_ms"].as_f64().unwrap_or(0.0)
    );
    // A pre-copy to a node that is down leaves the guest running where it was.
    let nowhere = move_read_mostly("10.77.0.2:7999", &pre_copy, "a failed pre-copy");
    assert_eq!(nowhere.status.code(), Some(1), "{}", text(&nowhere));
    assert!(
        timeline_of(&nowhere)["kept_on_source"].is_string(),
        "{}",
        text(&nowhere)
    );
    println!("ok   a pre-copy to a node that is down keeps the guest running on its source");
    // A destination that cannot resume the guest (KVM runs only the host's ISA): for
    // pre-copy, the source resumes the incremental checkpoint with its staged parents; for
    // post-copy, the held source writes a complete checkpoint and resumes that.
    if cfg!(target_arch = "x86_64") {
        for mode in ["pre-copy", "post-copy"] {
            let args = [
                "--target",
                "aarch64",
                "--backend",
                "kvm",
                "--mode",
                mode,
                "--json",
            ];
            let refused = move_read_mostly(&node_b.address, &args, &format!("a refused {mode}"));
            assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
            let timeline = timeline_of(&refused);
            assert!(
                timeline["kept_on_source"].is_string()
                    && timeline["capture_ms"].as_f64() > Some(0.0),
                "the guest was not held and resumed on its source: {timeline}"
            );
            println!(
                "ok   {mode} to a destination that cannot resume: the guest resumes on its source"
            );
        }
    }

    // 5. Post-copy: the guest runs on b at once, its pages follow from a.
    let post_copy = ["--target", "wasm64", "--mode", "post-copy", "--json"];
    let moved = move_read_mostly(&node_b.address, &post_copy, "a post-copy move");
    assert!(
        moved.status.success(),
        "post-copy migrate: {}",
        text(&moved)
    );
    let timeline = timeline_of(&moved);
    let (held, pulled) = (
        timeline["checkpoint_bytes"].as_u64().unwrap_or(u64::MAX),
        timeline["postcopy_bytes"].as_u64().unwrap_or(0),
    );
    assert!(
        timeline["mode"] == "post-copy" && held < 64 * 1024 && pulled >= 32 << 20,
        "post-copy sent {held} bytes while the guest was held and {pulled} after: {timeline}"
    );
    println!(
        "ok   post-copy kvm/x86_64 on a -> wasm64 on b: {held} bytes held, downtime {:.1} ms, then {} pages ({pulled} bytes) in {:.1} ms",
        timeline["downtime_ms"].as_f64().unwrap_or(0.0),
        timeline["postcopy_pages"],
        timeline["postcopy_ms"].as_f64().unwrap_or(0.0)
    );

    // 5b. Post-copy with --safe: the held source first writes a complete checkpoint. A plain
    // --safe move ends like any post-copy and leaves no file behind; when the source machine
    // dies (node c, and the guest it holds) before the destination holds every page, that
    // checkpoint resumes the guest elsewhere with the uninterrupted run's output.
    let safe = [
        "--target",
        "wasm64",
        "--mode",
        "post-copy",
        "--safe",
        "--json",
    ];
    let moved = move_read_mostly(&node_b.address, &safe, "a safe post-copy move");
    let timeline = timeline_of(&moved);
    let kept = timeline["safe_checkpoint"].as_str().unwrap_or_default();
    assert!(
        moved.status.success() && kept.ends_with("safe.ckpt") && !Path::new(kept).exists(),
        "a safe post-copy move: {timeline}"
    );
    println!(
        "ok   post-copy --safe kvm/x86_64 on a -> wasm64 on b: downtime {:.1} ms (a complete checkpoint written first), safety copy removed after",
        timeline["downtime_ms"].as_f64().unwrap_or(0.0)
    );
    let node_c = Node::start(&ns_a, "10.77.0.1:7401", &cluster, "c", &dir);
    let c_state = dir.join("c.state");
    let guest = client.run(&node_c.address, &on_x86, read_mostly, &rounds);
    std::thread::sleep(Duration::from_millis(500));
    let mut migrate = Command::new("ip")
        .args(["netns", "exec", &ns_a])
        .arg(xisa())
        .args([
            "migrate",
            &guest,
            "--node",
            &node_c.address,
            "--to",
            &node_b.address,
        ])
        .args(safe)
        .env("XISA_CLUSTER", &cluster)
        .env("XISA_MEMBER", "client")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let safe_file = c_state.join(format!("guest-{guest}")).join("safe.ckpt");
    let page_less = c_state.join(format!("guest-{guest}")).join("guest.ckpt");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(safe_file.exists() && page_less.exists()) {
        assert!(
            Instant::now() < deadline && matches!(migrate.try_wait(), Ok(None)),
            "no safe checkpoint at {} before the move ended",
            safe_file.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // The guest runs on b now and takes its pages from c: c's machine dies.
    std::thread::sleep(Duration::from_millis(100));
    let killed = Command::new("pkill")
        .args(["-KILL", "-f"])
        .arg(c_state.to_str().unwrap())
        .status()
        .unwrap();
    assert!(killed.success(), "nothing of node c was killed");
    let failed = migrate.wait_with_output().unwrap();
    assert!(
        !failed.status.success(),
        "the move reported success although its source died: {}",
        text(&failed)
    );
    drop(node_c);
    let resumed = Command::new(xisa())
        .args(["restore", "--image", read_mostly])
        .args(&x86.run_args)
        .arg(&safe_file)
        .output()
        .unwrap();
    assert!(
        resumed.status.success() && resumed.stdout == uninterrupted.stdout,
        "the safe checkpoint did not resume the guest: {}",
        text(&resumed)
    );
    println!(
        "ok   post-copy --safe: the source died mid-move, its safe checkpoint resumed the guest"
    );

    // 6. Strangers are refused, and the node carries on.
    let stranger = dir.join("stranger");
    let _ = std::fs::remove_dir_all(&stranger);
    let made = Command::new(xisa())
        .args(["node", "init"])
        .arg(&stranger)
        .arg("client")
        .output()
        .unwrap();
    assert!(made.status.success());
    let stranger_client = Client {
        namespace: &ns_a,
        cluster: &stranger,
    };
    let refused = stranger_client.xisa(&["node", "list", "--node", &node_a.address]);
    assert!(!refused.status.success(), "a stranger was served");
    // The node may reset the connection mid-send; what matters is that it carries on.
    let _ = Command::new("ip")
        .args(["netns", "exec", &ns_a, "python3", "-c"])
        .arg(
            "import socket; s = socket.create_connection(('10.77.0.1', 7400)); \
             s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n' * 100); s.close()",
        )
        .status();
    let listed = client.xisa(&["node", "list", "--node", &node_a.address, "--json"]);
    assert!(
        listed.status.success(),
        "node a stopped serving: {}",
        text(&listed)
    );
    let log = node_a.log_text();
    assert!(
        log.matches("refused").count() >= 2,
        "node a did not log the refusals: {log}"
    );
    println!("ok   a stranger's certificate and a non-TLS peer are refused and logged");
    drop(node_b);
}
