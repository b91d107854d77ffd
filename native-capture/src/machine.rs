//! A native program on a vCPU backend as a runtime [`Machine`]: hypercalls go to the shared
//! personality, migration points to the runtime's point control, and frames are converted
//! between the native stack and neutral frames through the program's stack maps.

use xisa_converters::{CallSiteTable, NeutralFrame};
use xisa_format::abi::{
    GuestFault as GuestReportedFault, XISA_CALL_FAULT, XISA_CALL_LONGJMP, XISA_CALL_MIGRATE,
};
use xisa_format::image::Image;
use xisa_format::memory_map::{MemoryMap, merge_ranges};
use xisa_format::target::Target;
use xisa_personality::{GuestMemory, Outcome};
use xisa_runtime::{
    GuestFault, GuestState, HostRegion, Machine, MachineError, PointDecision, Stop,
};

use crate::fault_report::GuestFaultReport;
use crate::loader::{self, LoadedProgram};
use crate::memory::GuestRam;
use crate::migration::{self, MigrationError};
use crate::vcpu::{BackendError, Fault, FaultKind, NativeState, Vcpu, VcpuExit, WrittenPages};
use crate::{Backend, NativeError};

/// One native guest: its vCPU, its memory and its state.
pub struct NativeMachine<'a> {
    // Field order matters: the vCPU (and its VM) and the request thread in `guest` must go
    // before the memory they point into.
    vcpu: Box<dyn Vcpu>,
    guest: GuestState,
    ram: GuestRam,
    image: &'a Image,
    target: Target,
    backend: Backend,
    program: LoadedProgram,
    table: Option<CallSiteTable>,
}

impl<'a> NativeMachine<'a> {
    /// Loads `target`'s program of `image` into fresh guest memory laid out by `map` and
    /// creates the vCPU that will run it.
    pub fn new(
        image: &'a Image,
        target: Target,
        backend: Backend,
        map: MemoryMap,
        guest: GuestState,
    ) -> Result<Self, NativeError> {
        let mut ram = match backend {
            // A process maps the same memory: it must be shareable.
            Backend::Process => GuestRam::new_shared(map)?,
            Backend::Kvm | Backend::Emu => GuestRam::new(map)?,
        };
        let program = loader::load(target, image.program(target)?, &mut ram)?;
        let vcpu = crate::make_vcpu(image, target, backend, &mut ram, &program)?;
        Ok(NativeMachine {
            vcpu,
            guest,
            ram,
            image,
            target,
            backend,
            program,
            table: None,
        })
    }

    /// Builds the program's call-site table once (captures and longjmps use it).
    fn call_site_table(&mut self) -> Result<(), MachineError> {
        if self.table.is_none() {
            let table = migration::call_site_table(self.image, self.target)
                .map_err(|e| stopped(self.backend.name(), e))?;
            self.table = Some(table);
        }
        Ok(())
    }

    fn fault(&mut self, fault: Fault) -> GuestFault {
        let report = GuestFaultReport {
            target: self.target,
            function: self.program.symbols.function_at(fault.pc).map(String::from),
            kind: fault.kind,
            address: fault.address,
            pc: fault.pc,
        };
        GuestFault {
            target: self.target,
            message: report.to_string(),
            backtrace: Vec::new(),
            status: report.status(),
        }
    }
}

/// A failure that stops the guest.
fn stopped(backend: &'static str, error: impl Into<NativeError>) -> MachineError {
    MachineError::caused_by(backend, "the guest cannot go on", error.into())
}

impl From<BackendError> for MachineError {
    fn from(error: BackendError) -> Self {
        let backend = match &error {
            BackendError::Unavailable { backend, .. } | BackendError::Failed { backend, .. } => {
                *backend
            }
        };
        MachineError::caused_by(backend, "the vCPU failed", error)
    }
}

impl Machine for NativeMachine<'_> {
    fn target(&self) -> Target {
        self.target
    }

    fn backend(&self) -> &'static str {
        self.backend.name()
    }

    fn parts(&mut self) -> (&mut dyn GuestMemory, &mut GuestState) {
        (&mut self.ram, &mut self.guest)
    }

    fn memory(&self) -> &dyn GuestMemory {
        &self.ram
    }

    fn guest(&self) -> &GuestState {
        &self.guest
    }

    fn written_pages(&mut self) -> Result<Option<Vec<std::ops::Range<u64>>>, MachineError> {
        match self.vcpu.written_pages()? {
            WrittenPages::Untracked => Ok(None),
            WrittenPages::Started => {
                self.ram.track_writes();
                Ok(None)
            }
            WrittenPages::Since(mut pages) => match self.ram.take_written() {
                Some(by_monitor) => {
                    pages.extend(by_monitor);
                    Ok(Some(merge_ranges(pages)))
                }
                // The monitor's writes were not followed: start over from here.
                None => {
                    self.ram.track_writes();
                    Ok(None)
                }
            },
        }
    }

    fn host_memory(&self) -> Option<Vec<HostRegion>> {
        if self.ram.shared_file().is_some() {
            return None;
        }
        Some(
            self.ram
                .host_ranges()
                .into_iter()
                .map(|range| HostRegion {
                    guest: range.guest,
                    size: range.size,
                    host: range.host,
                })
                .collect(),
        )
    }

    fn run(&mut self) -> Result<Stop, MachineError> {
        loop {
            match self.vcpu.run()? {
                VcpuExit::Hypercall { nr, args } if nr == XISA_CALL_FAULT => {
                    let kind = match GuestReportedFault::from_code(args[0]) {
                        Some(GuestReportedFault::ShadowStackOverflow) => FaultKind::StackOverflow,
                        Some(fault) => FaultKind::Exception(fault.describe().into()),
                        None => FaultKind::Exception(format!("guest-reported fault {}", args[0])),
                    };
                    let pc = self.vcpu.pc();
                    let fault = Fault {
                        kind,
                        address: None,
                        pc,
                    };
                    return Ok(Stop::Faulted(self.fault(fault)));
                }
                VcpuExit::Hypercall { nr, args } if nr == XISA_CALL_LONGJMP => {
                    return Ok(Stop::LongJump { buffer: args[0] });
                }
                VcpuExit::Hypercall { nr, .. } if nr == XISA_CALL_MIGRATE => {
                    let decision = self
                        .guest
                        .points
                        .at_point(&mut self.ram)
                        .map_err(|e| stopped(self.backend.name(), MigrationError::Points(e)))?;
                    match decision {
                        PointDecision::Continue => self.vcpu.complete_hypercall(0)?,
                        PointDecision::Capture(request) => return Ok(Stop::Capture(request)),
                    }
                }
                VcpuExit::Hypercall { nr, args } => {
                    match self.guest.personality.syscall(&mut self.ram, nr, args) {
                        Outcome::Return(value) => self.vcpu.complete_hypercall(value as u64)?,
                        Outcome::Exit(code) => return Ok(Stop::Exited(code)),
                    }
                }
                VcpuExit::Fault(fault) => return Ok(Stop::Faulted(self.fault(fault))),
            }
        }
    }

    fn frames(&mut self) -> Result<Vec<NeutralFrame>, MachineError> {
        let state = self.vcpu.migration_state()?;
        let backend = self.backend.name();
        self.call_site_table()?;
        let table = self.table.as_ref().expect("just built");
        migration::native_frames(self.image, self.target, table, state, &self.ram)
            .map_err(|e| stopped(backend, e))
    }

    fn carry_on(&mut self) -> Result<(), MachineError> {
        Ok(self.vcpu.complete_hypercall(0)?)
    }

    fn resume(&mut self, frames: Vec<NeutralFrame>, poison: bool) -> Result<(), MachineError> {
        self.call_site_table()?;
        let table = self.table.as_ref().expect("just built");
        let resume = migration::place_frames(
            self.image,
            self.target,
            table,
            &frames,
            &mut self.ram,
            poison,
        )
        .map_err(|e| stopped(self.backend.name(), e))?;
        let at = NativeState {
            return_address: resume.pc,
            stack_pointer: resume.stack_pointer,
            frame_pointer: resume.frame_pointer,
        };
        self.vcpu.resume_at(at, poison)?;
        Ok(())
    }
}
