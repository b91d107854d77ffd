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
use xisa_converters::snapshot::SHADOW_STACK_POINTER;
use xisa_format::abi::jump_buffer;
use xisa_format::image::Image;
use xisa_format::memory_map::SHADOW_STACK;
use xisa_personality::GuestMemory;

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

#[cfg(test)]
mod tests {
    use super::*;
    use xisa_format::image::{CallSiteInfo, Manifest, NeutralSymbol, PROGRAM_WASM, TargetProgram};
    use xisa_format::memory_map::{ImageLayout, MemoryMap};
    use xisa_format::target::Target;
    use xisa_personality::FlatMemory;

    const SSP_AT: u64 = 0x601_0000;
    const BUFFER: u64 = 0x602_0000;

    /// An image whose call sites 1..=2 are in `outer`, 3..=4 in `parse` (the setjmp caller,
    /// its setjmp at site 3) and 5 in `longjmp`.
    fn image() -> Image {
        let site = |id: u32, function: &str| CallSiteInfo {
            id,
            function: function.into(),
            record_size: 16,
        };
        let manifest = Manifest {
            abi_version: 1,
            producer: "test".into(),
            opt_level: "O2".into(),
            rodata_size: 16,
            data_size: 8,
            bss_size: 0,
            symbols: vec![NeutralSymbol {
                name: SHADOW_STACK_POINTER.into(),
                region: 1,
                address: SSP_AT,
                size: 8,
            }],
            functions: vec![],
            targets: vec![TargetProgram {
                target: Target::Wasm64.id(),
                format: PROGRAM_WASM,
                entry: 0,
                entry_return: 0,
                call_sites: vec![],
            }],
            call_sites: vec![
                site(1, "outer"),
                site(2, "outer"),
                site(3, "parse"),
                site(4, "parse"),
                site(5, "longjmp"),
            ],
            native_state: vec![],
        };
        let bytes = xisa_format::image::write_image(
            &manifest,
            &[0; 24],
            &[(Target::Wasm64, b"\0asm\x01\0\0\0".to_vec())],
        );
        Image::from_bytes(bytes).expect("a valid test image")
    }

    fn frame(call_site: u32, token: u64) -> NeutralFrame {
        let mut record = token.to_le_bytes().to_vec();
        record.extend_from_slice(&[0xab; 8]);
        NeutralFrame { call_site, record }
    }

    fn with_memory<R>(buffer: [u64; 4], f: impl FnOnce(&mut FlatMemory<'_>) -> R) -> R {
        let mut data = vec![0u8; 0x700_0000];
        let map = MemoryMap {
            image: ImageLayout {
                rodata_size: 16,
                data_size: 8,
                bss_size: 0,
            },
            mem_top: 0x700_0000,
        };
        let mut memory = FlatMemory::new(&mut data, map);
        let words: Vec<u8> = buffer.iter().flat_map(|w| w.to_le_bytes()).collect();
        memory
            .bytes_mut(BUFFER, 32)
            .unwrap()
            .copy_from_slice(&words);
        f(&mut memory)
    }

    #[test]
    fn the_jump_resumes_the_activation_the_token_names_at_the_setjmp() {
        let image = image();
        let shadow = SHADOW_STACK.end - 0x40;
        // parse (token 7) recursed into parse (token 9), which called longjmp on token 7's
        // buffer: the inner activation goes too.
        let frames = vec![
            frame(5, 0),
            frame(4, 9),
            frame(4, 7),
            frame(2, 1),
            frame(1, 1),
        ];
        let kept = with_memory([7, 3, shadow, 1], |memory| {
            let kept = frames_after_long_jump(&image, memory, BUFFER, frames).unwrap();
            let ssp = memory.bytes(SSP_AT, 8).unwrap();
            assert_eq!(u64::from_le_bytes(ssp.try_into().unwrap()), shadow);
            kept
        });
        assert_eq!(kept.len(), 3);
        assert_eq!(kept[0].call_site, 3, "resumes at the setjmp's call site");
        assert_eq!(kept[0].record[..8], 7u64.to_le_bytes());
        assert_eq!(kept[1], frame(2, 1));
    }

    #[test]
    fn a_jump_to_a_returned_activation_is_refused() {
        let image = image();
        let frames = vec![frame(5, 0), frame(4, 12), frame(1, 1)];
        let error = with_memory([7, 3, SHADOW_STACK.end, 1], |memory| {
            frames_after_long_jump(&image, memory, BUFFER, frames).unwrap_err()
        });
        assert_eq!(
            error,
            LongJumpError::FrameGone {
                buffer: BUFFER,
                function: "parse".into()
            }
        );
    }

    #[test]
    fn a_buffer_no_setjmp_filled_is_refused() {
        let image = image();
        for site in [0, 99, 1 << 40] {
            let error = with_memory([7, site, SHADOW_STACK.end, 1], |memory| {
                frames_after_long_jump(&image, memory, BUFFER, vec![frame(5, 0)]).unwrap_err()
            });
            assert_eq!(
                error,
                LongJumpError::NotFilled {
                    buffer: BUFFER,
                    site
                }
            );
        }
    }

    #[test]
    fn bad_buffers_and_shadow_stack_pointers_are_refused() {
        let image = image();
        let error = with_memory([7, 3, SHADOW_STACK.end, 1], |memory| {
            frames_after_long_jump(&image, memory, 0x7ff_fff0, vec![frame(4, 7)]).unwrap_err()
        });
        assert_eq!(error, LongJumpError::BufferOutside(0x7ff_fff0));
        let error = with_memory([7, 3, 0x10, 1], |memory| {
            frames_after_long_jump(&image, memory, BUFFER, vec![frame(4, 7)]).unwrap_err()
        });
        assert_eq!(
            error,
            LongJumpError::BadShadowStack {
                buffer: BUFFER,
                pointer: 0x10
            }
        );
    }
}
