//! Tiny hand-assembled guests (clang-19 `--target=x86_64-unknown-none-elf` and
//! `--target=aarch64-unknown-none-elf`), loaded at `CODE_BASE` and entered at one label each.

use unicorn_engine::{RegisterARM64, RegisterX86};
use xisa_format::memory_map::{ImageLayout, MIN_MEM_TOP, MemoryMap, native};

use super::EmuVcpu;
use super::aarch64::Aarch64;
use super::x86_64::X86_64;
use crate::memory::GuestRam;
use crate::vcpu::{Fault, FaultKind, Vcpu, VcpuExit};

const BASE: u64 = native::CODE_BASE;

#[rustfmt::skip]
const X86_CODE: &[u8] = &[
    // hypercalls:
    0x48, 0xbc, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, // 0x00: movabsq $0x4000000, %rsp
    0xbf, 0x0b, 0x00, 0x00, 0x00,                               // 0x0a: movl $0xb, %edi
    0xbe, 0x05, 0x00, 0x00, 0x00,                               // 0x0f: movl $0x5, %esi
    0xe8, 0x0f, 0x00, 0x00, 0x00,                               // 0x14: callq hc
    0x48, 0x89, 0xc6,                                           // 0x19: movq %rax, %rsi
    0xbf, 0x0c, 0x00, 0x00, 0x00,                               // 0x1c: movl $0xc, %edi
    0xe8, 0x02, 0x00, 0x00, 0x00,                               // 0x21: callq hc
    0x0f, 0x0b,                                                 // 0x26: ud2
    // hc: (the runtime stub's shape)
    0xe7, 0xe5,                                                 // 0x28: outl %eax, $0xe5
    0xc3,                                                       // 0x2a: retq
    // null_store:
    0xb8, 0x08, 0x00, 0x00, 0x00,                               // 0x2b: movl $0x8, %eax
    0x48, 0x83, 0xc1, 0x01,                                     // 0x30: addq $0x1, %rcx
    0x48, 0x89, 0x48, 0x10,                                     // 0x34: movq %rcx, 0x10(%rax)
    0x0f, 0x0b,                                                 // 0x38: ud2
    // stack_overflow:
    0x48, 0xbc, 0x00, 0x00, 0x80, 0x03, 0x00, 0x00, 0x00, 0x00, // 0x3a: movabsq $0x3800000, %rsp
    0x48, 0x83, 0xc1, 0x01,                                     // 0x44: addq $0x1, %rcx
    0x51,                                                       // 0x48: pushq %rcx
    0x0f, 0x0b,                                                 // 0x49: ud2
    // divide:
    0x31, 0xc9,                                                 // 0x4b: xorl %ecx, %ecx
    0xb8, 0x07, 0x00, 0x00, 0x00,                               // 0x4d: movl $0x7, %eax
    0x48, 0x99,                                                 // 0x52: cqto
    0x48, 0xf7, 0xf9,                                           // 0x54: idivq %rcx
    0x0f, 0x0b,                                                 // 0x57: ud2
    // illegal:
    0x90,                                                       // 0x59: nop
    0x0f, 0x0b,                                                 // 0x5a: ud2
    // sse: ((3.0 / 4.0) * 2)^2 in both lanes, lanes summed, times 100: 450
    0x48, 0xbc, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, // 0x5c: movabsq $0x4000000, %rsp
    0xb8, 0x03, 0x00, 0x00, 0x00,                               // 0x66: movl $0x3, %eax
    0xf2, 0x48, 0x0f, 0x2a, 0xc0,                               // 0x6b: cvtsi2sd %rax, %xmm0
    0xb8, 0x04, 0x00, 0x00, 0x00,                               // 0x70: movl $0x4, %eax
    0xf2, 0x48, 0x0f, 0x2a, 0xc8,                               // 0x75: cvtsi2sd %rax, %xmm1
    0xf2, 0x0f, 0x5e, 0xc1,                                     // 0x7a: divsd %xmm1, %xmm0
    0x66, 0x0f, 0x14, 0xc0,                                     // 0x7e: unpcklpd %xmm0, %xmm0
    0x66, 0x0f, 0x58, 0xc0,                                     // 0x82: addpd %xmm0, %xmm0
    0x66, 0x0f, 0x59, 0xc0,                                     // 0x86: mulpd %xmm0, %xmm0
    0x66, 0x0f, 0x28, 0xd0,                                     // 0x8a: movapd %xmm0, %xmm2
    0x66, 0x0f, 0x15, 0xd2,                                     // 0x8e: unpckhpd %xmm2, %xmm2
    0xf2, 0x0f, 0x58, 0xc2,                                     // 0x92: addsd %xmm2, %xmm0
    0xb8, 0x64, 0x00, 0x00, 0x00,                               // 0x96: movl $0x64, %eax
    0xf2, 0x48, 0x0f, 0x2a, 0xd8,                               // 0x9b: cvtsi2sd %rax, %xmm3
    0xf2, 0x0f, 0x59, 0xc3,                                     // 0xa0: mulsd %xmm3, %xmm0
    0xf2, 0x48, 0x0f, 0x2c, 0xf0,                               // 0xa4: cvttsd2si %xmm0, %rsi
    0xbf, 0x0d, 0x00, 0x00, 0x00,                               // 0xa9: movl $0xd, %edi
    0xe8, 0x75, 0xff, 0xff, 0xff,                               // 0xae: callq hc
    0x0f, 0x0b,                                                 // 0xb3: ud2
    // trap:
    0x90,                                                       // 0xb5: nop
    0xcc,                                                       // 0xb6: int3
    0x0f, 0x0b,                                                 // 0xb7: ud2
    // null_call:
    0x31, 0xc0,                                                 // 0xb9: xorl %eax, %eax
    0xff, 0xd0,                                                 // 0xbb: callq *%rax
    // other_port:
    0xe6, 0x80,                                                 // 0xbd: outb %al, $0x80
    0xc3,                                                       // 0xbf: retq
    // bare_hypercall: not the stub's shape
    0xe7, 0xe5,                                                 // 0xc0: outl %eax, $0xe5
    0x90,                                                       // 0xc2: nop
    0x0f, 0x0b,                                                 // 0xc3: ud2
    // software_interrupt:
    0x90,                                                       // 0xc5: nop
    0xcd, 0x80,                                                 // 0xc6: int $0x80
];

#[rustfmt::skip]
const AARCH64_CODE: &[u32] = &[
    // hypercalls:
    0xd2a08009, // 0x00: mov x9, #0x4000000
    0x9100013f, // 0x04: mov sp, x9
    0xd2800160, // 0x08: mov x0, #0xb
    0xd28000a1, // 0x0c: mov x1, #0x5
    0x94000008, // 0x10: bl hc
    0xaa0003e1, // 0x14: mov x1, x0
    0xd2800180, // 0x18: mov x0, #0xc
    0x94000005, // 0x1c: bl hc
    0xaa0003e1, // 0x20: mov x1, x0
    0xd28001c0, // 0x24: mov x0, #0xe
    0x94000005, // 0x28: bl hc_inc
    0x00000000, // 0x2c: udf #0
    // hc: (the runtime stub's shape)
    0xd29e0009, // 0x30: mov x9, #0xf000
    0xf9000120, // 0x34: str x0, [x9]
    0xd65f03c0, // 0x38: ret
    // hc_inc: uses the result in the same block
    0xd29e0009, // 0x3c: mov x9, #0xf000
    0xf9000120, // 0x40: str x0, [x9]
    0x91000400, // 0x44: add x0, x0, #0x1
    0xd65f03c0, // 0x48: ret
    // null_store:
    0xd2800201, // 0x4c: mov x1, #0x10
    0x91000400, // 0x50: add x0, x0, #0x1
    0xf9000420, // 0x54: str x0, [x1, #0x8]
    0x00000000, // 0x58: udf #0
    // stack_overflow:
    0xd2a07009, // 0x5c: mov x9, #0x3800000
    0x9100013f, // 0x60: mov sp, x9
    0x91000400, // 0x64: add x0, x0, #0x1
    0xf81f0fe0, // 0x68: str x0, [sp, #-0x10]!
    0x00000000, // 0x6c: udf #0
    // illegal:
    0xd503201f, // 0x70: nop
    0x00000000, // 0x74: udf #0
    // neon: ((3.0 / 4.0) * 2)^2 in both lanes, lanes summed, times 100: 450
    0xd2a08009, // 0x78: mov x9, #0x4000000
    0x9100013f, // 0x7c: mov sp, x9
    0xd2800060, // 0x80: mov x0, #0x3
    0x9e620000, // 0x84: scvtf d0, x0
    0xd2800080, // 0x88: mov x0, #0x4
    0x9e620001, // 0x8c: scvtf d1, x0
    0x1e611800, // 0x90: fdiv d0, d0, d1
    0x4e080400, // 0x94: dup v0.2d, v0.d[0]
    0x4e60d400, // 0x98: fadd v0.2d, v0.2d, v0.2d
    0x6e60dc00, // 0x9c: fmul v0.2d, v0.2d, v0.2d
    0x7e70d800, // 0xa0: faddp d0, v0.2d
    0xd2800c80, // 0xa4: mov x0, #0x64
    0x9e620003, // 0xa8: scvtf d3, x0
    0x1e630800, // 0xac: fmul d0, d0, d3
    0x9e780001, // 0xb0: fcvtzs x1, d0
    0xd28001a0, // 0xb4: mov x0, #0xd
    0x97ffffde, // 0xb8: bl hc
    0x00000000, // 0xbc: udf #0
    // trap:
    0xd503201f, // 0xc0: nop
    0xd4200020, // 0xc4: brk #0x1
    // null_call:
    0xd2800000, // 0xc8: mov x0, #0x0
    0xd63f0000, // 0xcc: blr x0
    // null_load: not a hypercall although it reads the hypercall page
    0xd29e0009, // 0xd0: mov x9, #0xf000
    0xf9400120, // 0xd4: ldr x0, [x9]
    // supervisor_call:
    0xd503201f, // 0xd8: nop
    0xd4000001, // 0xdc: svc #0
];

fn ram_with(code: &[u8]) -> GuestRam {
    let map = MemoryMap {
        image: ImageLayout::default(),
        mem_top: MIN_MEM_TOP,
    };
    let mut ram = GuestRam::new(map).unwrap();
    ram.write(BASE, code).unwrap();
    ram
}

fn x86(ram: &mut GuestRam, offset: u64) -> EmuVcpu<X86_64> {
    EmuVcpu::new(ram, BASE + offset).unwrap()
}

fn aarch64(ram: &mut GuestRam, offset: u64) -> EmuVcpu<Aarch64> {
    EmuVcpu::new(ram, BASE + offset).unwrap()
}

fn aarch64_bytes() -> Vec<u8> {
    AARCH64_CODE
        .iter()
        .flat_map(|word| word.to_le_bytes())
        .collect()
}

fn aarch64_ram() -> GuestRam {
    ram_with(&aarch64_bytes())
}

fn hypercall(vcpu: &mut (impl Vcpu + ?Sized)) -> (u64, u64) {
    match vcpu.run().unwrap() {
        VcpuExit::Hypercall { nr, args } => (nr, args[0]),
        other => panic!("expected a hypercall, got {other:?}"),
    }
}

fn fault(vcpu: &mut (impl Vcpu + ?Sized)) -> Fault {
    match vcpu.run().unwrap() {
        VcpuExit::Fault(fault) => fault,
        other => panic!("expected a fault, got {other:?}"),
    }
}

/// The fault of the instruction at offset `pc` of the code.
fn fault_at(kind: FaultKind, address: Option<u64>, pc: u64) -> Fault {
    Fault {
        kind,
        address,
        pc: BASE + pc,
    }
}

fn expect(vcpu: &mut impl Vcpu, kind: FaultKind, address: Option<u64>, pc: u64) {
    assert_eq!(fault(vcpu), fault_at(kind, address, pc));
}

/// How the x86-64 code run from offset `entry` ends.
fn x86_fault(entry: u64) -> Fault {
    let mut ram = ram_with(X86_CODE);
    fault(&mut x86(&mut ram, entry))
}

/// How the AArch64 code run from offset `entry` ends.
fn aarch64_fault(entry: u64) -> Fault {
    let mut ram = aarch64_ram();
    fault(&mut aarch64(&mut ram, entry))
}

#[test]
fn x86_hypercalls_round_trip() {
    let mut ram = ram_with(X86_CODE);
    let mut vcpu = x86(&mut ram, 0x00);
    assert_eq!(hypercall(&mut vcpu), (11, 5));
    assert_eq!(vcpu.pc(), BASE + 0x19, "continues at the return address");
    vcpu.complete_hypercall(77).unwrap();
    assert_eq!(hypercall(&mut vcpu), (12, 77));
    vcpu.complete_hypercall(0).unwrap();
    expect(&mut vcpu, FaultKind::IllegalInstruction, None, 0x26);
    // A finished guest stays finished.
    expect(&mut vcpu, FaultKind::IllegalInstruction, None, 0x26);
    assert!(vcpu.complete_hypercall(1).is_err());
}

#[test]
fn aarch64_hypercalls_round_trip() {
    let mut ram = aarch64_ram();
    let mut vcpu = aarch64(&mut ram, 0x00);
    assert_eq!(hypercall(&mut vcpu), (11, 5));
    assert_eq!(
        vcpu.uc.reg_read(RegisterARM64::PC).unwrap(),
        BASE + 0x34,
        "stopped at the store itself"
    );
    assert_eq!(vcpu.pc(), BASE + 0x38, "continues after it");
    vcpu.complete_hypercall(77).unwrap();
    assert_eq!(hypercall(&mut vcpu), (12, 77));
    vcpu.complete_hypercall(100).unwrap();
    assert_eq!(hypercall(&mut vcpu), (14, 100));
    vcpu.complete_hypercall(200).unwrap();
    expect(&mut vcpu, FaultKind::IllegalInstruction, None, 0x2c);
    // The instruction right after the store saw the result.
    assert_eq!(vcpu.uc.reg_read(RegisterARM64::X0).unwrap(), 201);
}

#[test]
fn null_guard_stores_fault_at_the_instruction() {
    let null = |pc| fault_at(FaultKind::BadMemoryAccess, Some(0x18), pc);
    assert_eq!(x86_fault(0x2b), null(0x34));
    assert_eq!(aarch64_fault(0x4c), null(0x54));
}

#[test]
fn aarch64_loads_from_the_hypercall_page_fault() {
    assert_eq!(
        aarch64_fault(0xd0),
        fault_at(FaultKind::BadMemoryAccess, Some(0xf000), 0xd4)
    );
}

#[test]
fn stack_guard_stores_are_stack_overflows() {
    let overflow = |address, pc| fault_at(FaultKind::StackOverflow, Some(address), pc);
    assert_eq!(x86_fault(0x3a), overflow(native::STACK.start - 8, 0x48));
    assert_eq!(
        aarch64_fault(0x5c),
        overflow(native::STACK.start - 16, 0x68)
    );
}

#[test]
fn undefined_instructions_are_illegal() {
    let illegal = |pc| fault_at(FaultKind::IllegalInstruction, None, pc);
    assert_eq!(x86_fault(0x59), illegal(0x5a));
    assert_eq!(aarch64_fault(0x70), illegal(0x74));
}

#[test]
fn x86_division_by_zero_is_a_divide_error() {
    assert_eq!(
        x86_fault(0x4b),
        fault_at(FaultKind::DivideError, None, 0x54)
    );
}

#[test]
fn floating_point_and_simd_work() {
    let mut ram = ram_with(X86_CODE);
    assert_eq!(hypercall(&mut x86(&mut ram, 0x5c)), (13, 450));
    let mut ram = aarch64_ram();
    assert_eq!(hypercall(&mut aarch64(&mut ram, 0x78)), (13, 450));
}

#[test]
fn breakpoints_are_traps() {
    let trap = |pc| fault_at(FaultKind::Trap, None, pc);
    assert_eq!(x86_fault(0xb5), trap(0xb6));
    assert_eq!(aarch64_fault(0xc0), trap(0xc4));
}

#[test]
fn system_calls_fault_at_the_instruction() {
    let exception = |what: &str, pc| fault_at(FaultKind::Exception(what.into()), None, pc);
    assert_eq!(x86_fault(0xc5), exception("software interrupt 0x80", 0xc6));
    assert_eq!(
        aarch64_fault(0xd8),
        exception("supervisor call (svc)", 0xdc)
    );
}

#[test]
fn calls_through_null_fault_at_zero() {
    let null = Fault {
        kind: FaultKind::BadMemoryAccess,
        address: Some(0),
        pc: 0,
    };
    assert_eq!(x86_fault(0xb9), null);
    assert_eq!(aarch64_fault(0xc8), null);
}

#[test]
fn only_code_is_executable() {
    // The neutral image is data: calling into it faults at the call's target.
    let image = xisa_format::memory_map::IMAGE_BASE;
    let data = Fault {
        kind: FaultKind::BadMemoryAccess,
        address: Some(image),
        pc: image,
    };
    let mut ram = ram_with(X86_CODE);
    let mut vcpu = x86(&mut ram, 0xbb);
    vcpu.uc.reg_write(RegisterX86::RAX, image).unwrap();
    assert_eq!(fault(&mut vcpu), data);
    let mut ram = aarch64_ram();
    let mut vcpu = aarch64(&mut ram, 0xcc);
    vcpu.uc.reg_write(RegisterARM64::X0, image).unwrap();
    assert_eq!(fault(&mut vcpu), data);
}

#[test]
fn x86_other_ports_fault() {
    let fault = x86_fault(0xbd);
    assert_eq!(
        fault.kind,
        FaultKind::Exception("write to I/O port 0x80".into())
    );
}

#[test]
fn x86_hypercalls_need_the_stub_shape() {
    let mut ram = ram_with(X86_CODE);
    let mut vcpu = x86(&mut ram, 0xc0);
    let slot = ram.read_u64(native::STACK.end).unwrap();
    let fault = fault(&mut vcpu);
    assert!(
        matches!(fault.kind, FaultKind::Exception(ref what) if what.contains("runtime stub")),
        "{fault:?}"
    );
    assert_eq!(
        ram.read_u64(native::STACK.end).unwrap(),
        slot,
        "the stack slot is restored"
    );
}

#[test]
fn memory_past_the_top_faults() {
    let mut ram = ram_with(X86_CODE);
    // Just above mem_top: the top guard catches it at the instruction.
    let mut vcpu = x86(&mut ram, 0x30);
    vcpu.uc.reg_write(RegisterX86::RAX, MIN_MEM_TOP).unwrap();
    expect(
        &mut vcpu,
        FaultKind::BadMemoryAccess,
        Some(MIN_MEM_TOP + 0x10),
        0x34,
    );
    // Far away nothing is mapped; the access is still reported with its address.
    let mut vcpu = x86(&mut ram, 0x30);
    vcpu.uc
        .reg_write(RegisterX86::RAX, 0x100_0000_0000)
        .unwrap();
    let far = fault(&mut vcpu);
    assert_eq!(
        (far.kind, far.address),
        (FaultKind::BadMemoryAccess, Some(0x100_0000_0010))
    );
}

#[test]
fn new_vcpu_picks_the_isa() {
    let mut ram = aarch64_ram();
    let mut vcpu =
        super::new_vcpu(xisa_format::target::Target::Aarch64, &mut ram, BASE + 0x78).unwrap();
    assert_eq!(hypercall(vcpu.as_mut()), (13, 450));
    assert!(super::new_vcpu(xisa_format::target::Target::Wasm64, &mut ram, BASE).is_err());
}

#[test]
fn all_of_guest_memory_is_mapped() {
    let mem_top = 1 << 32;
    let map = MemoryMap {
        image: ImageLayout::default(),
        mem_top,
    };
    let mut ram = GuestRam::new(map).unwrap();
    ram.write(BASE, X86_CODE).unwrap();
    for address in [0x7fff_fff8, 0x8000_0000, 0xc000_0000, mem_top - 8] {
        let mut vcpu = x86(&mut ram, 0x30);
        vcpu.uc.reg_write(RegisterX86::RAX, address - 0x10).unwrap();
        expect(&mut vcpu, FaultKind::IllegalInstruction, None, 0x38);
    }
    let mut vcpu = x86(&mut ram, 0x30);
    vcpu.uc.reg_write(RegisterX86::RAX, mem_top - 0x10).unwrap();
    expect(&mut vcpu, FaultKind::BadMemoryAccess, Some(mem_top), 0x34);

    ram.write(BASE, &aarch64_bytes()).unwrap();
    for address in [0x7fff_fff8, 0x8000_0000, 0xc000_0000, mem_top - 8] {
        let mut vcpu = aarch64(&mut ram, 0x50);
        vcpu.uc.reg_write(RegisterARM64::X1, address - 8).unwrap();
        expect(&mut vcpu, FaultKind::IllegalInstruction, None, 0x58);
    }
    let mut vcpu = aarch64(&mut ram, 0x50);
    vcpu.uc.reg_write(RegisterARM64::X1, mem_top - 8).unwrap();
    expect(&mut vcpu, FaultKind::BadMemoryAccess, Some(mem_top), 0x54);
}
