//! Incremental captures on KVM take the pages changed since their parent from KVM's dirty log
//! (with the monitor's own writes into guest memory beside it) instead of comparing every
//! page. A pre-copy-like chain of captures, each also checked against a full comparison
//! (`--changed-pages check`), resumes to the output of an uninterrupted run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xisa_e2e::*;

/// Writes a few pages here and there, has the monitor write others (`read` into the heap),
/// and maps and unmaps scratch memory, round after round; prints a digest of it all.
const PROGRAM: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGES 4096
#define ROUNDS 60000

static unsigned long long mix(unsigned long long x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; return x;
}

int main(void) {
    unsigned char *heap = malloc((size_t)PAGES * 4096);
    memset(heap, 1, (size_t)PAGES * 4096);
    unsigned long long sum = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < 16; i++) {
            size_t page = mix((unsigned long long)round * 16 + i) % PAGES;
            heap[page * 4096 + (i * 61) % 4096] += (unsigned char)(round + i);
        }
        if (round % 20 == 0) {
            int fd = open("/input.txt", O_RDONLY);
            ssize_t n = read(fd, heap + (mix(round) % PAGES) * 4096 + 100, 40);
            close(fd);
            sum = mix(sum + (unsigned long long)n);
        }
        if (round % 500 == 0) {
            size_t size = (size_t)4 << 20;
            unsigned char *scratch = mmap(0, size, PROT_READ | PROT_WRITE,
                                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            memset(scratch, round, size);
            sum = mix(sum + scratch[12345]);
            munmap(scratch, size);
        }
    }
    for (size_t i = 0; i < (size_t)PAGES * 4096; i += 512)
        sum = mix(sum + heap[i]);
    printf("sum %llx\n", sum);
    return 0;
}
"#;

fn wait_for_file(path: &Path, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            let mut said = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut stderr, &mut said);
            }
            panic!(
                "the run ended ({status}) before writing {}: {said}",
                path.display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint at {} after 60 s",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &std::process::Child, signal: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success(), "cannot send SIG{signal} to the run");
}

#[test]
fn a_pre_copy_chain_takes_its_changed_pages_from_the_dirty_log() {
    if let Err(reason) = kvm_available() {
        println!("SKIPPED: the dirty log is KVM's and {reason}");
        return;
    }
    if !cfg!(target_arch = "x86_64") {
        println!("SKIPPED: the KVM executor runs x86-64 guests on an x86-64 host only");
        return;
    }
    let dir = work_dir("dirty_log");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("writes.c");
    std::fs::write(&source, PROGRAM).unwrap();
    let image = dir.join("writes.xisa");
    build_source(&source, &image).unwrap();
    let sandbox = dir.join("sandbox");
    std::fs::create_dir_all(&sandbox).unwrap();
    std::fs::write(
        sandbox.join("input.txt"),
        "what the monitor writes into the heap\n",
    )
    .unwrap();
    let kvm = Executor::kvm_x86_64();
    let xisa_on = |subcommand: &str| {
        let mut command = Command::new(xisa());
        command
            .arg(subcommand)
            .args(&kvm.run_args)
            .arg("--dir")
            .arg(&sandbox);
        command
    };

    let uninterrupted = xisa_on("run").arg(&image).output().unwrap();
    assert!(uninterrupted.status.success(), "{uninterrupted:?}");
    assert!(uninterrupted.stdout.starts_with(b"sum "));

    // Captures as a node's pre-copy rounds make them: each against the one before.
    let (checkpoint, parent): (PathBuf, PathBuf) =
        (dir.join("guest.ckpt"), dir.join("precopy.ckpt"));
    let mut run = xisa_on("run")
        .args(["-v", "--then", "continue", "--changed-pages", "check"])
        .arg("--checkpoint-to")
        .arg(&checkpoint)
        .arg("--parent-when-present")
        .arg(&parent)
        .arg(&image)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    for round in 0..3 {
        signal(&run, "USR1");
        wait_for_file(&checkpoint, &mut run);
        if parent.exists() {
            std::fs::rename(&parent, dir.join(format!("precopy-{round}.ckpt"))).unwrap();
        }
        std::fs::rename(&checkpoint, &parent).unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    signal(&run, "USR2");
    let ended = run.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&ended.stderr);
    assert!(ended.status.success(), "the capturing run failed: {said}");
    assert!(
        ended.stdout.is_empty(),
        "the program ended before its last capture (make it run longer): {said}"
    );
    // The first capture is complete; the other three are incremental, from the log.
    let from_log = said.matches("pages changed by the dirty log").count();
    assert_eq!(from_log, 3, "captures not taken from the dirty log: {said}");

    let resumed = xisa_on("restore").arg(&checkpoint).output().unwrap();
    assert!(
        resumed.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&resumed.stdout),
        String::from_utf8_lossy(&uninterrupted.stdout),
        "the chain resumed differs from an uninterrupted run"
    );
}
