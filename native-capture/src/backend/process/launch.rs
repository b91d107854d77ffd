//! Starting a native program as a Linux process: the ELF goes to a temporary executable, run
//! directly when the host has the program's ISA, otherwise under qemu-user (`qemu-aarch64` /
//! `qemu-x86_64`).

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use xisa_format::target::Target;

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
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
}

/// The command that runs `program` (a `target` executable): directly when the host has that
/// ISA, else under qemu-user.
pub fn command_for(target: Target, program: &Path) -> Result<Command, LaunchError> {
    Ok(match emulator_for(target)? {
        None => Command::new(program),
        Some(qemu) => {
            let mut command = Command::new(qemu);
            command.arg(program);
            command
        }
    })
}

/// `None` when the host runs `target` programs itself, else the qemu-user binary that does.
fn emulator_for(target: Target) -> Result<Option<PathBuf>, LaunchError> {
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
        None => Err(LaunchError::NoEmulator {
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
pub fn spawn(command: &mut Command, program: &Path) -> Result<std::process::Child, LaunchError> {
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
                return Err(LaunchError::Spawn {
                    program: program.to_path_buf(),
                    hint,
                    source,
                });
            }
        }
    }
}

/// The program written to an executable file in the temporary folder, removed on drop.
pub struct TempProgram {
    pub path: PathBuf,
}

impl TempProgram {
    pub fn write(target: Target, elf: &[u8]) -> Result<TempProgram, LaunchError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("xisa-{target}-{}-{n}", std::process::id()));
            let error = |source| LaunchError::WriteProgram {
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
