//! AArch64 frame rules. The frame record (`x29`, `x30`) sits at the top of the frame, and the
//! stack map's frame size is the whole frame: the frame pointer is `frame_size - 16` above the
//! stack pointer at a call site, and the caller's stack pointer is `frame_size` above it.

use xisa_format::target::Target;

use crate::native::FrameRules;

pub struct Aarch64;

impl FrameRules for Aarch64 {
    fn target(&self) -> Target {
        Target::Aarch64
    }
    fn frame_pointer(&self, sp: u64, frame_size: u64) -> u64 {
        // Wrapping: `sp` is the guest's; a nonsense value fails the memory reads that follow.
        sp.wrapping_add(frame_size).wrapping_sub(16)
    }
    fn stack_pointer(&self, cfa: u64, frame_size: u64) -> u64 {
        cfa.wrapping_sub(frame_size)
    }
}
