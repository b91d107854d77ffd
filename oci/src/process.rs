//! The container process: `xisa` started by `create`, held at the exec fifo until `start`,
//! and the signals and waits that act on it.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::OciError;
use crate::state::process_start_time;

fn cstring(bytes: &[u8]) -> Result<CString, OciError> {
    CString::new(bytes).map_err(|_| OciError::Unsupported {
        what: "an argument holding a NUL byte".into(),
        why: "process arguments are C strings".into(),
    })
}

/// Forks a child that runs `program args`. With `fifo`, the child first opens the fifo for
/// writing, which blocks until `start` opens it for reading, and writes one byte: so the
/// pid reported at `create` is the one that becomes `xisa`. Returns the child's pid.
pub fn spawn(program: &Path, args: &[String], fifo: Option<&Path>) -> Result<i32, OciError> {
    // Everything the child needs is prepared before the fork: after it, only
    // async-signal-safe calls are made.
    let path = cstring(program.as_os_str().as_bytes())?;
    let mut argv = vec![path.clone()];
    for arg in args {
        argv.push(cstring(arg.as_bytes())?);
    }
    let mut pointers: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    pointers.push(std::ptr::null());
    let fifo = fifo
        .map(|f| cstring(f.as_os_str().as_bytes()))
        .transpose()?;
    // SAFETY: this process is single-threaded; the child only calls open, write, close,
    // execv and _exit on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(OciError::io(
            "cannot fork the container process",
            std::io::Error::last_os_error(),
        ));
    }
    if pid == 0 {
        // SAFETY: in the child, on C strings and an argv array that outlive these calls.
        unsafe {
            if let Some(fifo) = &fifo {
                let fd = libc::open(fifo.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    libc::_exit(127);
                }
                libc::close(fd);
            }
            libc::execv(path.as_ptr(), pointers.as_ptr());
            libc::_exit(127);
        }
    }
    Ok(pid)
}

/// Releases a created container: reads the byte its process writes into the fifo, failing
/// when the process ends first.
pub fn release(fifo: &Path, pid: i32, start_time: u64) -> Result<(), OciError> {
    let name = cstring(fifo.as_os_str().as_bytes())?;
    // SAFETY: opening a path given as a C string.
    let fd = unsafe {
        libc::open(
            name.as_ptr(),
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(OciError::io(
            format!("cannot open {}", fifo.display()),
            std::io::Error::last_os_error(),
        ));
    }
    let result = loop {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut poll, 1, 100) };
        if ready > 0 && poll.revents & libc::POLLIN != 0 {
            let mut byte = [0u8; 1];
            // SAFETY: reading one byte into a local buffer.
            let n = unsafe { libc::read(fd, byte.as_mut_ptr().cast(), 1) };
            if n == 1 {
                break Ok(());
            }
        }
        if process_start_time(pid) != Some(start_time) {
            break Err(());
        }
    };
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    result.map_err(|_| OciError::Unsupported {
        what: "starting a container whose process has ended".into(),
        why: "the process exited before `start`".into(),
    })
}

/// Sends `signal` to the container process.
pub fn signal(pid: i32, signal: i32) -> Result<(), OciError> {
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(OciError::io(
            format!("cannot signal process {pid}"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Waits until the process is gone (it is not our child: its parent reaps it). False on
/// timeout.
pub fn wait_gone(pid: i32, start_time: u64, timeout: Duration) -> bool {
    let deadline = Instant::now().checked_add(timeout);
    while process_start_time(pid) == Some(start_time) {
        if deadline.is_some_and(|d| Instant::now() > d) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Waits for a child of ours and returns its exit status as a shell would (128 + signal).
pub fn wait_child(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: waiting for our own child into a local.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return 255;
        }
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }
}

/// Makes the exec fifo.
pub fn make_fifo(path: &Path) -> Result<(), OciError> {
    let name = cstring(path.as_os_str().as_bytes())?;
    // SAFETY: mkfifo on a C string path.
    if unsafe { libc::mkfifo(name.as_ptr(), 0o600) } != 0 {
        return Err(OciError::io(
            format!("cannot make {}", path.display()),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Signal names as runc accepts them: `TERM`, `SIGTERM`, `15`.
pub fn parse_signal(text: &str) -> Result<i32, OciError> {
    if let Ok(n) = text.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(OciError::BadSignal(text.into()))
        };
    }
    let name = text.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    Ok(match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "WINCH" => libc::SIGWINCH,
        _ => return Err(OciError::BadSignal(text.into())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_like_runc() {
        assert_eq!(parse_signal("TERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("SIGKILL").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("15").unwrap(), 15);
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("NOPE").is_err());
    }

    #[test]
    fn the_fifo_holds_the_process_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("exec.fifo");
        make_fifo(&fifo).unwrap();
        let pid = spawn(
            Path::new("/bin/sh"),
            &["-c".into(), "exit 7".into()],
            Some(&fifo),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let start = process_start_time(pid).expect("held at the fifo");
        release(&fifo, pid, start).unwrap();
        assert_eq!(wait_child(pid), 7);
    }
}
