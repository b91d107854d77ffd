//! brk/mmap family through the dispatcher.

use super::*;

const PAGE: u64 = 4096;
const PROT_RW: u64 = 3;
const MAP_PRIVATE_ANON: u64 = 0x02 | 0x20;
const MAP_FIXED: u64 = 0x10;
const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;

fn mmap(h: &mut Harness, addr: u64, len: u64, prot: u64, flags: u64, fd: u64, off: u64) -> i64 {
    h.ret(nr::MMAP, &[addr, len, prot, flags, fd, off])
}

fn anon(h: &mut Harness, len: u64) -> i64 {
    mmap(h, 0, len, PROT_RW, MAP_PRIVATE_ANON, -1i64 as u64, 0)
}

/// An anonymous map at `addr`: `placement` is MAP_FIXED, MAP_FIXED_NOREPLACE or 0 (a hint).
fn anon_at(h: &mut Harness, addr: u64, len: u64, placement: u64) -> i64 {
    mmap(h, addr, len, PROT_RW, MAP_PRIVATE_ANON | placement, 0, 0)
}

#[test]
fn brk_grows_from_its_base() {
    let mut h = Harness::new();
    let base = h.mem.map.brk_base();
    assert_eq!(h.ret(nr::BRK, &[0]) as u64, base);
    assert_eq!(h.ret(nr::BRK, &[base + 10_000]) as u64, base + 10_000);
    h.put(base + 9_000, b"heap");
    assert_eq!(h.ret(nr::BRK, &[base + 100]) as u64, base + 100);
    assert_eq!(h.ret(nr::BRK, &[base + 20_000]) as u64, base + 20_000);
    assert_eq!(h.get(base + 9_000, 4), [0; 4], "regrown pages read as zero");
    assert_eq!(
        h.ret(nr::BRK, &[base - 1]) as u64,
        base + 20_000,
        "below base: unchanged"
    );
    assert_eq!(h.ret(nr::BRK, &[u64::MAX]) as u64, base + 20_000);
    assert_eq!(h.p.brk(), base + 20_000);
}

#[test]
fn mmap_is_top_down_and_deterministic() {
    let run = || {
        let mut h = Harness::new();
        let top = h.mem.map.mem_top;
        let a = anon(&mut h, 100) as u64;
        let b = anon(&mut h, 3 * PAGE) as u64;
        assert_eq!(a, top - PAGE);
        assert_eq!(b, top - 4 * PAGE);
        assert_eq!(h.ret(nr::MUNMAP, &[a, PAGE]), 0);
        let c = anon(&mut h, PAGE) as u64;
        assert_eq!(c, a, "first fit from the top reuses the hole");
        vec![a, b, c]
    };
    assert_eq!(run(), run());
}

#[test]
fn mmap_pages_are_zero_and_errors() {
    let mut h = Harness::new();
    let top = h.mem.map.mem_top;
    h.put(top - 8, b"garbage!");
    let a = anon(&mut h, PAGE) as u64;
    assert_eq!(h.get(top - 8, 8), [0; 8]);
    h.put(a, b"x");
    assert_eq!(anon(&mut h, 0), EINVAL);
    assert_eq!(anon(&mut h, top), ENOMEM);
    assert_eq!(anon(&mut h, u64::MAX), ENOMEM);
    assert_eq!(
        mmap(&mut h, 0, PAGE, PROT_RW, 0x20, -1i64 as u64, 0),
        EINVAL,
        "no type"
    );
    assert_eq!(
        mmap(&mut h, 0, PAGE, PROT_RW, MAP_PRIVATE_ANON, -1i64 as u64, 5),
        EINVAL
    );
    assert_eq!(anon_at(&mut h, 123, PAGE, MAP_FIXED), EINVAL);
    // Fill the area: the next map fails, and brk cannot grow into it.
    let base = h.mem.map.brk_base();
    let rest = (top - PAGE) - base;
    assert_eq!(anon(&mut h, rest) as u64, base);
    assert_eq!(anon(&mut h, PAGE), ENOMEM);
    assert_eq!(h.ret(nr::BRK, &[base + 1]) as u64, base);
    // Unmapping the lowest page makes room for exactly one page of heap.
    assert_eq!(h.ret(nr::MUNMAP, &[base, PAGE]), 0);
    assert_eq!(h.ret(nr::BRK, &[base + PAGE + 1]) as u64, base);
    assert_eq!(h.ret(nr::BRK, &[base + PAGE]) as u64, base + PAGE);
    assert_eq!(h.ret(nr::MUNMAP, &[base + 1, PAGE]), EINVAL);
    assert_eq!(h.ret(nr::MUNMAP, &[base + PAGE, 0]), EINVAL);
}

#[test]
fn map_fixed_inside_the_area() {
    let mut h = Harness::new();
    let top = h.mem.map.mem_top;
    let at = top - 64 * PAGE;
    assert_eq!(anon_at(&mut h, at, 2 * PAGE, MAP_FIXED) as u64, at);
    // MAP_FIXED_NOREPLACE over it fails, MAP_FIXED replaces (and zeroes).
    h.put(at, b"old");
    assert_eq!(anon_at(&mut h, at, PAGE, MAP_FIXED_NOREPLACE), EEXIST);
    assert_eq!(anon_at(&mut h, at, PAGE, MAP_FIXED) as u64, at);
    assert_eq!(h.get(at, 3), [0; 3]);
    // Not inside the area (the image) is refused.
    let image = xisa_format::memory_map::IMAGE_BASE;
    assert_eq!(anon_at(&mut h, image, PAGE, MAP_FIXED), ENOMEM);
    // A free hint is used.
    let hint = top - 200 * PAGE;
    assert_eq!(anon_at(&mut h, hint, PAGE, 0) as u64, hint);
}

#[test]
fn file_backed_private_maps() {
    let mut h = Harness::new();
    let content: Vec<u8> = (0..PAGE as usize + 100).map(|i| (i % 256) as u8).collect();
    std::fs::write(h.host("m"), &content).unwrap();
    let fd = h.open("/m", O_RDONLY) as u64;
    let a = mmap(&mut h, 0, 2 * PAGE, 1, 0x02, fd, 0) as u64;
    assert_eq!(h.get(a, content.len() as u64), content);
    assert_eq!(
        h.get(a + content.len() as u64, 10),
        [0; 10],
        "past EOF reads zero"
    );
    // With an offset.
    let b = mmap(&mut h, 0, PAGE, 1, 0x02, fd, PAGE) as u64;
    assert_eq!(h.get(b, 100), content[PAGE as usize..]);
    // Private writable maps are copies: the file does not change.
    let c = mmap(&mut h, 0, PAGE, PROT_RW, 0x02, fd, 0) as u64;
    h.put(c, b"zz");
    assert_eq!(std::fs::read(h.host("m")).unwrap()[..2], content[..2]);
    // Shared writable: refused. Shared read-only: a copy is fine.
    assert_eq!(mmap(&mut h, 0, PAGE, PROT_RW, 0x01, fd, 0), ENODEV);
    assert!(mmap(&mut h, 0, PAGE, 1, 0x01, fd, 0) > 0);
    // Bad fds, directories, write-only files.
    assert_eq!(mmap(&mut h, 0, PAGE, 1, 0x02, 99, 0), EBADF);
    let dir = h.open("/", O_RDONLY | O_DIRECTORY) as u64;
    assert_eq!(mmap(&mut h, 0, PAGE, 1, 0x02, dir, 0), ENODEV);
    let wo = h.open("/m", O_WRONLY) as u64;
    assert_eq!(mmap(&mut h, 0, PAGE, 1, 0x02, wo, 0), EACCES);
}

#[test]
fn mremap_madvise_mprotect() {
    let mut h = Harness::new();
    let top = h.mem.map.mem_top;
    let a = anon(&mut h, 2 * PAGE) as u64;
    let _guard = anon(&mut h, PAGE); // below a: a can only move down
    h.put(a, b"keep me");
    // Grow without MAYMOVE: no room above mem_top.
    assert_eq!(h.ret(nr::MREMAP, &[a, 2 * PAGE, 3 * PAGE, 0]), ENOMEM);
    let b = h.ret(nr::MREMAP, &[a, 2 * PAGE, 3 * PAGE, 1]) as u64;
    assert_eq!(b, top - 6 * PAGE);
    assert_eq!(h.get(b, 7), b"keep me");
    assert_eq!(h.get(b + 2 * PAGE, 8), [0; 8]);
    // Shrink in place.
    assert_eq!(h.ret(nr::MREMAP, &[b, 3 * PAGE, PAGE, 0]) as u64, b);
    // The old place is free again: the next 2-page map goes back to the top.
    assert_eq!(anon(&mut h, 2 * PAGE) as u64, top - 2 * PAGE);
    // Errors.
    assert_eq!(h.ret(nr::MREMAP, &[b + 1, PAGE, PAGE, 1]), EINVAL);
    assert_eq!(
        h.ret(nr::MREMAP, &[top - 100 * PAGE, PAGE, 2 * PAGE, 1]),
        EFAULT
    );
    assert_eq!(
        h.ret(nr::MREMAP, &[b, PAGE, 2 * PAGE, 2]),
        EINVAL,
        "FIXED needs MAYMOVE"
    );
    assert_eq!(h.ret(nr::MREMAP, &[b, PAGE, 0, 1]), EINVAL);
    // madvise(DONTNEED) zeroes mapped pages.
    h.put(b, b"dirty");
    assert_eq!(h.ret(nr::MADVISE, &[b, PAGE, 4]), 0);
    assert_eq!(h.get(b, 5), [0; 5]);
    assert_eq!(h.ret(nr::MADVISE, &[b + 3, PAGE, 4]), EINVAL);
    // mprotect is accepted but validated.
    assert_eq!(h.ret(nr::MPROTECT, &[b, PAGE, 1]), 0);
    assert_eq!(h.ret(nr::MPROTECT, &[b + 1, PAGE, 1]), EINVAL);
    assert_eq!(h.ret(nr::MPROTECT, &[b, PAGE, 0x80]), EINVAL);
}
