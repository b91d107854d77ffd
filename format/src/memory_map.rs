//! The neutral memory map: the fixed address layout every target shares.
//!
//! Addresses below are guest addresses. They mean the same thing on every target, so a pointer
//! stored anywhere in neutral memory stays valid after the program moves to another ISA.

use std::ops::Range;

/// Granule that neutral regions are aligned to (the wasm page size, a multiple of every
/// native page size we support).
pub const REGION_ALIGN: u64 = 0x1_0000;

/// Page size reported to the guest (`AT_PAGESZ`) and used by `mmap`/`brk`.
pub const GUEST_PAGE_SIZE: u64 = 0x1000;

/// `[0, NULL_GUARD_END)` is never mapped on native targets, so null dereferences fault.
pub const NULL_GUARD_END: u64 = 0x1_0000;

/// Per-target private memory: code, backend constants, native stack, call table.
/// Never part of a checkpoint and never referenced from neutral memory.
pub const PRIVATE: Range<u64> = 0x1_0000..0x400_0000;

/// Layout of the private area on native targets (see spec.md §1.3).
pub mod native {
    use std::ops::Range;

    /// Executor structures: descriptor tables, task state, the exception stack.
    pub const MONITOR: Range<u64> = 0x1_0000..0x2_0000;
    /// Where the program's code and private data start, and the limit they must stay below.
    pub const CODE_BASE: u64 = 0x2_0000;
    pub const CODE_LIMIT: u64 = 0x300_0000;
    /// Page tables built by executors that need them.
    pub const PAGE_TABLES: Range<u64> = 0x300_0000..0x370_0000;
    /// Never mapped: catches native stack overflow.
    pub const STACK_GUARD: Range<u64> = 0x37f_0000..0x380_0000;
    /// The native stack; the stack pointer starts at its end.
    pub const STACK: Range<u64> = 0x380_0000..0x400_0000;
}

/// The start-up block: argc, argv, envp, auxv and their strings, written by the executor.
pub const STARTUP: Range<u64> = 0x400_0000..0x410_0000;

/// Guard below the shadow stack: never mapped on native targets; checked explicitly by
/// function prologues on every target.
pub const SHADOW_STACK_GUARD: Range<u64> = 0x410_0000..0x420_0000;

/// The neutral shadow stack that holds every local whose address is taken. It grows down
/// from its end.
pub const SHADOW_STACK: Range<u64> = 0x420_0000..0x520_0000;

/// Where the neutral image (rodata, data, bss, each `REGION_ALIGN`-aligned) begins.
pub const IMAGE_BASE: u64 = 0x600_0000;

/// The neutral image must end below this address so that 32-bit absolute relocations
/// (x86-64 small code model) reach every neutral symbol.
pub const IMAGE_LIMIT: u64 = 0x8000_0000;

/// Default top of guest memory (exclusive) when the user does not choose one.
pub const DEFAULT_MEM_TOP: u64 = 0x1_0000_0000;

/// Smallest memory top accepted: the fixed regions plus some heap.
pub const MIN_MEM_TOP: u64 = 0x800_0000;

/// Round `value` up to a multiple of `align` (a power of two).
pub const fn align_up(value: u64, align: u64) -> u64 {
    (value + align - 1) & !(align - 1)
}

/// `ranges` without the empty ones, ascending, merged where they overlap or touch.
pub fn merge_ranges(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.retain(|r| r.start < r.end);
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// `ranges` (ascending, disjoint) without every byte of `taken` (ascending, disjoint).
pub fn subtract_ranges(ranges: &[Range<u64>], taken: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut left = Vec::with_capacity(ranges.len());
    let mut cut = taken.iter().peekable();
    for range in ranges {
        let mut start = range.start;
        // Cuts wholly before this range cannot touch later ones either.
        while cut.next_if(|c| c.end <= start).is_some() {}
        for c in cut.clone() {
            if c.start >= range.end {
                break;
            }
            if c.start > start {
                left.push(start..c.start);
            }
            start = start.max(c.end);
        }
        if start < range.end {
            left.push(start..range.end);
        }
    }
    left
}

/// The bytes both `a` and `b` (each ascending and disjoint) cover, ascending.
pub fn intersect_ranges(a: &[Range<u64>], b: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut both = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let start = a[i].start.max(b[j].start);
        let end = a[i].end.min(b[j].end);
        if start < end {
            both.push(start..end);
        }
        // The range that ends first cannot meet anything after the other's current one.
        if a[i].end <= b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    both
}

/// Whether `address` lies in one of `ranges` (ascending, disjoint).
pub fn ranges_contain(ranges: &[Range<u64>], address: u64) -> bool {
    let after = ranges.partition_point(|r| r.start <= address);
    after > 0 && address < ranges[after - 1].end
}

/// The three neutral image regions of one program, as laid out by the toolchain. The default
/// is an image with empty regions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImageLayout {
    pub rodata_size: u64,
    pub data_size: u64,
    pub bss_size: u64,
}

impl ImageLayout {
    pub fn rodata(&self) -> Range<u64> {
        IMAGE_BASE..IMAGE_BASE + self.rodata_size
    }

    pub fn data(&self) -> Range<u64> {
        let start = align_up(self.rodata().end, REGION_ALIGN);
        start..start + self.data_size
    }

    pub fn bss(&self) -> Range<u64> {
        let start = align_up(self.data().end, REGION_ALIGN);
        start..start + self.bss_size
    }

    /// First address after the image: where the brk heap begins.
    pub fn end(&self) -> u64 {
        align_up(self.bss().end, REGION_ALIGN)
    }
}

/// The complete map of one running program: the fixed regions, its image and its heap bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryMap {
    pub image: ImageLayout,
    /// Exclusive top of guest memory; the mmap area is allocated downwards from here.
    pub mem_top: u64,
}

impl MemoryMap {
    pub fn brk_base(&self) -> u64 {
        self.image.end()
    }

    /// Ranges that must never be touched by the guest or by the monitor on its behalf.
    pub fn guard_ranges(&self) -> [Range<u64>; 2] {
        [0..NULL_GUARD_END, SHADOW_STACK_GUARD]
    }

    /// Is `[addr, addr + len)` inside guest memory and clear of every guard range?
    pub fn is_accessible(&self, addr: u64, len: u64) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        if end > self.mem_top {
            return false;
        }
        len == 0
            || self
                .guard_ranges()
                .iter()
                .all(|guard| end <= guard.start || addr >= guard.end)
    }
}

// The fixed regions are ordered and disjoint: checked when the crate compiles.
const _: () = {
    assert!(NULL_GUARD_END <= PRIVATE.start);
    assert!(PRIVATE.end <= STARTUP.start);
    assert!(STARTUP.end <= SHADOW_STACK_GUARD.start);
    assert!(SHADOW_STACK_GUARD.end <= SHADOW_STACK.start);
    assert!(SHADOW_STACK.end <= IMAGE_BASE);
    assert!(IMAGE_BASE < IMAGE_LIMIT && IMAGE_LIMIT < DEFAULT_MEM_TOP);
};

#[cfg(test)]
mod tests {
    #[test]
    fn intersecting_ranges_keeps_what_both_cover() {
        let a = [0..10, 20..30, 40..50];
        assert_eq!(intersect_ranges(&a, &[]), vec![]);
        assert_eq!(intersect_ranges(&a, &a), a.to_vec());
        assert_eq!(
            intersect_ranges(&a, &[5..25, 28..29, 30..40, 45..100]),
            vec![5..10, 20..25, 28..29, 45..50]
        );
        let everything = 0..100;
        assert_eq!(
            intersect_ranges(std::slice::from_ref(&everything), &a),
            a.to_vec()
        );
        for address in [0, 9, 20, 29, 49] {
            assert!(ranges_contain(&a, address), "{address}");
        }
        for address in [10, 19, 30, 50, 1000] {
            assert!(!ranges_contain(&a, address), "{address}");
        }
        assert!(!ranges_contain(&[], 0));
    }

    #[test]
    fn subtracting_ranges_leaves_what_no_cut_covers() {
        let ranges = [0..10, 20..30, 40..50];
        assert_eq!(subtract_ranges(&ranges, &[]), ranges.to_vec());
        assert_eq!(
            subtract_ranges(&ranges, &[5..22, 25..26, 45..60]),
            vec![0..5, 22..25, 26..30, 40..45]
        );
        let everything = 0..50;
        assert_eq!(
            subtract_ranges(&ranges, std::slice::from_ref(&everything)),
            vec![]
        );
        // A cut spanning two ranges trims both.
        let across = 8..14;
        assert_eq!(
            subtract_ranges(&[0..10, 12..20], std::slice::from_ref(&across)),
            vec![0..8, 14..20]
        );
    }

    use super::*;

    #[test]
    fn regions_are_aligned_and_ordered() {
        let layout = ImageLayout {
            rodata_size: 5,
            data_size: 0x1_0001,
            bss_size: 3,
        };
        assert_eq!(layout.rodata(), IMAGE_BASE..IMAGE_BASE + 5);
        assert_eq!(layout.data().start, IMAGE_BASE + REGION_ALIGN);
        assert_eq!(layout.bss().start, IMAGE_BASE + 3 * REGION_ALIGN);
        assert_eq!(layout.end(), IMAGE_BASE + 4 * REGION_ALIGN);
    }

    #[test]
    fn guards_and_top_are_inaccessible() {
        let map = MemoryMap {
            image: ImageLayout::default(),
            mem_top: MIN_MEM_TOP,
        };
        assert!(!map.is_accessible(0, 1));
        assert!(!map.is_accessible(SHADOW_STACK_GUARD.end - 1, 2));
        assert!(map.is_accessible(SHADOW_STACK.start, 16));
        assert!(!map.is_accessible(MIN_MEM_TOP - 4, 8));
        assert!(!map.is_accessible(u64::MAX - 2, 8));
        assert!(map.is_accessible(MIN_MEM_TOP - 8, 8));
    }
}
