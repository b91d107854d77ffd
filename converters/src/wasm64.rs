//! wasm64 frames. The wasm64 program unwinds itself: on a migration each instrumented frame
//! hands the executor its call-site id and record and returns; on a restore each function
//! asks for its frame back and jumps to its call site (ARCHITECTURE §5). So the conversion is
//! a check that every frame names a known call site with a record of the right size.

use xisa_format::target::Target;

use crate::{ConvertError, NeutralFrame};

/// Checks frames produced or consumed by the wasm64 program.
pub fn check_frames(
    frames: &[NeutralFrame],
    record_size: &dyn Fn(u32) -> Option<u32>,
) -> Result<(), ConvertError> {
    if frames.is_empty() {
        return Err(ConvertError::Empty);
    }
    frames
        .iter()
        .try_for_each(|frame| frame.check_record_size(Target::Wasm64, record_size))
}
