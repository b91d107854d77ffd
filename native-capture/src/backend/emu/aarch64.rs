//! AArch64 under Unicorn: EL1 with the MMU on over identity translation tables (4 KiB granule,
//! 39-bit addresses); hypercalls are stores to `HYPERCALL_MMIO`.
//!
//! The hypercall page lies in the null guard, which the translation tables leave out, so the
//! stub's `str x0, [x9]` raises a data abort at exactly that instruction, before it has any
//! effect. The backend recognises the store, answers in x0 and resumes at the next instruction.
//! Unicorn does not deliver the abort, so the fault address (FAR) is never written; for a real
//! fault the faulting instruction is run once more with the MMU off and the guards protected,
//! and the memory hook names the address.

use std::ops::Range;

use unicorn_engine::unicorn_const::{Arch, Mode, Prot, uc_error};
use unicorn_engine::{RegisterARM64, RegisterARM64CP};
use xisa_format::abi::HYPERCALL_MMIO;
use xisa_format::memory_map::native;

use super::{Emu, Event, Exit, Isa, PageFormat, STOP_ADDRESS, fault};
use crate::vcpu::{BackendError, Fault, FaultKind};

pub(super) struct Aarch64;

// QEMU's AArch64 exception numbers, as the interrupt hook reports them.
const EXCP_UDEF: u32 = 1;
const EXCP_SWI: u32 = 2;
const EXCP_PREFETCH_ABORT: u32 = 3;
const EXCP_DATA_ABORT: u32 = 4;
const EXCP_BKPT: u32 = 7;
const EXCP_HVC: u32 = 11;
const EXCP_SMC: u32 = 13;

/// Descriptor bits: valid table/page (0b11) or block (0b01), access flag, inner shareable,
/// attribute index 0 (normal write-back memory, see `MAIR`).
const TABLE: u64 = 0b11;
const BLOCK: u64 = 0b01;
const LEAF: u64 = (1 << 10) | (3 << 8);

const MAIR: u64 = 0xff;
/// T0SZ = 25 (39-bit addresses, walks start at level 1), write-back inner shareable walks,
/// 4 KiB granule, TTBR1 walks disabled, 40-bit physical addresses.
const TCR: u64 =
    25 | (1 << 8) | (1 << 10) | (3 << 12) | (25 << 16) | (1 << 23) | (2 << 30) | (2 << 32);
/// The bits that read as one on ARMv8.0.
const SCTLR_RES1: u64 = (1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29);
const SCTLR_M: u64 = 1;
const SCTLR_C: u64 = 1 << 2;
const SCTLR_I: u64 = 1 << 12;
/// FP and SIMD instructions do not trap at EL1 or EL0.
const CPACR_FPEN: u64 = 3 << 20;
/// EL1 using SP_EL1, interrupts masked.
const PSTATE_EL1H: u64 = 0x3c5;
/// Secure state, the levels below EL3 in AArch64 (bits 4 and 5 read as one). Unicorn resets
/// RW to zero, which makes QEMU walk EL1's translation tables in the AArch32 format.
const SCR_EL3_VALUE: u64 = (1 << 10) | (3 << 4);
/// Likewise for EL1 in the non-secure state, should the CPU start there.
const HCR_EL2_RW: u64 = 1 << 31;

/// (op0, op1, CRn, CRm, op2) of the system registers set up here.
type SysReg = (u32, u32, u32, u32, u32);
const SCR_EL3: SysReg = (3, 6, 1, 1, 0);
const HCR_EL2: SysReg = (3, 4, 1, 1, 0);
const SCTLR_EL1: SysReg = (3, 0, 1, 0, 0);
const CPACR_EL1: SysReg = (3, 0, 1, 0, 2);
const TTBR0_EL1: SysReg = (3, 0, 2, 0, 0);
const TCR_EL1: SysReg = (3, 0, 2, 0, 2);
const MAIR_EL1: SysReg = (3, 0, 10, 2, 0);

fn write_sysreg(
    uc: &mut Emu,
    (op0, op1, crn, crm, op2): SysReg,
    value: u64,
) -> Result<(), uc_error> {
    uc.reg_write_arm64_coproc(
        &RegisterARM64CP::new()
            .op0(op0)
            .op1(op1)
            .crn(crn)
            .crm(crm)
            .op2(op2)
            .val(value),
    )
}

/// General register `n` (31 is the stack pointer in the addressing modes decoded here).
fn x(uc: &Emu, n: u32) -> Result<u64, uc_error> {
    match n {
        0..=28 => uc.reg_read(RegisterARM64::X0 as i32 + n as i32),
        29 => uc.reg_read(RegisterARM64::X29),
        30 => uc.reg_read(RegisterARM64::X30),
        _ => uc.reg_read(RegisterARM64::SP),
    }
}

/// Is the instruction at `pc` a store to the hypercall page? Only `STR Wt|Xt, [Xn|SP, #imm]`
/// (unsigned offset) is recognised, the form the runtime stub uses.
fn is_hypercall(uc: &Emu, pc: u64) -> bool {
    let mut bytes = [0u8; 4];
    if uc.mem_read(pc, &mut bytes).is_err() {
        return false;
    }
    let insn = u32::from_le_bytes(bytes);
    let scale = match insn & 0xffc0_0000 {
        0xf900_0000 => 3,
        0xb900_0000 => 2,
        _ => return false,
    };
    let offset = u64::from((insn >> 10) & 0xfff) << scale;
    x(uc, (insn >> 5) & 31).is_ok_and(|base| base.wrapping_add(offset) == HYPERCALL_MMIO)
}

/// The data address of the aborted instruction at `pc`: runs it once more with the MMU off and
/// the guards protected, so that the memory hook sees the access. The guest is finished after
/// this, so the changed state does not matter.
fn abort_address(uc: &mut Emu, pc: u64, guards: &[Range<u64>]) -> Option<u64> {
    for guard in guards {
        uc.mem_protect(guard.start, guard.end - guard.start, Prot::NONE)
            .ok()?;
    }
    write_sysreg(uc, SCTLR_EL1, SCTLR_RES1).ok()?;
    // The cached translation would ignore the one-instruction limit.
    uc.ctl_remove_cache(pc, pc.wrapping_add(4)).ok()?;
    uc.get_data_mut().first = None;
    let _ = uc.emu_start(pc, STOP_ADDRESS, 0, 1);
    match uc.get_data_mut().first.take() {
        Some(Event::Memory { address, .. }) => Some(address),
        _ => None,
    }
}

impl Isa for Aarch64 {
    const ARCH: Arch = Arch::ARM64;
    const MODE: Mode = Mode::ARM;
    const FORMAT: PageFormat = PageFormat {
        table: |address| address | TABLE,
        block_2m: |address| address | BLOCK | LEAF,
        page_4k: |address| address | TABLE | LEAF,
        // UXN and PXN.
        no_execute: (1 << 54) | (1 << 53),
        pml4: false,
    };

    type Register = RegisterARM64;
    const PC: RegisterARM64 = RegisterARM64::PC;
    const STACK_POINTER: RegisterARM64 = RegisterARM64::SP;
    const FRAME_POINTER: RegisterARM64 = RegisterARM64::X29;
    const RESULT: RegisterARM64 = RegisterARM64::X0;
    const GENERAL: &'static [RegisterARM64] = {
        use RegisterARM64::*;
        &[
            X0, X1, X2, X3, X4, X5, X6, X7, X8, X9, X10, X11, X12, X13, X14, X15, X16, X17, X18,
            X19, X20, X21, X22, X23, X24, X25, X26, X27, X28, X30,
        ]
    };
    const VECTOR: &'static [RegisterARM64] = {
        use RegisterARM64::*;
        &[
            Q0, Q1, Q2, Q3, Q4, Q5, Q6, Q7, Q8, Q9, Q10, Q11, Q12, Q13, Q14, Q15, Q16, Q17, Q18,
            Q19, Q20, Q21, Q22, Q23, Q24, Q25, Q26, Q27, Q28, Q29, Q30, Q31,
        ]
    };

    fn setup(uc: &mut Emu, entry: u64, root: u64) -> Result<(), uc_error> {
        uc.reg_write(RegisterARM64::PSTATE, PSTATE_EL1H)?;
        // Best effort: a CPU without EL3 or EL2 lacks these registers, and then EL1 is AArch64
        // anyway.
        let _ = write_sysreg(uc, SCR_EL3, SCR_EL3_VALUE);
        let _ = write_sysreg(uc, HCR_EL2, HCR_EL2_RW);
        write_sysreg(uc, CPACR_EL1, CPACR_FPEN)?;
        write_sysreg(uc, MAIR_EL1, MAIR)?;
        write_sysreg(uc, TCR_EL1, TCR)?;
        write_sysreg(uc, TTBR0_EL1, root)?;
        write_sysreg(uc, SCTLR_EL1, SCTLR_RES1 | SCTLR_M | SCTLR_C | SCTLR_I)?;
        uc.reg_write(RegisterARM64::SP, native::STACK.end)?;
        uc.reg_write(RegisterARM64::PC, entry)
    }

    fn add_hooks(_uc: &mut Emu) -> Result<(), uc_error> {
        // Hypercalls are stores to an unmapped page: the shared memory hook sees them.
        Ok(())
    }

    fn event(
        uc: &mut Emu,
        event: Event,
        pc: u64,
        guards: &[Range<u64>],
    ) -> Result<Exit, BackendError> {
        let Event::Interrupt { number, pc: at } = event else {
            return Ok(match event {
                Event::Memory { address, .. } => Exit::Fault(Fault::access(address, pc)),
                _ => fault(FaultKind::Exception("I/O port access".into()), pc),
            });
        };
        Ok(match number {
            EXCP_DATA_ABORT if is_hypercall(uc, at) => {
                let mut call = [0u64; 7];
                for (n, value) in (0..).zip(call.iter_mut()) {
                    *value = x(uc, n).map_err(|e| super::failed(format!("reading x{n}: {e}")))?;
                }
                let [nr, args @ ..] = call;
                Exit::Hypercall {
                    nr,
                    args,
                    resume: at.wrapping_add(4),
                }
            }
            EXCP_DATA_ABORT => match abort_address(uc, at, guards) {
                Some(address) => Exit::Fault(Fault::access(address, at)),
                None => fault(FaultKind::Exception("data abort".into()), at),
            },
            EXCP_PREFETCH_ABORT => Exit::Fault(Fault::access(at, at)),
            EXCP_UDEF => fault(FaultKind::IllegalInstruction, at),
            EXCP_BKPT => fault(FaultKind::Trap, at),
            EXCP_SWI => fault(
                FaultKind::Exception("supervisor call (svc)".into()),
                at.wrapping_sub(4),
            ),
            EXCP_HVC => fault(
                FaultKind::Exception("hypervisor call (hvc)".into()),
                at.wrapping_sub(4),
            ),
            EXCP_SMC => fault(
                FaultKind::Exception("secure monitor call (smc)".into()),
                at.wrapping_sub(4),
            ),
            other => fault(
                FaultKind::Exception(format!("processor exception {other}")),
                at,
            ),
        })
    }

    fn migration_return_address(uc: &Emu, _resume: u64) -> Result<u64, uc_error> {
        // __xisa_migrate and __xisa_syscall are leaves reached by branches: the link register
        // is the return address into the instrumented caller and the stack is the caller's.
        uc.reg_read(RegisterARM64::X30)
    }
}
