//! Linux errno values as the guest sees them, and the mapping from host errors.

use std::fmt;
use std::io;

/// A Linux errno value (positive). System calls return it negated.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub u16);

macro_rules! errnos {
    ($($name:ident = $value:expr, $text:expr;)*) => {
        impl Errno {
            $(#[doc = $text] pub const $name: Errno = Errno($value);)*

            /// The symbolic name, e.g. `"ENOENT"`.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    ESRCH = 3, "No such process";
    EINTR = 4, "Interrupted system call";
    EIO = 5, "I/O error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Argument list too long";
    EBADF = 9, "Bad file descriptor";
    EAGAIN = 11, "Try again";
    ENOMEM = 12, "Out of memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    EXDEV = 18, "Cross-device link";
    ENODEV = 19, "No such device";
    ENOTDIR = 20, "Not a directory";
    EISDIR = 21, "Is a directory";
    EINVAL = 22, "Invalid argument";
    EMFILE = 24, "Too many open files";
    ENOTTY = 25, "Not a typewriter";
    EFBIG = 27, "File too large";
    ENOSPC = 28, "No space left on device";
    ESPIPE = 29, "Illegal seek";
    EROFS = 30, "Read-only file system";
    EMLINK = 31, "Too many links";
    EPIPE = 32, "Broken pipe";
    ERANGE = 34, "Math result not representable";
    ENAMETOOLONG = 36, "File name too long";
    ENOSYS = 38, "Function not implemented";
    ENOTEMPTY = 39, "Directory not empty";
    ELOOP = 40, "Too many symbolic links encountered";
    EOVERFLOW = 75, "Value too large for defined data type";
    EILSEQ = 84, "Illegal byte sequence";
    EOPNOTSUPP = 95, "Operation not supported";
    ETIMEDOUT = 110, "Connection timed out";
}

impl Errno {
    /// The value a system call returns for this error: `-errno`.
    pub fn as_return(self) -> i64 {
        -i64::from(self.0)
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}"),
            None => write!(f, "Errno({})", self.0),
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Errno {}

impl From<io::Error> for Errno {
    fn from(error: io::Error) -> Self {
        // On Linux hosts the numbers are the guest's own (every Linux ISA but alpha, mips,
        // parisc and sparc shares the asm-generic errno table).
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(raw) = error.raw_os_error()
            && let Ok(raw) = u16::try_from(raw)
            && raw != 0
        {
            return Errno(raw);
        }
        from_kind(error.kind())
    }
}

impl From<rustix::io::Errno> for Errno {
    fn from(error: rustix::io::Errno) -> Self {
        Errno::from(io::Error::from(error))
    }
}

/// Errors without an OS number (cap-std makes some itself, e.g. for sandbox escapes) and
/// errors of non-Linux hosts are mapped by kind.
fn from_kind(kind: io::ErrorKind) -> Errno {
    use io::ErrorKind as K;
    match kind {
        K::NotFound => Errno::ENOENT,
        // cap-std reports every attempt to leave a sandbox root as PermissionDenied.
        K::PermissionDenied => Errno::EACCES,
        K::AlreadyExists => Errno::EEXIST,
        K::InvalidInput => Errno::EINVAL,
        K::NotADirectory => Errno::ENOTDIR,
        K::IsADirectory => Errno::EISDIR,
        K::DirectoryNotEmpty => Errno::ENOTEMPTY,
        K::ReadOnlyFilesystem => Errno::EROFS,
        K::InvalidFilename => Errno::ENAMETOOLONG,
        K::CrossesDevices => Errno::EXDEV,
        K::Unsupported => Errno::EOPNOTSUPP,
        K::OutOfMemory => Errno::ENOMEM,
        K::StorageFull => Errno::ENOSPC,
        K::FileTooLarge => Errno::EFBIG,
        K::ResourceBusy => Errno::EBUSY,
        K::NotSeekable => Errno::ESPIPE,
        K::TooManyLinks => Errno::EMLINK,
        K::BrokenPipe => Errno::EPIPE,
        K::WouldBlock => Errno::EAGAIN,
        K::Interrupted => Errno::EINTR,
        K::TimedOut => Errno::ETIMEDOUT,
        _ => Errno::EIO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_are_negative() {
        assert_eq!(Errno::ENOENT.as_return(), -2);
        assert_eq!(Errno::ENOSYS.as_return(), -38);
    }

    #[test]
    fn host_errors_map_to_linux_values() {
        assert_eq!(
            Errno::from(io::Error::from(io::ErrorKind::NotFound)),
            Errno::ENOENT
        );
        assert_eq!(Errno::from(io::Error::other("x")), Errno::EIO);
        let escape = io::Error::new(io::ErrorKind::PermissionDenied, "outside");
        assert_eq!(Errno::from(escape), Errno::EACCES);
        assert_eq!(Errno::from(rustix::io::Errno::NOENT), Errno::ENOENT);
        assert_eq!(format!("{:?}", Errno::EFAULT), "EFAULT");
        assert_eq!(format!("{:?}", Errno(999)), "Errno(999)");
    }
}
