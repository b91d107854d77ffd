//! wasm64 frames. The wasm64 program unwinds itself: on a migration each instrumented frame
//! hands the executor its call-site id and record and returns; on a restore each function
//! asks for its frame back and jumps to its call site (ARCHITECTURE §5). So the conversion is
//! a check that every frame names a known call site with a record of the right size.

use crate::{ConvertError, NeutralFrame};

/// Checks frames produced or consumed by the wasm64 program.
pub fn check_frames(
    frames: &[NeutralFrame],
    record_size: &dyn Fn(u32) -> Option<u32>,
) -> Result<(), ConvertError> {
    if frames.is_empty() {
        return Err(ConvertError::Empty);
    }
    for frame in frames {
        let expected = record_size(frame.call_site).ok_or(ConvertError::UnknownCallSite {
            target: xisa_format::target::Target::Wasm64,
            id: frame.call_site,
        })?;
        if frame.record.len() != expected as usize {
            return Err(ConvertError::RecordSize {
                id: frame.call_site,
                expected,
                actual: frame.record.len(),
            });
        }
    }
    Ok(())
}
