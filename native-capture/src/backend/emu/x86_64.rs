//! x86-64 under Unicorn: 64-bit mode with 4-level identity paging; hypercalls are `out` to
//! `HYPERCALL_PORT`, caught by an I/O-instruction hook.
//!
//! The hook does not stop emulation: in Unicorn 2.0.1 a stop requested from a hook takes effect
//! at the next memory access or block end, and a stop at a memory access leaves RIP at an
//! earlier block start (not the `out`), so resuming would run instructions twice. Instead the
//! hook steers the runtime stub's `ret`, which directly follows its `out`: it swaps the return
//! address on the stack for the stop address, so the `ret` itself ends emulation cleanly, with
//! every register consistent. The return address is then put back, the result goes to rax and
//! the guest resumes at the return address, exactly as if the `ret` had returned there.

use std::ops::Range;

use unicorn_engine::unicorn_const::{Arch, Mode, uc_error};
use unicorn_engine::{RegisterX86, Unicorn};
use xisa_format::abi::HYPERCALL_PORT;
use xisa_format::memory_map::native;

use super::{Emu, Event, Events, Exit, Isa, PageFormat, STOP_ADDRESS, fault};
use crate::arch::x86_64::boot;
use crate::vcpu::{BackendError, Fault, FaultKind};

pub(super) struct X86_64;

const PRESENT_WRITABLE: u64 = 0b11;
const LARGE: u64 = 1 << 7;

const DIVIDE_ERROR: u32 = 0;
const BREAKPOINT: u32 = 3;
const PAGE_FAULT: u32 = 14;

/// The registers a hypercall reads: rdi (the number), then rsi, rdx, rcx, r8, r9, r10.
const CALL_REGISTERS: [RegisterX86; 7] = [
    RegisterX86::RDI,
    RegisterX86::RSI,
    RegisterX86::RDX,
    RegisterX86::RCX,
    RegisterX86::R8,
    RegisterX86::R9,
    RegisterX86::R10,
];

/// An `in` or `out`: a hypercall is recorded and its `ret` steered to the stop address; anything
/// else stops the guest (RIP is then only approximate, but the guest is finished anyway).
fn on_port(uc: &mut Unicorn<'_, Events>, port: u32, write: bool) {
    // Ports are 16 bits; Unicorn passes them widened.
    let port = port as u16;
    if write && port == HYPERCALL_PORT && uc.get_data().first.is_none() {
        let registers = CALL_REGISTERS.map(|register| uc.reg_read(register).unwrap_or(0));
        if let Ok(stack) = uc.reg_read(RegisterX86::RSP) {
            let mut slot = [0u8; 8];
            if uc.mem_read(stack, &mut slot).is_ok()
                && uc.mem_write(stack, &STOP_ADDRESS.to_le_bytes()).is_ok()
            {
                let return_address = u64::from_le_bytes(slot);
                uc.get_data_mut().record(Event::Hypercall {
                    registers,
                    stack,
                    return_address,
                });
                return;
            }
        }
    }
    let pc = uc.reg_read(RegisterX86::RIP).unwrap_or(0);
    uc.get_data_mut().record(Event::Port { port, write, pc });
    let _ = uc.emu_stop();
}

impl Isa for X86_64 {
    const ARCH: Arch = Arch::X86;
    const MODE: Mode = Mode::MODE_64;
    const FORMAT: PageFormat = PageFormat {
        table: |address| address | PRESENT_WRITABLE,
        block_2m: |address| address | PRESENT_WRITABLE | LARGE,
        page_4k: |address| address | PRESENT_WRITABLE,
        // The NX bit needs EFER.NXE, which Unicorn's CPU models do not offer (CPUID lacks NX);
        // Unicorn's own memory permissions keep data from being executed instead.
        no_execute: 0,
        pml4: true,
    };

    type Register = RegisterX86;
    const PC: RegisterX86 = RegisterX86::RIP;
    const STACK_POINTER: RegisterX86 = RegisterX86::RSP;
    const FRAME_POINTER: RegisterX86 = RegisterX86::RBP;
    const RESULT: RegisterX86 = RegisterX86::RAX;
    const GENERAL: &'static [RegisterX86] = {
        use RegisterX86::*;
        &[
            RAX, RBX, RCX, RDX, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15,
        ]
    };
    const VECTOR: &'static [RegisterX86] = {
        use RegisterX86::*;
        &[
            XMM0, XMM1, XMM2, XMM3, XMM4, XMM5, XMM6, XMM7, XMM8, XMM9, XMM10, XMM11, XMM12, XMM13,
            XMM14, XMM15,
        ]
    };

    fn setup(uc: &mut Emu, entry: u64, root: u64) -> Result<(), uc_error> {
        // Unicorn's 64-bit mode already has long mode enabled in EFER; paging goes on last.
        uc.reg_write(RegisterX86::CR3, root)?;
        uc.reg_write(RegisterX86::CR4, boot::CR4)?;
        uc.reg_write(RegisterX86::CR0, boot::CR0)?;
        // Unicorn resets these to zero (every exception unmasked, x87 stack full); use the
        // values a real reset (and KVM's set-up) gives.
        uc.reg_write(RegisterX86::MXCSR, boot::MXCSR.into())?;
        uc.reg_write(RegisterX86::FPCW, boot::FPU_CONTROL.into())?;
        uc.reg_write(RegisterX86::FPTAG, 0xffff)?;
        uc.reg_write(RegisterX86::RFLAGS, 0x2)?;
        uc.reg_write(RegisterX86::RSP, native::STACK.end)?;
        uc.reg_write(RegisterX86::RIP, entry)
    }

    fn add_hooks(uc: &mut Emu) -> Result<(), uc_error> {
        uc.add_insn_out_hook(|uc, port, _size, _value| on_port(uc, port, true))?;
        uc.add_insn_in_hook(|uc, port, _size| {
            on_port(uc, port, false);
            0
        })?;
        Ok(())
    }

    fn event(
        uc: &mut Emu,
        event: Event,
        pc: u64,
        _guards: &[Range<u64>],
    ) -> Result<Exit, BackendError> {
        Ok(match event {
            Event::Hypercall {
                registers,
                stack,
                return_address,
            } => {
                // The slot below the stack pointer is dead once `ret` popped it; restore it anyway
                // so guest memory is exactly as the guest left it.
                let _ = uc.mem_write(stack, &return_address.to_le_bytes());
                let returned = pc == STOP_ADDRESS
                    && uc.reg_read(RegisterX86::RSP) == Ok(stack.wrapping_add(8));
                if !returned {
                    let what =
                        "hypercall outside the runtime stub (its `out` must be followed by `ret`)";
                    return Ok(fault(FaultKind::Exception(what.into()), pc));
                }
                let [nr, args @ ..] = registers;
                Exit::Hypercall {
                    nr,
                    args,
                    resume: return_address,
                }
            }
            Event::Port {
                port: HYPERCALL_PORT,
                write: true,
                pc: at,
            } => fault(
                FaultKind::Exception(
                    "hypercall with the stack pointer outside guest memory".into(),
                ),
                at,
            ),
            Event::Port {
                port,
                write,
                pc: at,
            } => {
                let direction = if write { "write to" } else { "read from" };
                fault(
                    FaultKind::Exception(format!("{direction} I/O port {port:#x}")),
                    at,
                )
            }
            Event::Interrupt {
                number: PAGE_FAULT,
                pc: at,
            } => match uc.reg_read(RegisterX86::CR2) {
                Ok(address) => Exit::Fault(Fault::access(address, at)),
                Err(_) => fault(FaultKind::BadMemoryAccess, at),
            },
            Event::Interrupt {
                number: BREAKPOINT,
                pc: at,
            } => fault(FaultKind::Trap, software_interrupt_start(uc, at, 3)),
            Event::Interrupt {
                number: DIVIDE_ERROR,
                pc: at,
            } => fault(FaultKind::DivideError, at),
            Event::Interrupt { number, pc: at } if number < 32 => fault(exception_kind(number), at),
            Event::Interrupt { number, pc: at } => fault(
                FaultKind::Exception(format!("software interrupt {number:#x}")),
                software_interrupt_start(uc, at, number),
            ),
            Event::Memory { address, .. } => Exit::Fault(Fault::access(address, pc)),
        })
    }

    fn migration_return_address(_uc: &Emu, resume: u64) -> Result<u64, uc_error> {
        // The stub's `ret` has already run: the guest sits at the return address with the
        // caller's stack pointer.
        Ok(resume)
    }
}

/// Names the processor exceptions that have no more specific kind.
fn exception_kind(vector: u32) -> FaultKind {
    let name = match vector {
        1 => "debug exception (#DB)",
        4 => "overflow (#OF)",
        5 => "bound range exceeded (#BR)",
        6 => return FaultKind::IllegalInstruction,
        7 => "device not available (#NM)",
        8 => "double fault (#DF)",
        10 => "invalid TSS (#TS)",
        11 => "segment not present (#NP)",
        12 => "stack-segment fault (#SS)",
        13 => "general protection fault (#GP)",
        16 => "x87 floating-point exception (#MF)",
        17 => "alignment check (#AC)",
        19 => "SIMD floating-point exception (#XM)",
        other => return FaultKind::Exception(format!("processor exception {other}")),
    };
    FaultKind::Exception(name.into())
}

/// `int3` and `int n` leave RIP after themselves; report the instruction itself.
fn software_interrupt_start(uc: &Emu, next: u64, number: u32) -> u64 {
    let before = |count: u64| {
        next.checked_sub(count)
            .and_then(|at| uc.mem_read_as_vec(at, count as usize).ok())
    };
    if number == 3 && before(1).as_deref() == Some(&[0xcc]) {
        return next - 1;
    }
    match before(2).as_deref() {
        Some(&[0xcd, vector]) if u32::from(vector) == number => next - 2,
        _ => next,
    }
}
