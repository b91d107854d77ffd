//! Replays the committed corpus (and any crash artifacts) through the fuzz target's code,
//! without libFuzzer: runs on stable Rust.

use std::path::Path;

#[test]
fn corpus_replays_without_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = 0;
    for dir in ["corpus/checkpoint_reader", "artifacts/checkpoint_reader"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            xisa_format_fuzz::exercise_checkpoint(&bytes);
            files += 1;
        }
    }
    assert!(files > 0, "no corpus found");
}
