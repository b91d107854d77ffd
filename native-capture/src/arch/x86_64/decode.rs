//! Naming an x86-64 fault from the faulting instruction. The guest runs without an IDT, so an
//! exception stops it at the faulting instruction with no vector; decoding that instruction
//! and the addresses it touches (under the current registers) tells what went wrong.

use iced_x86::{Code, Decoder, DecoderOptions, InstructionInfoFactory, Mnemonic, Register};

use crate::vcpu::{Fault, FaultKind};

/// Classifies the fault at `pc`, given the instruction bytes there (at most 15) and a test
/// for whether a guest address may be accessed.
/// `registers` gives the general-purpose registers at the fault (by iced's 64-bit register).
pub fn classify(
    pc: u64,
    bytes: &[u8],
    registers: &dyn Fn(Register) -> u64,
    accessible: &dyn Fn(u64, u64) -> bool,
    stack_guard: &dyn Fn(u64) -> bool,
) -> Fault {
    let fault = |kind, address| Fault { kind, address, pc };
    if bytes.is_empty() {
        return fault(FaultKind::BadMemoryAccess, Some(pc));
    }
    let mut decoder = Decoder::with_ip(64, bytes, pc, DecoderOptions::NONE);
    let instruction = decoder.decode();
    if instruction.is_invalid() {
        return fault(FaultKind::IllegalInstruction, None);
    }
    match instruction.mnemonic() {
        Mnemonic::Ud0 | Mnemonic::Ud1 | Mnemonic::Ud2 => {
            return fault(FaultKind::IllegalInstruction, None);
        }
        Mnemonic::Int3 => return fault(FaultKind::Trap, None),
        Mnemonic::Div | Mnemonic::Idiv => return fault(FaultKind::DivideError, None),
        Mnemonic::Hlt
        | Mnemonic::Cli
        | Mnemonic::Sti
        | Mnemonic::Lgdt
        | Mnemonic::Lidt
        | Mnemonic::Invlpg => {
            return fault(FaultKind::Exception("privileged instruction".into()), None);
        }
        _ => {}
    }
    if instruction.code() == Code::INVALID {
        return fault(FaultKind::IllegalInstruction, None);
    }
    let mut factory = InstructionInfoFactory::new();
    let info = factory.info(&instruction);
    for memory in info.used_memory() {
        let address = memory.virtual_address(0, |register, _, _| {
            Some(registers(register.full_register()))
        });
        let Some(address) = address else { continue };
        let size = memory.memory_size().size().max(1) as u64;
        if !accessible(address, size) {
            let kind = if stack_guard(address) {
                FaultKind::StackOverflow
            } else {
                FaultKind::BadMemoryAccess
            };
            return fault(kind, Some(address));
        }
    }
    fault(FaultKind::Exception("processor exception".into()), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs(register: Register) -> u64 {
        match register {
            Register::RAX => 0x10,
            Register::RSP => 0x380_0000,
            _ => 0,
        }
    }

    fn accessible(address: u64, size: u64) -> bool {
        address >= 0x1_0000 && address + size <= 0x37f_0000 || address >= 0x380_0000
    }

    fn guard(address: u64) -> bool {
        (0x37f_0000..0x380_0000).contains(&address)
    }

    #[test]
    fn instructions_name_their_faults() {
        let at = |bytes: &[u8]| classify(0x2_0000, bytes, &regs, &accessible, &guard);
        assert_eq!(at(&[0x0f, 0x0b]).kind, FaultKind::IllegalInstruction); // ud2
        assert_eq!(at(&[0xcc]).kind, FaultKind::Trap); // int3
        assert_eq!(at(&[0xf7, 0xf9]).kind, FaultKind::DivideError); // idiv %ecx
        let load = at(&[0x48, 0x8b, 0x40, 0x08]); // mov 0x8(%rax),%rax
        assert_eq!(
            (load.kind, load.address),
            (FaultKind::BadMemoryAccess, Some(0x18))
        );
        let push = at(&[0x50, 0x50, 0x50]); // push %rax with rsp just above the guard
        assert_eq!(
            (push.kind, push.address),
            (FaultKind::StackOverflow, Some(0x37f_fff8))
        );
        assert_eq!(
            at(&[0xf4]).kind,
            FaultKind::Exception("privileged instruction".into())
        ); // hlt
        assert_eq!(at(&[0x06]).kind, FaultKind::IllegalInstruction); // push %es: invalid in 64-bit
    }
}
