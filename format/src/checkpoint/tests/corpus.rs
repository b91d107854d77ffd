//! The fuzz target's code, run here on the committed seed corpus and by the in-suite
//! mutation test; `write_seed_corpus` regenerates the seeds.

use std::path::{Path, PathBuf};

use super::super::*;
use super::{Noise, sample, semantic_cases, spec_example};

/// Lets the fuzz crate's code name this crate as it does from outside.
mod xisa_format {
    pub use crate::*;
}

include!("../../../fuzz/src/exercise.rs");

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/checkpoint_reader")
}

#[test]
fn seed_corpus_replays_without_panics() {
    let mut files = 0;
    let mut valid = 0;
    for entry in std::fs::read_dir(corpus_dir()).expect("the seed corpus is committed") {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("seed-") {
            let accepted = CheckpointFile::from_bytes(bytes.clone()).is_ok();
            assert_eq!(accepted, name.starts_with("seed-valid"), "{name}");
        }
        if exercise_checkpoint(&bytes) {
            valid += 1;
        }
        files += 1;
    }
    assert!(files >= 10 && valid >= 3, "{files} seeds, {valid} valid");
}

/// The seeds: a few valid checkpoints, then damaged and near-valid ones.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    let full = write(sample().checkpoint.clone()).unwrap();
    seeds.push(("valid-sample".to_string(), full.clone()));
    seeds.push((
        "valid-spec-example".to_string(),
        write(spec_example::checkpoint().clone()).unwrap(),
    ));
    let mut child = sample().checkpoint;
    child.parent_digest = [7; 32];
    child.parent_hint = b"/jobs/base.ckpt".to_vec();
    seeds.push((
        "valid-incremental".to_string(),
        write(child.clone()).unwrap(),
    ));
    let mut minimal = sample().checkpoint;
    minimal.regions.clear();
    minimal.threads[0].frames.truncate(1);
    minimal.personality = PersonalityRecord {
        cwd: b"/".to_vec(),
        umask: 0o022,
        brk: minimal.map.memory_map().brk_base(),
        mmap_regions: vec![],
        descriptions: vec![],
        files: vec![],
        monotonic_ns: 0,
        signal_mask: 0,
        signal_actions: vec![],
        warned_syscalls: vec![],
    };
    seeds.push(("valid-minimal".to_string(), write(minimal.clone()).unwrap()));
    seeds.push(("truncated-header".to_string(), full[..40].to_vec()));
    seeds.push((
        "truncated-archive".to_string(),
        full[..full.len() / 2].to_vec(),
    ));
    let mut flipped = full.clone();
    flipped[full.len() - 100] ^= 0x10;
    seeds.push(("bad-digest".to_string(), flipped));
    seeds.push(("garbage".to_string(), Noise::new(4).bytes(600)));
    for (i, (_, mutate)) in semantic_cases().into_iter().enumerate().step_by(6) {
        let mut checkpoint = sample().checkpoint;
        mutate(&mut checkpoint);
        seeds.push((format!("invalid-{i}"), write(checkpoint.clone()).unwrap()));
    }
    seeds
}

#[test]
#[ignore = "writes the seed corpus into the source tree; run with --ignored to regenerate"]
fn write_seed_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("seed-")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    for (name, bytes) in seeds() {
        std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    }
}
