//! The KVM backend (x86-64 guests on an x86-64 host). The guest runs at CPL 3 in long mode
//! (see `arch::x86_64::boot`); a hypercall is an `out` to `HYPERCALL_PORT`, which leaves the
//! guest as an I/O exit. Any exception ends the guest (no IDT, so a triple fault); the monitor
//! then decodes the instruction at the guest's rip to say what happened.

use kvm_bindings::{
    KVM_CAP_EXIT_ON_EMULATION_FAILURE, KVM_MAX_CPUID_ENTRIES, kvm_enable_cap, kvm_fpu, kvm_segment,
};
use kvm_ioctls::{Cap, Kvm, SyncReg, VcpuExit as KvmExit, VcpuFd, VmFd};
use xisa_format::abi::HYPERCALL_PORT;
use xisa_format::memory_map::native;

use super::kvm_slots::Slots;
use crate::arch::x86_64::{boot, decode};
use crate::memory::{GuestRam, HostRange};
use crate::vcpu::{
    BackendError, Fault, FaultKind, NativeState, POISON, Vcpu, VcpuExit, WrittenPages,
};

const BACKEND: &str = "KVM";

fn failed(reason: impl std::fmt::Display) -> BackendError {
    BackendError::Failed {
        backend: BACKEND,
        reason: reason.to_string(),
    }
}

/// Can this machine run KVM guests? Returns the reason when it cannot.
pub fn availability() -> Result<(), String> {
    Kvm::new()
        .map(|_| ())
        .map_err(|e| format!("/dev/kvm cannot be opened: {e}"))
}

pub struct KvmVcpu {
    vcpu: VcpuFd,
    // Dropped after the vCPU (fields drop in order): the VM must outlive its vCPU.
    vm: VmFd,
    /// Guest memory's KVM slots, some registered only once the guest touches them.
    slots: Slots,
    /// Guest memory as the vCPU sees it, to read faulting instructions.
    ranges: Vec<HostRange>,
}

impl KvmVcpu {
    /// Creates a VM over `ram`, writes the boot structures and points the vCPU at `entry`.
    pub fn new(ram: &mut GuestRam, entry: u64) -> Result<Self, BackendError> {
        let kvm = Kvm::new().map_err(|e| BackendError::Unavailable {
            backend: BACKEND,
            reason: format!("/dev/kvm: {e}"),
        })?;
        // Asking the host which CPUID features it supports takes about a millisecond and
        // needs only /dev/kvm: it overlaps setting up the VM.
        let supported_cpuid = std::thread::Builder::new()
            .name("kvm-cpuid".into())
            .spawn(|| Kvm::new()?.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES))
            .map_err(failed)?;
        let vm = kvm.create_vm().map_err(failed)?;
        let ranges = ram.host_ranges();
        // Registering memory as the guest first touches it relies on every access KVM cannot
        // emulate leaving the guest intact (by default one from CPL 3 raises #UD in it).
        // (Enabling fails on a kernel without the capability.)
        let exits_on_emulation_failure = vm
            .enable_cap(&kvm_enable_cap {
                cap: KVM_CAP_EXIT_ON_EMULATION_FAILURE,
                args: [1, 0, 0, 0],
                ..Default::default()
            })
            .is_ok();
        let slots = Slots::new(&vm, &ranges, exits_on_emulation_failure).map_err(failed)?;
        let accessible = GuestRam::accessible_ranges(ram.map());
        let tables = boot::page_tables(&accessible, ram.map().mem_top).map_err(failed)?;
        for (address, bytes) in tables.into_iter().chain(boot::descriptor_tables()) {
            ram.write(address, &bytes)
                .map_err(|e| failed(format!("writing boot structures at {address:#x}: {e}")))?;
        }
        let mut vcpu = vm.create_vcpu(0).map_err(failed)?;
        // KVM copies the general registers into the shared run page at every exit and takes
        // them back from it on entry, so a hypercall costs no register ioctls (each a round
        // trip through the host kernel, and a costly one under nested virtualisation).
        if !kvm.check_extension(Cap::SyncRegs) {
            return Err(BackendError::Unavailable {
                backend: BACKEND,
                reason: "this kernel's KVM cannot share registers through the run page \
                         (KVM_CAP_SYNC_REGS, Linux 4.17 and later)"
                    .into(),
            });
        }
        vcpu.set_sync_valid_reg(SyncReg::Register);
        let cpuid = supported_cpuid
            .join()
            .map_err(|_| failed("the CPUID query stopped unexpectedly"))?
            .map_err(failed)?;
        vcpu.set_cpuid2(&cpuid).map_err(failed)?;
        let mut sregs = vcpu.get_sregs().map_err(failed)?;
        let code = kvm_segment {
            base: 0,
            limit: 0xffff_ffff,
            selector: boot::USER_CODE_SELECTOR,
            type_: 11,
            present: 1,
            dpl: 3,
            db: 0,
            s: 1,
            l: 1,
            g: 1,
            avl: 0,
            unusable: 0,
            padding: 0,
        };
        let data = kvm_segment {
            selector: boot::USER_DATA_SELECTOR,
            type_: 3,
            db: 1,
            l: 0,
            ..code
        };
        sregs.cs = code;
        sregs.ds = data;
        sregs.es = data;
        sregs.fs = data;
        sregs.gs = data;
        sregs.ss = data;
        sregs.tr = kvm_segment {
            base: boot::TSS_BASE,
            limit: boot::TSS_LIMIT,
            selector: boot::TSS_SELECTOR,
            type_: 11,
            dpl: 0,
            s: 0,
            db: 0,
            l: 0,
            g: 0,
            ..code
        };
        sregs.gdt.base = boot::GDT_BASE;
        sregs.gdt.limit = boot::GDT_LIMIT;
        sregs.idt.base = 0;
        sregs.idt.limit = 0;
        const EFER_LME: u64 = 1 << 8;
        const EFER_LMA: u64 = 1 << 10;
        sregs.cr3 = boot::PML4_BASE;
        sregs.cr4 = boot::CR4;
        sregs.cr0 = boot::CR0;
        sregs.efer = EFER_LME | EFER_LMA;
        vcpu.set_sregs(&sregs).map_err(failed)?;
        let fpu = kvm_fpu {
            fcw: boot::FPU_CONTROL,
            mxcsr: boot::MXCSR,
            ..Default::default()
        };
        vcpu.set_fpu(&fpu).map_err(failed)?;
        let mut regs = vcpu.get_regs().map_err(failed)?;
        regs.rip = entry;
        regs.rsp = native::STACK.end;
        regs.rflags = boot::RFLAGS;
        vcpu.set_regs(&regs).map_err(failed)?;
        Ok(KvmVcpu {
            vcpu,
            vm,
            slots,
            ranges,
        })
    }

    /// Copies up to `buffer.len()` guest bytes at `address`; returns how many were readable.
    fn read_guest(&self, address: u64, buffer: &mut [u8]) -> usize {
        let Some(range) = self
            .ranges
            .iter()
            .find(|r| address >= r.guest && address < r.guest + r.size)
        else {
            return 0;
        };
        let available = (range.guest + range.size - address).min(buffer.len() as u64) as usize;
        // SAFETY: [address, address + available) lies inside this live mapping; the vCPU is
        // stopped while the monitor reads.
        let bytes = unsafe {
            std::slice::from_raw_parts(range.host.add((address - range.guest) as usize), available)
        };
        buffer[..available].copy_from_slice(bytes);
        available
    }

    fn accessible(&self, address: u64, size: u64) -> bool {
        self.ranges
            .iter()
            .any(|r| address >= r.guest && address.saturating_add(size) <= r.guest + r.size)
    }

    /// Decodes the instruction the guest stopped at.
    fn fault_at_rip(&self) -> Result<Fault, BackendError> {
        let regs = self.vcpu.get_regs().map_err(failed)?;
        let mut bytes = [0u8; 15];
        let n = self.read_guest(regs.rip, &mut bytes);
        let value = |register: iced_x86::Register| -> u64 {
            use iced_x86::Register::*;
            match register {
                RAX => regs.rax,
                RBX => regs.rbx,
                RCX => regs.rcx,
                RDX => regs.rdx,
                RSI => regs.rsi,
                RDI => regs.rdi,
                RBP => regs.rbp,
                RSP => regs.rsp,
                R8 => regs.r8,
                R9 => regs.r9,
                R10 => regs.r10,
                R11 => regs.r11,
                R12 => regs.r12,
                R13 => regs.r13,
                R14 => regs.r14,
                R15 => regs.r15,
                RIP => regs.rip,
                _ => 0,
            }
        };
        Ok(decode::classify(
            regs.rip,
            &bytes[..n],
            &value,
            &|address, size| self.accessible(address, size),
            &|address| native::STACK_GUARD.contains(&address),
        ))
    }
}

impl Vcpu for KvmVcpu {
    fn run(&mut self) -> Result<VcpuExit, BackendError> {
        loop {
            let exit = match self.vcpu.run() {
                Ok(KvmExit::IoOut(port, _)) => Exit::Port(port),
                // A first touch of memory whose slot is not registered yet: register it and do
                // the access the instruction asked for.
                Ok(KvmExit::MmioRead(address, data)) => {
                    if self
                        .slots
                        .complete_read(&self.vm, address, data)
                        .map_err(failed)?
                    {
                        continue;
                    }
                    Exit::Mmio(address)
                }
                Ok(KvmExit::MmioWrite(address, data)) => {
                    if self
                        .slots
                        .complete_write(&self.vm, address, data)
                        .map_err(failed)?
                    {
                        continue;
                    }
                    Exit::Mmio(address)
                }
                // An access KVM could not emulate may be a first touch too: with every slot
                // registered, the instruction runs again as it is.
                Ok(KvmExit::InternalError) => {
                    if self.slots.register_all(&self.vm).map_err(failed)? {
                        continue;
                    }
                    Exit::Stopped
                }
                Ok(KvmExit::Shutdown) | Ok(KvmExit::Hlt) => Exit::Stopped,
                Ok(KvmExit::FailEntry(reason, _)) => {
                    return Err(failed(format!("VM entry failed (reason {reason:#x})")));
                }
                Ok(KvmExit::Intr) => continue,
                Ok(other) => return Err(failed(format!("unexpected exit {other:?}"))),
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => continue,
                Err(e) => return Err(failed(e)),
            };
            return match exit {
                Exit::Port(HYPERCALL_PORT) => {
                    let regs = self.vcpu.sync_regs().regs;
                    Ok(VcpuExit::Hypercall {
                        nr: regs.rdi,
                        args: [regs.rsi, regs.rdx, regs.rcx, regs.r8, regs.r9, regs.r10],
                    })
                }
                Exit::Port(port) => Ok(VcpuExit::Fault(Fault {
                    kind: FaultKind::Exception(format!("write to I/O port {port:#x}")),
                    address: None,
                    pc: self.pc(),
                })),
                Exit::Mmio(address) => Ok(VcpuExit::Fault(Fault::access(address, self.pc()))),
                Exit::Stopped => Ok(VcpuExit::Fault(self.fault_at_rip()?)),
            };
        }
    }

    fn complete_hypercall(&mut self, value: u64) -> Result<(), BackendError> {
        // The run page still holds the registers of the hypercall exit.
        self.vcpu.sync_regs_mut().regs.rax = value;
        self.vcpu.set_sync_dirty_reg(SyncReg::Register);
        Ok(())
    }

    fn pc(&mut self) -> u64 {
        self.vcpu.get_regs().map(|r| r.rip).unwrap_or(0)
    }

    fn migration_state(&mut self) -> Result<NativeState, BackendError> {
        // The hypercall is in __xisa_syscall, reached by a tail call from __xisa_migrate: the
        // stack pointer points at the return address into the instrumented caller.
        let regs = self.vcpu.get_regs().map_err(failed)?;
        let mut bytes = [0u8; 8];
        if self.read_guest(regs.rsp, &mut bytes) != 8 {
            return Err(failed(format!(
                "the migrate call's stack at {:#x} is not readable",
                regs.rsp
            )));
        }
        Ok(NativeState {
            return_address: u64::from_le_bytes(bytes),
            stack_pointer: regs.rsp + 8,
            frame_pointer: regs.rbp,
        })
    }

    fn resume_at(&mut self, at: NativeState, poison: bool) -> Result<(), BackendError> {
        let mut regs = self.vcpu.get_regs().map_err(failed)?;
        if poison {
            for register in [
                &mut regs.rax,
                &mut regs.rbx,
                &mut regs.rcx,
                &mut regs.rdx,
                &mut regs.rsi,
                &mut regs.rdi,
                &mut regs.r8,
                &mut regs.r9,
                &mut regs.r10,
                &mut regs.r11,
                &mut regs.r12,
                &mut regs.r13,
                &mut regs.r14,
                &mut regs.r15,
            ] {
                *register = POISON;
            }
            let mut fpu = self.vcpu.get_fpu().map_err(failed)?;
            for xmm in fpu.xmm.iter_mut() {
                xmm.fill(0x5a);
            }
            self.vcpu.set_fpu(&fpu).map_err(failed)?;
        }
        regs.rip = at.return_address;
        regs.rsp = at.stack_pointer;
        regs.rbp = at.frame_pointer;
        regs.rflags = boot::RFLAGS;
        // Registers set here must not be overwritten by a stale copy in the run page.
        self.vcpu.clear_sync_dirty_reg(SyncReg::Register);
        self.vcpu.set_regs(&regs).map_err(failed)
    }

    fn written_pages(&mut self) -> Result<WrittenPages, BackendError> {
        match self.slots.take_written(&self.vm).map_err(failed)? {
            Some(written) => Ok(WrittenPages::Since(written)),
            None => {
                self.slots.start_logging(&self.vm).map_err(failed)?;
                Ok(WrittenPages::Started)
            }
        }
    }
}

enum Exit {
    Port(u16),
    Mmio(u64),
    /// The guest stopped on an exception (triple fault) or could not be emulated.
    Stopped,
}

// SAFETY: the host ranges point into guest memory owned by the GuestRam that travels with the
// vCPU; they are only read on the thread running the vCPU, while it is stopped.
unsafe impl Send for KvmVcpu {}
