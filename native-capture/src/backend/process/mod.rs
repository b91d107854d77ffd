//! The process backend: a native program as an ordinary Linux process of its ISA (directly,
//! or under qemu-user for a foreign ISA) that behaves like any other vCPU.
//!
//! Guest memory is a memory file shared with the process: its runtime stub
//! (`toolchain/rt/process.c`) maps it at the neutral addresses and at the native stack, so the
//! monitor reads and writes guest memory as it does for KVM. Each `__xisa_syscall` writes its
//! number and arguments into the channel page (`xisa_format::abi::process`), rings the doorbell
//! socket and waits; the monitor answers through the personality like any hypercall. The
//! process's own system calls touch nothing but the channel, so files, `--dir`, `--env`,
//! brk/mmap and open-file state are the personality's, and the program can be captured and
//! resumed like on KVM: at start-up the process asks whether to begin the program or to resume
//! frames the monitor laid out on the native stack.

mod launch;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Stdio};

use xisa_format::abi::process as channel;
use xisa_format::memory_map::native;
use xisa_format::target::Target;

use crate::memory::GuestRam;
use crate::vcpu::{BackendError, Fault, FaultKind, NativeState, Vcpu, VcpuExit};
use xisa_personality::GuestMemory;

pub use launch::LaunchError;

const BACKEND: &str = "process";

fn failed(reason: impl std::fmt::Display) -> BackendError {
    BackendError::Failed {
        backend: BACKEND,
        reason: reason.to_string(),
    }
}

/// Where the next `run` sends the process once it asks how to begin.
#[derive(Clone, Copy, Debug)]
struct Resume {
    at: NativeState,
    poison: bool,
}

pub struct ProcessVcpu {
    target: Target,
    child: Child,
    doorbell: UnixStream,
    /// The channel page inside shared guest memory.
    channel: *mut u64,
    /// The native stack inside shared guest memory.
    stack: *const u8,
    resume: Option<Resume>,
    /// The process waits inside a call (not at its start): a resume answers that call.
    in_call: bool,
    /// A reply owed to the process, sent when the guest is run again.
    owed: Option<u8>,
    last_pc: u64,
    _program: launch::TempProgram,
}

impl ProcessVcpu {
    /// Starts `elf` (a `target` program loaded into `ram`, which must be shared memory) as a
    /// process. It maps guest memory and then waits for the first `run`.
    pub fn new(elf: &[u8], target: Target, ram: &mut GuestRam) -> Result<Self, BackendError> {
        let memory: OwnedFd = ram
            .shared_file()
            .ok_or_else(|| failed("guest memory is not shared with the process"))?
            .try_clone_to_owned()
            .map_err(|e| failed(format!("cannot share guest memory: {e}")))?;
        let mem_top = ram.map().mem_top;
        let page = ram
            .bytes_mut(channel::CHANNEL, 4096)
            .map_err(|_| failed("the channel page is not in guest memory"))?;
        page.fill(0);
        // Written before the process starts: it checks them first thing.
        let words = [
            (channel::MEM_TOP, mem_top),
            (channel::MAGIC, channel::CHANNEL_MAGIC),
        ];
        for (offset, value) in words {
            let at = offset as usize;
            page[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        let channel_page = page.as_mut_ptr().cast::<u64>();
        let stack = ram
            .bytes(native::STACK.start, native::STACK.end - native::STACK.start)
            .map_err(|_| failed("the native stack is not in guest memory"))?
            .as_ptr();
        let (doorbell, theirs) =
            UnixStream::pair().map_err(|e| failed(format!("cannot make the doorbell: {e}")))?;
        let program = launch::TempProgram::write(target, elf).map_err(failed)?;
        let mut command = launch::command_for(target, &program.path).map_err(failed)?;
        command
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let (memory_fd, doorbell_fd) = (memory.as_raw_fd(), theirs.as_raw_fd());
        // SAFETY: the closure runs in the forked child before exec and makes only
        // async-signal-safe calls (dup2, prctl) on descriptors that stay open until the child
        // has been spawned (they are owned by this function).
        unsafe {
            command.pre_exec(move || {
                for (from, to) in [
                    (memory_fd, channel::MEMORY_FD),
                    (doorbell_fd, channel::DOORBELL_FD),
                ] {
                    if libc::dup2(from, to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                // The program must not outlive its monitor.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let vcpu = ProcessVcpu {
            target,
            child: launch::spawn(&mut command, &program.path).map_err(failed)?,
            doorbell,
            channel: channel_page,
            stack,
            resume: None,
            in_call: false,
            owed: None,
            last_pc: 0,
            _program: program,
        };
        drop((memory, theirs));
        Ok(vcpu)
    }

    fn get(&self, offset: u64) -> u64 {
        // SAFETY: `channel` points at a live 4 KiB page of shared guest memory (owned by the
        // GuestRam, which outlives the vCPU) and `offset` is one of the channel's word
        // offsets; the process writes it only before ringing the doorbell.
        unsafe { self.channel.add(offset as usize / 8).read_volatile() }
    }

    fn set(&mut self, offset: u64, value: u64) {
        // SAFETY: as in `get`; the process reads it only after the reply.
        unsafe { self.channel.add(offset as usize / 8).write_volatile(value) }
    }

    fn set_resume(&mut self, resume: Resume) {
        self.set(channel::RESUME_PC, resume.at.return_address);
        self.set(channel::RESUME_SP, resume.at.stack_pointer);
        self.set(channel::RESUME_FP, resume.at.frame_pointer);
        self.set(channel::RESUME_POISON, resume.poison as u64);
    }

    fn reply(&mut self, byte: u8) -> Result<(), BackendError> {
        self.doorbell
            .write_all(&[byte])
            .map_err(|e| failed(format!("the process stopped listening: {e}")))
    }

    /// Waits for the process to ring; `None` when it ended instead.
    fn wait_for_call(&mut self) -> Result<Option<u64>, BackendError> {
        let mut byte = [0u8; 1];
        loop {
            match self.doorbell.read(&mut byte) {
                Ok(1) => return Ok(Some(self.get(channel::NR))),
                Ok(_) => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
                Err(e) => return Err(failed(format!("cannot read the doorbell: {e}"))),
            }
        }
    }

    /// How the process ended without telling the monitor.
    fn ended(&mut self) -> Result<VcpuExit, BackendError> {
        let status = self
            .child
            .wait()
            .map_err(|e| failed(format!("lost track of the process: {e}")))?;
        let kind = match status.signal() {
            Some(signal) => kind_of_signal(signal, None),
            None => FaultKind::Exception(format!(
                "the process ended by itself ({status}) instead of exiting through the monitor"
            )),
        };
        Ok(VcpuExit::Fault(Fault {
            kind,
            address: None,
            pc: self.last_pc,
        }))
    }

    /// The 8 bytes of the native stack at `address`, if it lies inside it.
    fn stack_word(&self, address: u64) -> Option<u64> {
        let stack = native::STACK;
        if address < stack.start || address.checked_add(8)? > stack.end {
            return None;
        }
        // SAFETY: `stack` points at the native stack's live shared mapping (owned by the
        // GuestRam, which outlives the vCPU) and the 8 bytes were checked to lie inside it.
        Some(unsafe {
            self.stack
                .add((address - stack.start) as usize)
                .cast::<u64>()
                .read_unaligned()
        })
    }

    /// The program's state on entry to `__xisa_syscall`, as if that call had returned.
    fn caller_state(&self) -> Option<NativeState> {
        let stack_pointer = self.get(channel::ENTRY_SP);
        let frame_pointer = self.get(channel::ENTRY_FP);
        match self.target {
            // Reached by a call (or `__xisa_migrate`'s tail call): the stack pointer points at
            // the return address into the caller.
            Target::X86_64 => Some(NativeState {
                return_address: self.stack_word(stack_pointer)?,
                stack_pointer: stack_pointer + 8,
                frame_pointer,
            }),
            // Leaves reached by branches: the link register is the return address.
            _ => Some(NativeState {
                return_address: self.get(channel::ENTRY_LR),
                stack_pointer,
                frame_pointer,
            }),
        }
    }
}

/// The fault a Linux signal stands for.
fn kind_of_signal(signal: i32, address: Option<u64>) -> FaultKind {
    match signal {
        libc::SIGSEGV | libc::SIGBUS => {
            address.map_or(FaultKind::BadMemoryAccess, FaultKind::of_access)
        }
        libc::SIGILL => FaultKind::IllegalInstruction,
        libc::SIGFPE => FaultKind::DivideError,
        libc::SIGTRAP => FaultKind::Trap,
        other => FaultKind::Exception(format!("signal {other}")),
    }
}

impl Vcpu for ProcessVcpu {
    fn run(&mut self) -> Result<VcpuExit, BackendError> {
        if let Some(byte) = self.owed.take() {
            self.in_call = false;
            self.reply(byte)?;
        }
        loop {
            let Some(nr) = self.wait_for_call()? else {
                return self.ended();
            };
            match nr {
                channel::BOOT => match self.resume.take() {
                    Some(resume) => {
                        self.set_resume(resume);
                        self.reply(channel::REPLY_RESUME)?;
                    }
                    None => self.reply(channel::REPLY_START)?,
                },
                channel::SIGNAL => {
                    let signal = self.get(channel::FAULT_SIGNAL) as i32;
                    let address = self.get(channel::FAULT_ADDRESS);
                    let pc = self.get(channel::FAULT_PC);
                    self.last_pc = pc;
                    let address = matches!(signal, libc::SIGSEGV | libc::SIGBUS).then_some(address);
                    return Ok(VcpuExit::Fault(Fault {
                        kind: kind_of_signal(signal, address),
                        address,
                        pc,
                    }));
                }
                nr => {
                    let mut args = [0u64; 6];
                    for (i, arg) in args.iter_mut().enumerate() {
                        *arg = self.get(channel::ARGS + 8 * i as u64);
                    }
                    self.last_pc = self.caller_state().map_or(0, |s| s.return_address);
                    self.in_call = true;
                    return Ok(VcpuExit::Hypercall { nr, args });
                }
            }
        }
    }

    fn complete_hypercall(&mut self, value: u64) -> Result<(), BackendError> {
        self.set(channel::RESULT, value);
        self.owed = Some(channel::REPLY_RESULT);
        Ok(())
    }

    fn pc(&mut self) -> u64 {
        self.last_pc
    }

    fn migration_state(&mut self) -> Result<NativeState, BackendError> {
        self.caller_state().ok_or_else(|| {
            failed(format!(
                "the migrate call's stack pointer {:#x} is outside the native stack",
                self.get(channel::ENTRY_SP)
            ))
        })
    }

    fn resume_at(&mut self, at: NativeState, poison: bool) -> Result<(), BackendError> {
        if self.in_call {
            // Mid-run (a longjmp): the pending call returns into the new frames.
            self.set_resume(Resume { at, poison });
            self.owed = Some(channel::REPLY_RESUME);
        } else {
            self.resume = Some(Resume { at, poison });
        }
        Ok(())
    }
}

impl Drop for ProcessVcpu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// SAFETY: the channel pointer refers to shared guest memory owned by the GuestRam that the
// machine keeps alive for as long as the vCPU; only the thread owning the vCPU uses it.
unsafe impl Send for ProcessVcpu {}
