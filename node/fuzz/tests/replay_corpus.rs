//! Replays the committed corpus (and any crash artifacts) through the fuzz target's code,
//! without libFuzzer: runs on stable Rust.

use std::path::Path;

#[test]
fn corpus_replays_without_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = 0;
    for dir in ["corpus/message_decoder", "artifacts/message_decoder"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            xisa_node_fuzz::exercise_decoder(&std::fs::read(&path).unwrap());
            files += 1;
        }
    }
    assert!(files > 0, "no corpus found");
}
