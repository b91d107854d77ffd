//! Arbitrary bytes into the checkpoint reader; valid checkpoints are used completely.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    xisa_format_fuzz::exercise_checkpoint(data);
});
