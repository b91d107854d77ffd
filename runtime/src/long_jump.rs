//! What a `longjmp` does, for every backend (spec.md §2.2).
//!
//! The program's `longjmp` stores its value into the neutral jump buffer and stops at the
//! runtime (a hypercall natively, the import `xisa.longjmp` on wasm64). The backend hands
//! over its neutral frames, as for a capture; here they are cut down to the frame of the
//! `setjmp` that filled the buffer, found by the activation token in the first word of its
//! record, and that frame is set to resume at the `setjmp`'s call site. The backend then
//! resumes those frames like a restored checkpoint, so a `longjmp` works the same on every
//! target, and across a migration between the `setjmp` and the `longjmp`.

use xisa_converters::NeutralFrame;
use xisa_format::abi::jump_buffer;
use xisa_format::image::Image;
use xisa_format::memory_map::SHADOW_STACK;
use xisa_personality::GuestMemory;

/// The neutral shadow-stack pointer, restored to its value at the `setjmp`.
pub const SHADOW_STACK_POINTER: &str = "__xisa_ssp";

/// A `longjmp` that cannot be done: the program's fault, reported like a crash.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LongJumpError {
    #[error("longjmp with a jump buffer at {0:#x}, outside guest memory")]
    BufferOutside(u64),
    #[error(
        "longjmp with a jump buffer at {buffer:#x} that no setjmp filled (it names call site {site})"
    )]
    NotFilled { buffer: u64, site: u64 },
    #[error(
        "longjmp to a setjmp in `{function}` whose call has returned (jump buffer at {buffer:#x})"
    )]
    FrameGone { buffer: u64, function: String },
    #[error(
        "longjmp with a jump buffer at {buffer:#x} whose shadow-stack pointer {pointer:#x} is outside the shadow stack"
    )]
    BadShadowStack { buffer: u64, pointer: u64 },
    #[error("the program has no `{SHADOW_STACK_POINTER}` symbol (was it built by this xisa-cc?)")]
    NoShadowStack,
}

impl LongJumpError {
    /// The exit status of a Linux process that aborts on a bad `longjmp` (SIGABRT).
    pub const STATUS: i32 = 128 + 6;
}

/// The jump buffer's words.
struct JumpBuffer {
    token: u64,
    site: u64,
    shadow_stack: u64,
}

fn read_buffer(memory: &dyn GuestMemory, buffer: u64) -> Result<JumpBuffer, LongJumpError> {
    let bytes = memory
        .bytes(buffer, jump_buffer::SIZE)
        .map_err(|_| LongJumpError::BufferOutside(buffer))?;
    let word = |offset: u64| {
        let at = offset as usize;
        u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
    };
    Ok(JumpBuffer {
        token: word(jump_buffer::TOKEN),
        site: word(jump_buffer::SITE),
        shadow_stack: word(jump_buffer::SHADOW_STACK),
    })
}

/// The frames to resume after the `longjmp` through `buffer`, given the program's frames at
/// the `longjmp` (innermost first); also restores the shadow-stack pointer in `memory`.
pub fn frames_after_long_jump(
    image: &Image,
    memory: &mut dyn GuestMemory,
    buffer: u64,
    frames: Vec<NeutralFrame>,
) -> Result<Vec<NeutralFrame>, LongJumpError> {
    let jump = read_buffer(memory, buffer)?;
    let manifest = image.manifest();
    let site = u32::try_from(jump.site)
        .ok()
        .filter(|&id| id != 0)
        .and_then(|id| manifest.call_site(id))
        .ok_or(LongJumpError::NotFilled {
            buffer,
            site: jump.site,
        })?;
    let function = site.function.as_str();
    let token = jump.token.to_le_bytes();
    let target = frames
        .iter()
        .position(|frame| {
            manifest
                .call_site(frame.call_site)
                .is_some_and(|s| s.function.as_str() == function)
                && frame.record.get(..8) == Some(&token[..])
        })
        .ok_or_else(|| LongJumpError::FrameGone {
            buffer,
            function: function.to_string(),
        })?;
    if !SHADOW_STACK.contains(&jump.shadow_stack) && jump.shadow_stack != SHADOW_STACK.end {
        return Err(LongJumpError::BadShadowStack {
            buffer,
            pointer: jump.shadow_stack,
        });
    }
    let pointer = manifest
        .symbol_address(SHADOW_STACK_POINTER)
        .ok_or(LongJumpError::NoShadowStack)?;
    memory
        .bytes_mut(pointer, 8)
        .map_err(|_| LongJumpError::NoShadowStack)?
        .copy_from_slice(&jump.shadow_stack.to_le_bytes());
    let mut kept: Vec<NeutralFrame> = frames.into_iter().skip(target).collect();
    kept[0].call_site = site.id.to_native();
    Ok(kept)
}
