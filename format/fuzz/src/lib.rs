//! Fuzzing support for xisa-format: the code the fuzz targets run, also used to replay the
//! committed corpus on stable Rust (`cargo test` in this folder).

include!("exercise.rs");
