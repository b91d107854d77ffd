//! Arbitrary bytes into the node protocol's frame decoder.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    xisa_node_fuzz::exercise_decoder(data);
});
