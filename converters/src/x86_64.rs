//! x86-64 frame rules. A frame is `push %rbp; mov %rsp, %rbp; sub $n, %rsp`, and the stack
//! map's frame size counts the pushed `%rbp` but not the return address the call pushed:
//! the frame pointer is `frame_size - 8` above the stack pointer at a call site, and the
//! caller's stack pointer is `frame_size + 8` above it.

use xisa_format::target::Target;

use crate::native::FrameRules;

pub struct X86_64;

impl FrameRules for X86_64 {
    fn target(&self) -> Target {
        Target::X86_64
    }
    fn frame_pointer(&self, sp: u64, frame_size: u64) -> u64 {
        // Wrapping: `sp` is the guest's; a nonsense value fails the memory reads that follow.
        sp.wrapping_add(frame_size).wrapping_sub(8)
    }
    fn stack_pointer(&self, cfa: u64, frame_size: u64) -> u64 {
        cfa.wrapping_sub(frame_size + 8)
    }
}
