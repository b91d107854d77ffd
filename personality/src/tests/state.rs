//! Checkpoint and restore.

use super::*;
use crate::{OpenTarget, PersonalityState};

#[test]
fn save_restore_keeps_reading_at_the_offset() {
    let mut h = Harness::new();
    std::fs::write(h.host("book"), b"chapter one, chapter two").unwrap();
    std::fs::create_dir(h.host("dir")).unwrap();
    for name in ["a", "b", "c"] {
        std::fs::write(h.host(&format!("dir/{name}")), b"").unwrap();
    }
    let fd = h.open("/book", O_RDONLY);
    assert_eq!(h.read_fd(fd, 13).unwrap(), b"chapter one, ");
    let copy = h.ret(nr::DUP3, &[fd as u64, 9, O_CLOEXEC]);
    assert_eq!(copy, 9);
    let dir = h.open("/dir", O_RDONLY | O_DIRECTORY) as u64;
    // Read "." and ".." only (24 bytes each), then checkpoint mid-directory.
    assert_eq!(h.ret(nr::GETDENTS64, &[dir, BUF, 48]), 48);
    let p = h.cstr(PATH_A, "/dir");
    assert_eq!(h.ret(nr::CHDIR, &[p]), 0);
    assert_eq!(h.ret(nr::UMASK, &[0o027]), 0o022);
    let base = h.mem.map.brk_base();
    assert_eq!(h.ret(nr::BRK, &[base + 5000]) as u64, base + 5000);
    let region = h.ret(nr::MMAP, &[0, 8192, 3, 0x22, -1i64 as u64, 0]) as u64;
    assert_eq!(h.ret(nr::SOCKET, &[]), ENOSYS);
    assert_eq!(h.ret(nr::CLOCK_GETTIME, &[1, BUF]), 0);
    let mono_before = h.u64_at(BUF) as u128 * 1_000_000_000 + h.u64_at(BUF + 8) as u128;

    let state: PersonalityState = h.p.state().unwrap();
    let book = state.descriptions.iter().find(|d| {
        d.target
            == OpenTarget::File {
                path: b"/book".to_vec(),
            }
    });
    assert_eq!(book.map(|d| d.offset), Some(13));
    assert_eq!(state.cwd, b"/dir");

    // A new personality (as on another machine), same sandbox contents.
    let config = h.config();
    let mut restored = Personality::restore(&state, config).unwrap();
    std::mem::swap(&mut h.p, &mut restored);
    drop(restored);
    let warnings = h.warnings.clone();
    h.p.set_warning_sink(Box::new(move |m| {
        warnings.lock().unwrap().push(m.to_string())
    }));

    assert_eq!(h.read_fd(fd, 7).unwrap(), b"chapter");
    // The dup'ed fd shares the description, offset included.
    assert_eq!(h.read_fd(copy, 4).unwrap(), b" two");
    assert_eq!(
        h.ret(nr::FCNTL, &[copy as u64, 1, 0]),
        1,
        "cloexec survives"
    );
    // The directory continues after "..".
    let n = h.ret(nr::GETDENTS64, &[dir, BUF, 4096]);
    let raw = h.get(BUF, n as u64);
    let names: Vec<u8> = raw.chunks(24).map(|r| r[19]).collect();
    assert_eq!(names, b"abc");
    assert_eq!(h.ret(nr::GETCWD, &[BUF, 100]), 5);
    assert_eq!(h.ret(nr::UMASK, &[0]), 0o027);
    assert_eq!(h.ret(nr::BRK, &[0]) as u64, base + 5000);
    // The mmap map is the same: the next map goes below the restored region.
    assert_eq!(
        h.ret(nr::MMAP, &[0, 4096, 3, 0x22, -1i64 as u64, 0]) as u64,
        region - 4096
    );
    // No second warning for a call already reported.
    assert_eq!(h.ret(nr::SOCKET, &[]), ENOSYS);
    assert_eq!(h.warnings.lock().unwrap().len(), 1);
    // Monotonic time did not go backwards.
    assert_eq!(h.ret(nr::CLOCK_GETTIME, &[1, BUF]), 0);
    let mono_after = h.u64_at(BUF) as u128 * 1_000_000_000 + h.u64_at(BUF + 8) as u128;
    assert!(mono_after >= mono_before);
    // State round-trips.
    let again = h.p.state().unwrap();
    assert_eq!(again.fds, state.fds);
    assert_eq!(again.mmap_regions.len(), 1);
}

#[test]
fn restore_reports_missing_files_and_bad_state() {
    let mut h = Harness::new();
    std::fs::write(h.host("gone"), b"x").unwrap();
    h.open("/gone", O_RDONLY);
    let state = h.p.state().unwrap();
    std::fs::remove_file(h.host("gone")).unwrap();
    let err = Personality::restore(&state, h.config()).err().unwrap();
    assert!(err.to_string().contains("/gone"), "{err}");

    let mut bad = h.p.state().unwrap();
    bad.descriptions
        .retain(|d| !matches!(d.target, OpenTarget::File { .. }));
    bad.fds.retain(|f| f.fd < 3);
    bad.brk = 0;
    assert!(matches!(
        Personality::restore(&bad, h.config()),
        Err(crate::PersonalityError::BadState(_))
    ));
    let mut bad = h.p.state().unwrap();
    bad.descriptions
        .retain(|d| !matches!(d.target, OpenTarget::File { .. }));
    bad.fds.retain(|f| f.fd < 3);
    bad.fds.push(bad.fds[0].clone());
    assert!(
        Personality::restore(&bad, h.config()).is_err(),
        "fd used twice"
    );
    bad.fds.pop();
    bad.cwd = b"relative".to_vec();
    assert!(Personality::restore(&bad, h.config()).is_err());
    bad.cwd = b"/".to_vec();
    assert!(Personality::restore(&bad, h.config()).is_ok());
}
