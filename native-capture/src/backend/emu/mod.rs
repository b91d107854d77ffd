//! The CPU-emulation backend: x86-64 and AArch64 guests on any host, through Unicorn.
//!
//! Unicorn 2.0.1 (Debian's libunicorn) reports an access outside its own memory map with the pc
//! it last synchronised (the start of the current or of an earlier translation block), not the
//! pc of the faulting instruction. Faults raised by the guest's page tables, on the other hand,
//! come with the exact pc. So the guard ranges are backed by Unicorn memory like the rest of
//! guest memory, and identity page tables (x86-64 4-level paging, AArch64 stage-1 translation)
//! map only the accessible ranges: touching a guard raises a page fault or data abort at the
//! exact instruction. Only accesses far outside guest memory (beyond `mem_top` plus
//! `TOP_GUARD`) still take Unicorn's unmapped-memory path, with an approximate pc.
//!
//! Hooks are limited to what stops the guest (I/O instructions on x86-64, CPU exceptions,
//! unmapped or protected memory); nothing runs per instruction or per block, and translated
//! code stays cached across hypercalls.

mod aarch64;
mod x86_64;

use std::marker::PhantomData;
use std::ops::Range;

use unicorn_engine::unicorn_const::{Arch, MemType, Mode, Prot, uc_error};
use unicorn_engine::{HookType, Unicorn};
use xisa_format::memory_map::{NULL_GUARD_END, PRIVATE, SHADOW_STACK_GUARD, native};
use xisa_format::target::Target;

use crate::memory::GuestRam;
use crate::vcpu::{BackendError, Fault, FaultKind, NativeState, POISON, Vcpu, VcpuExit};

const BACKEND: &str = "emu";

/// Guest addresses must stay below this: AArch64 translates 39-bit addresses (three levels from
/// a 1 GiB-entry table), and x86-64 uses the first PML4 entry only.
const ADDRESS_LIMIT: u64 = 1 << 39;

/// Where the program's code and private data lie; only here may the guest execute. Data is
/// mapped without execute permission (in Unicorn, and in AArch64's translation tables) because
/// Unicorn 2.1 and later let stores to pages that cannot hold code skip its self-modifying-code
/// check; 2.0.1 checks every store regardless.
const CODE: Range<u64> = PRIVATE.start..native::CODE_LIMIT;

/// Backed but never mapped above `mem_top`, so that running off the top of guest memory is
/// reported precisely too.
const TOP_GUARD: u64 = 1 << 20;

/// The `until` address given to Unicorn: reaching it ends `emu_start` cleanly, at a block
/// boundary. Unicorn translates the addresses around it when emulation starts, so they must be
/// mapped and executable (on x86-64 a page fault there would linger and turn the guest's next
/// exception into a double fault); the guest never executes the monitor area.
const STOP_ADDRESS: u64 = native::MONITOR.start + 0x800;

fn failed(reason: impl std::fmt::Display) -> BackendError {
    BackendError::Failed {
        backend: BACKEND,
        reason: reason.to_string(),
    }
}

/// Creates an emulated vCPU over `ram` that starts at `entry`.
pub fn new_vcpu(
    target: Target,
    ram: &mut GuestRam,
    entry: u64,
) -> Result<Box<dyn Vcpu>, BackendError> {
    match target {
        Target::X86_64 => Ok(Box::new(EmuVcpu::<x86_64::X86_64>::new(ram, entry)?)),
        Target::Aarch64 => Ok(Box::new(EmuVcpu::<aarch64::Aarch64>::new(ram, entry)?)),
        Target::Wasm64 => Err(BackendError::Unavailable {
            backend: BACKEND,
            reason: "wasm64 has no native program".into(),
        }),
    }
}

type Emu = Unicorn<'static, Events>;

/// What the hooks saw while the guest ran; only the first event counts, since it is what
/// stopped the guest.
#[derive(Debug, Default)]
struct Events {
    first: Option<Event>,
}

impl Events {
    fn record(&mut self, event: Event) {
        self.first.get_or_insert(event);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Read,
    Write,
    Fetch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// An x86-64 hypercall: rdi, rsi, rdx, rcx, r8, r9, r10 at the `out`, the stack pointer and
    /// the return address the stub's `ret` was steered away from.
    Hypercall {
        registers: [u64; 7],
        stack: u64,
        return_address: u64,
    },
    /// Any other x86-64 `in`/`out` (or a hypercall with an unusable stack).
    Port { port: u16, write: bool, pc: u64 },
    /// A CPU exception (QEMU's exception number for the ISA) and the pc the hook saw.
    Interrupt { number: u32, pc: u64 },
    /// An access Unicorn's memory map refused.
    Memory { access: Access, address: u64 },
}

/// What a stop means for the monitor.
enum Exit {
    /// Resume at `resume` once the result is in.
    Hypercall {
        nr: u64,
        args: [u64; 6],
        resume: u64,
    },
    Fault(Fault),
}

/// The per-ISA half of the engine: registers, set-up, hooks and decoding of stops.
trait Isa {
    const ARCH: Arch;
    const MODE: Mode;
    const FORMAT: PageFormat;

    /// Unicorn's numbering of the ISA's registers.
    type Register: Copy + Into<i32> + 'static;
    const PC: Self::Register;
    const STACK_POINTER: Self::Register;
    const FRAME_POINTER: Self::Register;
    /// Where a hypercall's result goes.
    const RESULT: Self::Register;
    /// What a poisoned restore overwrites: every general register but the stack and frame
    /// pointers, and every vector register.
    const GENERAL: &'static [Self::Register];
    const VECTOR: &'static [Self::Register];

    /// Points the vCPU at `entry` with paging on over the tables at `root`.
    fn setup(uc: &mut Emu, entry: u64, root: u64) -> Result<(), uc_error>;
    /// Adds the ISA's own hooks (the memory and exception hooks are shared).
    fn add_hooks(uc: &mut Emu) -> Result<(), uc_error>;
    /// Decodes an I/O or exception event.
    fn event(
        uc: &mut Emu,
        event: Event,
        pc: u64,
        guards: &[Range<u64>],
    ) -> Result<Exit, BackendError>;
    /// During a migrate hypercall (`resume` is where the guest continues): where
    /// `__xisa_migrate()` returns to.
    fn migration_return_address(uc: &Emu, resume: u64) -> Result<u64, uc_error>;
}

/// The memory hook: Unicorn refused an access (unmapped, or a guard protected for a replay).
fn on_memory(uc: &mut Unicorn<'_, Events>, kind: MemType, address: u64, _: usize, _: i64) -> bool {
    let access = match kind {
        MemType::FETCH_UNMAPPED | MemType::FETCH_PROT | MemType::FETCH => Access::Fetch,
        MemType::WRITE_UNMAPPED | MemType::WRITE_PROT | MemType::WRITE => Access::Write,
        _ => Access::Read,
    };
    uc.get_data_mut().record(Event::Memory { access, address });
    // Refused: emulation stops with the matching error.
    false
}

fn fault(kind: FaultKind, pc: u64) -> Exit {
    Exit::Fault(Fault {
        kind,
        address: None,
        pc,
    })
}

struct EmuVcpu<I: Isa> {
    uc: Emu,
    /// Where the next `run` starts: the guest's pc between runs.
    resume: u64,
    hypercall_pending: bool,
    /// A fault ends the guest: later runs report it again instead of running on.
    fault: Option<Fault>,
    /// Guest ranges backed in Unicorn but left out of the page tables.
    guards: Vec<Range<u64>>,
    _isa: PhantomData<I>,
}

impl<I: Isa> EmuVcpu<I> {
    fn new(ram: &mut GuestRam, entry: u64) -> Result<Self, BackendError> {
        let mem_top = ram.map().mem_top;
        if mem_top > ADDRESS_LIMIT {
            return Err(failed(format!(
                "guest memory up to {mem_top:#x} exceeds the supported {ADDRESS_LIMIT:#x}"
            )));
        }
        let accessible = GuestRam::accessible_ranges(ram.map());
        let PageTables { root, tables } = page_tables(&I::FORMAT, &accessible)?;
        for (address, bytes) in tables {
            ram.write(address, &bytes)
                .map_err(|e| failed(format!("writing page tables at {address:#x}: {e}")))?;
        }

        let mut uc = Unicorn::new_with_data(I::ARCH, I::MODE, Events::default()).map_err(|e| {
            BackendError::Unavailable {
                backend: BACKEND,
                reason: format!("Unicorn cannot emulate this ISA: {e}"),
            }
        })?;
        let uc_failed = |what: &str, e: uc_error| failed(format!("{what}: {e}"));
        for range in ram.host_ranges() {
            let end = range.guest + range.size;
            let split = CODE.end.clamp(range.guest, end);
            for (start, end, perms) in [
                (range.guest, split, Prot::ALL),
                (split, end, Prot::READ | Prot::WRITE),
            ] {
                if start == end {
                    continue;
                }
                // SAFETY: [start, end) lies inside the live mapping of `range`, owned by `ram`,
                // which outlives the vCPU (the monitor drops the vCPU before the memory);
                // Unicorn only accesses it while the guest runs or on our calls.
                unsafe {
                    let host = range.host.add((start - range.guest) as usize);
                    uc.mem_map_ptr(start, end - start, perms, host.cast())
                }
                .map_err(|e| uc_failed(&format!("mapping guest memory at {start:#x}"), e))?;
            }
        }
        let low_guards = [0..NULL_GUARD_END, native::STACK_GUARD, SHADOW_STACK_GUARD];
        let mut guards = low_guards.to_vec();
        if mem_top + TOP_GUARD <= ADDRESS_LIMIT {
            guards.push(mem_top..mem_top + TOP_GUARD);
        }
        for guard in &guards {
            // Backed so that the page tables, not Unicorn's memory map, catch accesses there.
            uc.mem_map(guard.start, guard.end - guard.start, Prot::ALL)
                .map_err(|e| uc_failed(&format!("mapping the guard at {:#x}", guard.start), e))?;
        }

        // Only where guest RAM is not: Unicorn 2.1 and later keep every store to a page covered
        // by a memory hook on their slow path.
        let hooked = low_guards.iter().map(|guard| (guard.start, guard.end - 1));
        for (begin, end) in hooked.chain([(mem_top, u64::MAX)]) {
            uc.add_mem_hook(
                HookType::MEM_UNMAPPED | HookType::MEM_PROT,
                begin,
                end,
                on_memory,
            )
            .map_err(|e| uc_failed("adding the memory hook", e))?;
        }
        I::add_hooks(&mut uc).map_err(|e| uc_failed("adding hooks", e))?;
        uc.add_intr_hook(|uc, number| {
            // Exceptions are not delivered: the pc stays at the faulting instruction (after it
            // for system calls and breakpoints).
            let pc = uc.reg_read(I::PC).unwrap_or(0);
            uc.get_data_mut().record(Event::Interrupt { number, pc });
            let _ = uc.emu_stop();
        })
        .map_err(|e| uc_failed("adding hooks", e))?;
        I::setup(&mut uc, entry, root).map_err(|e| uc_failed("setting up the vCPU", e))?;
        Ok(EmuVcpu {
            uc,
            resume: entry,
            hypercall_pending: false,
            fault: None,
            guards,
            _isa: PhantomData,
        })
    }

    /// What stopped the guest: `emu_start`'s result, the first hook event and the pc after.
    fn stop(
        &mut self,
        result: Result<(), uc_error>,
        event: Option<Event>,
        pc: u64,
    ) -> Result<Exit, BackendError> {
        Ok(match (event, result) {
            (Some(Event::Memory { access, address }), _) => {
                // Unicorn's memory map refused the access: the pc is exact only for a fetch.
                Exit::Fault(Fault::access(
                    address,
                    if access == Access::Fetch { address } else { pc },
                ))
            }
            (Some(event), _) => I::event(&mut self.uc, event, pc, &self.guards)?,
            (None, Err(uc_error::INSN_INVALID)) => fault(FaultKind::IllegalInstruction, pc),
            // Unhooked refusals: a fetch from memory that is not code (the pc is the target).
            (None, Err(uc_error::FETCH_PROT | uc_error::FETCH_UNMAPPED)) => {
                Exit::Fault(Fault::access(pc, pc))
            }
            (None, Err(uc_error::READ_PROT | uc_error::WRITE_PROT)) => {
                fault(FaultKind::BadMemoryAccess, pc)
            }
            (None, Err(e)) => return Err(failed(format!("emulation stopped at pc {pc:#x}: {e}"))),
            (None, Ok(())) if pc == STOP_ADDRESS => fault(
                FaultKind::Exception("execution entered the monitor area".into()),
                pc,
            ),
            (None, Ok(())) => fault(FaultKind::Exception("the guest halted".into()), pc),
        })
    }

    /// The innermost frame during a migrate hypercall, as if `__xisa_migrate()` had returned.
    fn frame(&self) -> Result<NativeState, uc_error> {
        Ok(NativeState {
            return_address: I::migration_return_address(&self.uc, self.resume)?,
            stack_pointer: self.uc.reg_read(I::STACK_POINTER)?,
            frame_pointer: self.uc.reg_read(I::FRAME_POINTER)?,
        })
    }

    /// Sets the stack and frame pointers of `at`, poisoning the other registers if asked.
    fn set_frame(&mut self, at: NativeState, poison: bool) -> Result<(), uc_error> {
        if poison {
            for &register in I::GENERAL {
                self.uc.reg_write(register, POISON)?;
            }
            for &register in I::VECTOR {
                self.uc.reg_write_long(register, &[0x5a; 16])?;
            }
        }
        self.uc.reg_write(I::STACK_POINTER, at.stack_pointer)?;
        self.uc.reg_write(I::FRAME_POINTER, at.frame_pointer)
    }
}

impl<I: Isa> Vcpu for EmuVcpu<I> {
    fn run(&mut self) -> Result<VcpuExit, BackendError> {
        if let Some(fault) = &self.fault {
            return Ok(VcpuExit::Fault(fault.clone()));
        }
        self.hypercall_pending = false;
        self.uc.get_data_mut().first = None;
        let result = self.uc.emu_start(self.resume, STOP_ADDRESS, 0, 0);
        let event = self.uc.get_data_mut().first.take();
        let pc = self
            .uc
            .reg_read(I::PC)
            .map_err(|e| failed(format!("reading the pc: {e}")))?;
        match self.stop(result, event, pc)? {
            Exit::Hypercall { nr, args, resume } => {
                self.resume = resume;
                self.hypercall_pending = true;
                Ok(VcpuExit::Hypercall { nr, args })
            }
            Exit::Fault(fault) => {
                self.resume = fault.pc;
                self.fault = Some(fault.clone());
                Ok(VcpuExit::Fault(fault))
            }
        }
    }

    fn complete_hypercall(&mut self, value: u64) -> Result<(), BackendError> {
        if !self.hypercall_pending {
            return Err(failed("no hypercall is waiting for a result"));
        }
        self.hypercall_pending = false;
        self.uc
            .reg_write(I::RESULT, value)
            .map_err(|e| failed(format!("writing the hypercall result: {e}")))
    }

    fn pc(&mut self) -> u64 {
        // Between runs the registers may sit at the stop address; `resume` is where the guest
        // is (or, after a fault, the faulting instruction).
        self.resume
    }

    fn migration_state(&mut self) -> Result<NativeState, BackendError> {
        self.frame()
            .map_err(|e| failed(format!("reading the migrating frame: {e}")))
    }

    fn resume_at(&mut self, at: NativeState, poison: bool) -> Result<(), BackendError> {
        self.set_frame(at, poison)
            .map_err(|e| failed(format!("setting up the restored frame: {e}")))?;
        self.resume = at.return_address;
        self.hypercall_pending = false;
        self.fault = None;
        Ok(())
    }
}

/// Page-table entry encodings of one ISA. Leaves are at most 2 MiB: x86-64 1 GiB pages need a
/// CPUID feature Unicorn's default CPU lacks.
struct PageFormat {
    table: fn(u64) -> u64,
    block_2m: fn(u64) -> u64,
    page_4k: fn(u64) -> u64,
    /// Leaf bits that forbid execution, set outside `CODE`.
    no_execute: u64,
    /// x86-64 puts a PML4 above the table of 1 GiB entries.
    pml4: bool,
}

const PAGE: u64 = 1 << 12;
const ENTRIES: u64 = 512;

/// Identity page tables, laid out from `native::PAGE_TABLES.start`.
struct PageTables {
    /// What CR3 or TTBR0_EL1 points at.
    root: u64,
    /// (guest address, bytes) of every table.
    tables: Vec<(u64, Vec<u8>)>,
}

/// Page tables mapping exactly `accessible` (sorted, disjoint, 4 KiB-aligned).
fn page_tables(format: &PageFormat, accessible: &[Range<u64>]) -> Result<PageTables, BackendError> {
    let mut builder = TableBuilder {
        format,
        accessible,
        next: native::PAGE_TABLES.start,
        tables: Vec::new(),
    };
    let top = builder.table(0, 1 << 30)?;
    let root = if format.pml4 {
        let pml4 = builder.allocate()?;
        builder.push(pml4, &[(format.table)(top)]);
        pml4
    } else {
        top
    };
    Ok(PageTables {
        root,
        tables: builder.tables,
    })
}

struct TableBuilder<'a> {
    format: &'a PageFormat,
    accessible: &'a [Range<u64>],
    next: u64,
    tables: Vec<(u64, Vec<u8>)>,
}

impl TableBuilder<'_> {
    fn allocate(&mut self) -> Result<u64, BackendError> {
        let address = self.next;
        if address + PAGE > native::PAGE_TABLES.end {
            return Err(failed(
                "guest memory needs more page tables than the page-table area holds",
            ));
        }
        self.next += PAGE;
        Ok(address)
    }

    fn push(&mut self, address: u64, entries: &[u64]) {
        let mut bytes = vec![0u8; PAGE as usize];
        for (slot, entry) in bytes.chunks_exact_mut(8).zip(entries) {
            slot.copy_from_slice(&entry.to_le_bytes());
        }
        self.tables.push((address, bytes));
    }

    fn no_execute(&self, leaf: &Range<u64>) -> u64 {
        if leaf.start < CODE.end && CODE.start < leaf.end {
            0
        } else {
            self.format.no_execute
        }
    }

    /// The table whose entries map `entry_size` bytes each from `start`.
    fn table(&mut self, start: u64, entry_size: u64) -> Result<u64, BackendError> {
        let address = self.allocate()?;
        let mut entries = vec![0u64; ENTRIES as usize];
        for (index, entry) in entries.iter_mut().enumerate() {
            let low = start + index as u64 * entry_size;
            let range = low..low + entry_size;
            let full = self
                .accessible
                .iter()
                .any(|r| r.start <= range.start && range.end <= r.end);
            let touched = self
                .accessible
                .iter()
                .any(|r| r.start < range.end && range.start < r.end);
            *entry = match (full, touched, entry_size) {
                (true, _, PAGE) => (self.format.page_4k)(low) | self.no_execute(&range),
                (true, _, size) if size == 2 << 20 => {
                    (self.format.block_2m)(low) | self.no_execute(&range)
                }
                (_, true, size) if size > PAGE => {
                    (self.format.table)(self.table(low, size / ENTRIES)?)
                }
                _ => 0,
            };
        }
        self.push(address, &entries);
        Ok(address)
    }
}

#[cfg(test)]
mod tests;
