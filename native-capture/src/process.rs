//! Process mode: runs an image's native program as an ordinary static Linux process of its ISA,
//! so that gdb, perf and valgrind work on it and the tests have an executor that shares no code
//! with the monitor.
//!
//! The program's runtime stub does the work inside the process (`toolchain/rt/process.c`): it
//! maps the neutral start-up block and shadow stack, copies Linux's initial stack into the
//! start-up block and serves the generic system-call ABI with real Linux calls. This launcher
//! only writes the ELF to a temporary executable and runs it: directly when the host has the
//! program's ISA, otherwise under qemu-user (`qemu-aarch64` / `qemu-x86_64`).

use std::ffi::{CString, OsStr};
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use xisa_format::image::{Image, ImageError};
use xisa_format::target::Target;

/// How a process-mode run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessOutcome {
    /// The program exited with this status (0..=255).
    Exited(i32),
    /// The program was killed by this signal.
    Signaled(i32),
}

impl ProcessOutcome {
    /// The status a shell reports for this outcome: the exit status, or 128 + the signal
    /// (what the other executors report for a guest that dies of a signal).
    pub fn status(self) -> i32 {
        match self {
            ProcessOutcome::Exited(status) => status,
            ProcessOutcome::Signaled(signal) => 128 + signal,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("{0} is not a native target: process mode runs x86_64 and aarch64 programs")]
    NotNative(Target),
    #[error("process mode runs Linux programs and needs a Linux host")]
    NotLinux,
    #[error("no argv[0]: process mode needs the full argument list, program name included")]
    NoArgv0,
    #[error("environment entry {0:?} is not of the form NAME=VALUE")]
    BadEnv(String),
    #[error("argument or environment entry {0:?} contains a NUL byte")]
    NulByte(String),
    #[error("the working directory {} is not a folder", .0.display())]
    BadCwd(PathBuf),
    #[error(
        "running {target} programs on this {host} machine needs `{emulator}`, which is not on PATH: \
         install qemu-user (Debian: apt-get install qemu-user)"
    )]
    NoEmulator {
        target: Target,
        host: &'static str,
        emulator: &'static str,
    },
    #[error("cannot write the {target} program to a temporary executable {}: {source}", path.display())]
    WriteProgram {
        target: Target,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot start {}: {source}{hint}", program.display())]
    Spawn {
        program: PathBuf,
        hint: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("lost track of the {target} process: {source}")]
    Wait {
        target: Target,
        #[source]
        source: io::Error,
    },
    #[error("the {target} process ended without an exit status or a signal ({status})")]
    UnknownStatus {
        target: Target,
        status: std::process::ExitStatus,
    },
}

/// Runs `image`'s `target` program as a Linux process with exactly `args` (argv[0] included)
/// and exactly the environment `env` (`NAME=VALUE` entries), in `cwd`, with the caller's
/// stdin, stdout and stderr. Returns how it ended.
pub fn run_process(
    image: &Image,
    target: Target,
    args: &[String],
    env: &[String],
    cwd: &Path,
) -> Result<ProcessOutcome, ProcessError> {
    if !target.is_native() {
        return Err(ProcessError::NotNative(target));
    }
    if !cfg!(target_os = "linux") {
        return Err(ProcessError::NotLinux);
    }
    if args.is_empty() {
        return Err(ProcessError::NoArgv0);
    }
    if let Some(bad) = env.iter().find(|entry| {
        entry
            .split_once('=')
            .is_none_or(|(name, _)| name.is_empty())
    }) {
        return Err(ProcessError::BadEnv(bad.clone()));
    }
    if !cwd.is_dir() {
        return Err(ProcessError::BadCwd(cwd.to_path_buf()));
    }
    let emulator = emulator_for(target)?;
    let elf = image.program(target)?;
    let program = TempProgram::write(target, elf)?;

    let (executable, argv, envp): (&Path, Vec<&OsStr>, Vec<&OsStr>) = match &emulator {
        None => (
            &program.path,
            args.iter().map(OsStr::new).collect(),
            env.iter().map(OsStr::new).collect(),
        ),
        Some(qemu) => {
            // `-0` sets the guest's argv[0]. qemu-user hands its own environment to the
            // guest in reverse order, so it gets the entries reversed.
            let mut argv = vec![qemu.as_os_str(), OsStr::new("-0"), OsStr::new(&args[0])];
            argv.push(program.path.as_os_str());
            argv.extend(args[1..].iter().map(OsStr::new));
            (qemu, argv, env.iter().rev().map(OsStr::new).collect())
        }
    };
    let mut command = exact_command(executable, &argv, &envp)?;
    command.current_dir(cwd);

    let mut child = spawn(&mut command, executable)?;
    let status = child
        .wait()
        .map_err(|source| ProcessError::Wait { target, source })?;
    drop(program);
    if let Some(code) = status.code() {
        Ok(ProcessOutcome::Exited(code))
    } else if let Some(signal) = status.signal() {
        Ok(ProcessOutcome::Signaled(signal))
    } else {
        Err(ProcessError::UnknownStatus { target, status })
    }
}

/// A command that runs `executable` with exactly `argv` and `envp`, in this order.
/// `std::process::Command` would sort the environment by name, and the guest must see the
/// entries in the order given (as the other executors' start-up blocks have them), so the
/// child makes the `execve` itself once std has set up its stdio and working directory.
fn exact_command(
    executable: &Path,
    argv: &[&OsStr],
    envp: &[&OsStr],
) -> Result<Command, ProcessError> {
    let c_string = |s: &OsStr| {
        CString::new(s.as_bytes())
            .map_err(|_| ProcessError::NulByte(s.to_string_lossy().into_owned()))
    };
    let path = c_string(executable.as_os_str())?;
    let argv = argv
        .iter()
        .map(|a| c_string(a))
        .collect::<Result<Vec<_>, _>>()?;
    let envp = envp
        .iter()
        .map(|e| c_string(e))
        .collect::<Result<Vec<_>, _>>()?;
    // Everything the child touches is built here, before the fork: after it, the child may
    // only make async-signal-safe calls. Pointers are kept as addresses so the closure is
    // Send + Sync; the strings they point into move into the closure with them.
    let table = |strings: &[CString]| {
        let mut table: Vec<usize> = strings.iter().map(|s| s.as_ptr() as usize).collect();
        table.push(0);
        table
    };
    let (argv_table, envp_table) = (table(&argv), table(&envp));
    let mut command = Command::new(executable);
    // SAFETY: the closure runs in the forked child and only calls execve (async-signal-safe)
    // and reads errno; its pointers point into `path`, `argv` and `envp`, owned by the closure
    // and alive while it runs; both tables end with a null pointer.
    unsafe {
        command.pre_exec(move || {
            let _keep = (&argv, &envp);
            libc::execve(
                path.as_ptr(),
                argv_table.as_ptr() as *const *const libc::c_char,
                envp_table.as_ptr() as *const *const libc::c_char,
            );
            Err(io::Error::last_os_error())
        });
    }
    Ok(command)
}

/// `None` when the host runs `target` programs itself, else the qemu-user binary that does.
fn emulator_for(target: Target) -> Result<Option<PathBuf>, ProcessError> {
    if Target::host() == Some(target) {
        return Ok(None);
    }
    let emulator = match target {
        Target::Aarch64 => "qemu-aarch64",
        _ => "qemu-x86_64",
    };
    // qemu-user-static installs the same emulators with a suffix.
    let found = [emulator.to_string(), format!("{emulator}-static")]
        .iter()
        .find_map(|name| find_on_path(OsStr::new(name)));
    match found {
        Some(path) => Ok(Some(path)),
        None => Err(ProcessError::NoEmulator {
            target,
            host: std::env::consts::ARCH,
            emulator,
        }),
    }
}

fn find_on_path(name: &OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

/// Starts `command`. A freshly written executable can briefly be "busy" (ETXTBSY) when another
/// thread of this process forks while the file is still open for writing in that child; retry.
fn spawn(command: &mut Command, program: &Path) -> Result<std::process::Child, ProcessError> {
    const ETXTBSY: i32 = 26;
    let mut attempt = 0;
    loop {
        match command.spawn() {
            Ok(child) => return Ok(child),
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && attempt < 50 => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(10 * attempt));
            }
            Err(source) => {
                let hint = match source.kind() {
                    io::ErrorKind::PermissionDenied => {
                        " (is the temporary folder mounted noexec? set TMPDIR to another folder)"
                    }
                    _ => "",
                };
                return Err(ProcessError::Spawn {
                    program: program.to_path_buf(),
                    hint,
                    source,
                });
            }
        }
    }
}

/// The program written to an executable file in the temporary folder, removed on drop.
struct TempProgram {
    path: PathBuf,
}

impl TempProgram {
    fn write(target: Target, elf: &[u8]) -> Result<TempProgram, ProcessError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("xisa-{target}-{}-{n}", std::process::id()));
            let error = |source| ProcessError::WriteProgram {
                target,
                path: path.clone(),
                source,
            };
            let mut file = match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o700)
                .open(&path)
            {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(error(e)),
            };
            let program = TempProgram { path: path.clone() };
            file.write_all(elf).map_err(error)?;
            // Closed before it runs: an executable open for writing cannot be executed.
            drop(file);
            return Ok(program);
        }
    }
}

impl Drop for TempProgram {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_status_is_what_a_shell_reports() {
        assert_eq!(ProcessOutcome::Exited(3).status(), 3);
        assert_eq!(ProcessOutcome::Signaled(6).status(), 134);
    }

    #[test]
    fn the_host_isa_runs_directly() {
        if let Some(host) = Target::host() {
            assert_eq!(emulator_for(host).unwrap(), None);
        }
    }

    #[test]
    fn temporary_programs_are_executable_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let program = TempProgram::write(Target::X86_64, b"\x7fELF").unwrap();
        let path = program.path.clone();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), 4);
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        drop(program);
        assert!(!path.exists());
    }
}
