//! What the fuzz target does with its input, shared with the corpus replay test.

use xisa_node::wire::{self, Request, Response};

/// Arbitrary bytes into the node protocol's decoder, as a request and as a response; a frame
/// that decodes is encoded again and must decode to the same value.
pub fn exercise_decoder(data: &[u8]) {
    if let Ok(frame) = wire::read_frame::<Request>(&mut &data[..]) {
        let mut again = Vec::new();
        wire::write_frame(&mut again, &frame).expect("a decoded frame encodes");
        let back: wire::Frame<Request> =
            wire::read_frame(&mut again.as_slice()).expect("an encoded frame decodes");
        assert_eq!(back, frame);
    }
    let _ = wire::read_frame::<Response>(&mut &data[..]);
}
