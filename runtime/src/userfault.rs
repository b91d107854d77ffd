//! A minimal userfaultfd: page faults on guest memory delivered to a thread of ours, which
//! fills missing pages (lazy restore) or copies write-protected pages before letting a write
//! through (copy-on-write capture). Every backend whose guest memory is private memory of
//! this process gets these for free: KVM's vCPU, the CPU emulator, Wasmtime's code and the
//! monitor's own accesses all fault through the same page tables.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const UFFD_API: u64 = 0xaa;
const UFFDIO_API: libc::c_ulong = 0xc018_aa3f;
const UFFDIO_REGISTER: libc::c_ulong = 0xc020_aa00;
const UFFDIO_UNREGISTER: libc::c_ulong = 0x8010_aa01;
const UFFDIO_WAKE: libc::c_ulong = 0x8010_aa02;
const UFFDIO_COPY: libc::c_ulong = 0xc028_aa03;
const UFFDIO_ZEROPAGE: libc::c_ulong = 0xc020_aa04;
const UFFDIO_WRITEPROTECT: libc::c_ulong = 0xc018_aa06;

const REGISTER_MODE_MISSING: u64 = 1;
const REGISTER_MODE_WP: u64 = 2;
const WRITEPROTECT_MODE_WP: u64 = 1;
const EVENT_PAGEFAULT: u8 = 0x12;
const PAGEFAULT_FLAG_WRITE: u64 = 1;
const PAGEFAULT_FLAG_WP: u64 = 2;

/// Write-protect faults are reported (`PAGEFAULT_FLAG_WP`).
pub const FEATURE_PAGEFAULT_FLAG_WP: u64 = 1 << 0;
/// Write protection also covers pages never touched (they fault when first written).
pub const FEATURE_WP_UNPOPULATED: u64 = 1 << 13;

const PAGE: u64 = 4096;

#[repr(C)]
#[derive(Default)]
struct Range {
    start: u64,
    len: u64,
}

#[repr(C)]
#[derive(Default)]
struct Api {
    api: u64,
    features: u64,
    ioctls: u64,
}

#[repr(C)]
#[derive(Default)]
struct Register {
    range: Range,
    mode: u64,
    ioctls: u64,
}

#[repr(C)]
#[derive(Default)]
struct Copy {
    dst: u64,
    src: u64,
    len: u64,
    mode: u64,
    copy: i64,
}

#[repr(C)]
#[derive(Default)]
struct ZeroPage {
    range: Range,
    mode: u64,
    zeropage: i64,
}

#[repr(C)]
#[derive(Default)]
struct WriteProtect {
    range: Range,
    mode: u64,
}

/// The kernel's `struct uffd_msg` (32 bytes), page-fault fields only.
#[repr(C)]
#[derive(Default)]
struct Message {
    event: u8,
    reserved1: u8,
    reserved2: u16,
    reserved3: u32,
    flags: u64,
    address: u64,
    thread: u64,
}

/// A page fault a thread is blocked in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The faulting host address, rounded down to its page.
    pub page: u64,
    pub write: bool,
    /// A write to a write-protected page (else a missing page).
    pub write_protect: bool,
}

/// How a range is watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watch {
    /// Faults on pages that are not there.
    Missing,
    /// Faults on writes to write-protected pages.
    WriteProtect,
}

/// One userfaultfd. All operations take `&self`, so one thread can serve faults while others
/// fill or protect pages.
#[derive(Debug)]
pub struct Userfault {
    fd: OwnedFd,
}

impl Userfault {
    /// Opens a userfaultfd with `features` (the `FEATURE_*` constants). Faults raised by the
    /// kernel on the guest's behalf (a KVM vCPU) are included.
    pub fn open(features: u64) -> io::Result<Self> {
        // SAFETY: a plain system call; the returned descriptor is owned below.
        let raw =
            unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC | libc::O_NONBLOCK) };
        if raw < 0 {
            let error = io::Error::last_os_error();
            return Err(io::Error::new(
                error.kind(),
                format!("userfaultfd: {error} (it needs root, or vm.unprivileged_userfaultfd = 1)"),
            ));
        }
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
        let uffd = Userfault { fd };
        let mut api = Api {
            api: UFFD_API,
            features,
            ioctls: 0,
        };
        uffd.ioctl(UFFDIO_API, &mut api, "UFFDIO_API")?;
        Ok(uffd)
    }

    fn ioctl<T>(&self, request: libc::c_ulong, argument: &mut T, what: &str) -> io::Result<()> {
        loop {
            // SAFETY: `argument` is the structure this request reads and writes, alive and
            // exclusively borrowed for the call.
            let result = unsafe { libc::ioctl(self.fd.as_raw_fd(), request, argument as *mut T) };
            if result == 0 {
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::EAGAIN) {
                // The range changed under a concurrent operation: try again.
                continue;
            }
            return Err(io::Error::new(error.kind(), format!("{what}: {error}")));
        }
    }

    /// Watches `[start, start + len)` (host addresses of a private mapping).
    pub fn register(&self, start: u64, len: u64, watch: Watch) -> io::Result<()> {
        let mut register = Register {
            range: Range { start, len },
            mode: match watch {
                Watch::Missing => REGISTER_MODE_MISSING,
                Watch::WriteProtect => REGISTER_MODE_WP,
            },
            ioctls: 0,
        };
        self.ioctl(UFFDIO_REGISTER, &mut register, "UFFDIO_REGISTER")
    }

    /// Stops watching `[start, start + len)`; blocked faults there are woken.
    pub fn unregister(&self, start: u64, len: u64) -> io::Result<()> {
        let mut range = Range { start, len };
        self.ioctl(UFFDIO_UNREGISTER, &mut range, "UFFDIO_UNREGISTER")
    }

    /// Fills the missing page at `page` with `bytes` and wakes its faults. `Ok(false)` when
    /// the page was already there (filled by another thread).
    pub fn copy(&self, page: u64, bytes: &[u8; PAGE as usize]) -> io::Result<bool> {
        let mut copy = Copy {
            dst: page,
            src: bytes.as_ptr() as u64,
            len: PAGE,
            mode: 0,
            copy: 0,
        };
        let result = self.ioctl(UFFDIO_COPY, &mut copy, "UFFDIO_COPY");
        self.filled(page, result, copy.copy)
    }

    /// Maps the zero page at the missing page `page` and wakes its faults.
    pub fn zero(&self, page: u64) -> io::Result<bool> {
        let mut zero = ZeroPage {
            range: Range {
                start: page,
                len: PAGE,
            },
            mode: 0,
            zeropage: 0,
        };
        let result = self.ioctl(UFFDIO_ZEROPAGE, &mut zero, "UFFDIO_ZEROPAGE");
        self.filled(page, result, zero.zeropage)
    }

    /// The outcome of filling `page`, whose ioctl reported `done` (bytes filled or a negated
    /// errno): a page another thread filled first is not an error, but its faults still
    /// need waking.
    fn filled(&self, page: u64, result: io::Result<()>, done: i64) -> io::Result<bool> {
        match result {
            Ok(()) => Ok(true),
            Err(_) if done == -(libc::EEXIST as i64) => {
                self.wake(page, PAGE)?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Write-protects (`protect`) or unprotects `[start, start + len)`; unprotecting wakes
    /// the writes waiting there.
    pub fn write_protect(&self, start: u64, len: u64, protect: bool) -> io::Result<()> {
        let mut wp = WriteProtect {
            range: Range { start, len },
            mode: if protect { WRITEPROTECT_MODE_WP } else { 0 },
        };
        self.ioctl(UFFDIO_WRITEPROTECT, &mut wp, "UFFDIO_WRITEPROTECT")
    }

    /// Wakes the faults waiting in `[start, start + len)`.
    pub fn wake(&self, start: u64, len: u64) -> io::Result<()> {
        let mut range = Range { start, len };
        self.ioctl(UFFDIO_WAKE, &mut range, "UFFDIO_WAKE")
    }

    /// Waits up to `timeout_ms` for the next fault; `None` on a timeout.
    pub fn next_fault(&self, timeout_ms: i32) -> io::Result<Option<Fault>> {
        loop {
            let mut poll = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            let ready = unsafe { libc::poll(&mut poll, 1, timeout_ms) };
            if ready < 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            if ready == 0 {
                return Ok(None);
            }
            let mut message = Message::default();
            // SAFETY: reading one message into a buffer of exactly its size.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&mut message as *mut Message).cast(),
                    std::mem::size_of::<Message>(),
                )
            };
            if n < 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::WouldBlock
                    || error.kind() == io::ErrorKind::Interrupted
                {
                    continue;
                }
                return Err(error);
            }
            if n as usize != std::mem::size_of::<Message>() || message.event != EVENT_PAGEFAULT {
                continue;
            }
            return Ok(Some(Fault {
                page: message.address & !(PAGE - 1),
                write: message.flags & PAGEFAULT_FLAG_WRITE != 0,
                write_protect: message.flags & PAGEFAULT_FLAG_WP != 0,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A private anonymous mapping of `pages` pages, unmapped on drop.
    struct Mapping(*mut u8, usize);

    impl Mapping {
        fn new(pages: usize) -> Self {
            let len = pages * PAGE as usize;
            // SAFETY: a fresh anonymous mapping.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(base, libc::MAP_FAILED);
            Mapping(base.cast(), len)
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: our own mapping, no longer used.
            unsafe { libc::munmap(self.0.cast(), self.1) };
        }
    }

    fn open_or_skip(features: u64) -> Option<Userfault> {
        match Userfault::open(features) {
            Ok(uffd) => Some(uffd),
            Err(e) => {
                println!("SKIPPED userfaultfd test: {e}");
                None
            }
        }
    }

    #[test]
    fn missing_pages_are_filled_by_the_serving_thread() {
        let Some(uffd) = open_or_skip(0) else { return };
        let mapping = Mapping::new(4);
        let base = mapping.0 as u64;
        uffd.register(base, 4 * PAGE, Watch::Missing).unwrap();
        let uffd = std::sync::Arc::new(uffd);
        let server = {
            let uffd = std::sync::Arc::clone(&uffd);
            std::thread::spawn(move || {
                let mut served = Vec::new();
                while served.len() < 2 {
                    if let Some(fault) = uffd.next_fault(10_000).unwrap() {
                        let page = [((fault.page - base) / PAGE) as u8 + 1; PAGE as usize];
                        uffd.copy(fault.page, &page).unwrap();
                        served.push(fault.page);
                    } else {
                        panic!("no fault within 10 s");
                    }
                }
                served
            })
        };
        // SAFETY: reading our own mapping; the faults are served by the thread above.
        let (a, b) = unsafe { (*mapping.0.add(100), *mapping.0.add(2 * PAGE as usize + 7)) };
        assert_eq!((a, b), (1, 3));
        let served = server.join().unwrap();
        assert_eq!(served, vec![base, base + 2 * PAGE]);
        // A page filled already is reported, not an error.
        assert!(!uffd.copy(base, &[9; PAGE as usize]).unwrap());
        uffd.unregister(base, 4 * PAGE).unwrap();
    }

    #[test]
    fn writes_to_protected_pages_wait_for_the_serving_thread() {
        let Some(uffd) = open_or_skip(FEATURE_PAGEFAULT_FLAG_WP) else {
            return;
        };
        let mapping = Mapping::new(2);
        let base = mapping.0 as u64;
        // SAFETY: writing our own mapping before it is protected.
        unsafe { *mapping.0 = 7 };
        uffd.register(base, 2 * PAGE, Watch::WriteProtect).unwrap();
        uffd.write_protect(base, PAGE, true).unwrap();
        let uffd = std::sync::Arc::new(uffd);
        let address = mapping.0 as usize;
        let seen = {
            let uffd = std::sync::Arc::clone(&uffd);
            std::thread::spawn(move || {
                let fault = uffd
                    .next_fault(10_000)
                    .unwrap()
                    .expect("a fault within 10 s");
                // The page still holds what it held when protected.
                // SAFETY: reading our own mapping, which the writer waits on.
                let before = unsafe { *(address as *const u8) };
                uffd.write_protect(fault.page, PAGE, false).unwrap();
                (fault, before)
            })
        };
        // SAFETY: writing our own mapping; the write waits for the thread above.
        unsafe { std::ptr::write_volatile(mapping.0, 8) };
        let (fault, before) = seen.join().unwrap();
        assert_eq!(fault.page, base);
        assert!(fault.write && fault.write_protect);
        assert_eq!(before, 7);
        // SAFETY: reading our own mapping.
        assert_eq!(unsafe { *mapping.0 }, 8);
    }
}
