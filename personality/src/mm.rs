//! Placement of the brk heap and of mmap regions inside the neutral memory map.
//!
//! brk grows up from `brk_base`; mmap regions are placed first-fit top-down from `mem_top`.
//! Both are pure functions of the guest's requests, so a program lays out its heap the same
//! way on every executor and after every restore.

use std::collections::BTreeMap;

use xisa_format::memory_map::{GUEST_PAGE_SIZE, MemoryMap};

use crate::errno::Errno;
use crate::memory::GuestMemory;

const PAGE_MASK: u64 = GUEST_PAGE_SIZE - 1;

/// Round up to the guest page size; `None` on overflow.
pub(crate) fn page_up(value: u64) -> Option<u64> {
    Some(value.checked_add(PAGE_MASK)? & !PAGE_MASK)
}

pub(crate) fn is_page_aligned(value: u64) -> bool {
    value & PAGE_MASK == 0
}

/// The brk pointer and the set of mapped mmap pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MemoryManager {
    map: MemoryMap,
    brk: u64,
    /// Disjoint, non-adjacent page ranges: start -> end (exclusive).
    regions: BTreeMap<u64, u64>,
}

impl MemoryManager {
    pub(crate) fn new(map: MemoryMap) -> Self {
        MemoryManager {
            map,
            brk: map.brk_base(),
            regions: BTreeMap::new(),
        }
    }

    /// Rebuild from checkpointed values; `EINVAL` if they do not fit `map`.
    pub(crate) fn restore(map: MemoryMap, brk: u64, regions: &[(u64, u64)]) -> Result<Self, Errno> {
        let mut mm = MemoryManager {
            map,
            brk,
            regions: BTreeMap::new(),
        };
        if brk < map.brk_base() || brk > map.mem_top {
            return Err(Errno::EINVAL);
        }
        for &(start, end) in regions {
            let valid = start < end
                && is_page_aligned(start)
                && is_page_aligned(end)
                && start >= mm.floor()
                && end <= map.mem_top
                && mm.is_free(start, end);
            if !valid {
                return Err(Errno::EINVAL);
            }
            mm.insert(start, end);
        }
        Ok(mm)
    }

    pub(crate) fn brk(&self) -> u64 {
        self.brk
    }

    /// The mapped regions as (start, end) pairs, lowest first.
    pub(crate) fn regions(&self) -> Vec<(u64, u64)> {
        self.regions.iter().map(|(&s, &e)| (s, e)).collect()
    }

    /// Lowest address an mmap region may use: the first page above the brk heap.
    fn floor(&self) -> u64 {
        // brk <= mem_top, which is far below u64::MAX, so this cannot overflow.
        page_up(self.brk).unwrap_or(self.map.mem_top)
    }

    /// Bytes still free for mmap (for sysinfo).
    pub(crate) fn free_bytes(&self) -> u64 {
        let mapped: u64 = self.regions.iter().map(|(s, e)| e - s).sum();
        self.map
            .mem_top
            .saturating_sub(self.floor())
            .saturating_sub(mapped)
    }

    /// `brk(addr)`: move the break if the new value is inside the heap area and below the
    /// lowest mmap region; always return the (possibly unchanged) break, as Linux does.
    pub(crate) fn set_brk(&mut self, mem: &mut dyn GuestMemory, addr: u64) -> u64 {
        if addr < self.map.brk_base() || addr > self.map.mem_top {
            return self.brk;
        }
        let limit = self
            .regions
            .keys()
            .next()
            .copied()
            .unwrap_or(self.map.mem_top);
        let (Some(new_top), Some(old_top)) = (page_up(addr), page_up(self.brk)) else {
            return self.brk;
        };
        if new_top > limit {
            return self.brk;
        }
        // Pages that become part of the heap read as zero; a tail left in the last page
        // by an earlier shrink keeps its bytes, as on Linux.
        if new_top > old_top && mem.zero(old_top, new_top - old_top).is_err() {
            return self.brk;
        }
        self.brk = addr;
        addr
    }

    fn is_free(&self, start: u64, end: u64) -> bool {
        // The region starting at or below `start`, and any region starting inside.
        let below = self.regions.range(..=start).next_back();
        if below.is_some_and(|(_, &e)| e > start) {
            return false;
        }
        self.regions.range(start..end).next().is_none()
    }

    /// Is all of [start, end) mapped?
    pub(crate) fn is_mapped(&self, start: u64, end: u64) -> bool {
        // Regions are merged, so a fully mapped range lies inside a single region.
        self.regions
            .range(..=start)
            .next_back()
            .is_some_and(|(_, &e)| e >= end)
    }

    fn insert(&mut self, mut start: u64, mut end: u64) {
        // Merge with a neighbour below or above so the set stays canonical.
        if let Some((&s, &e)) = self.regions.range(..=start).next_back()
            && e >= start
        {
            start = s;
            end = end.max(e);
            self.regions.remove(&s);
        }
        while let Some((&s, &e)) = self.regions.range(start..=end).next() {
            end = end.max(e);
            self.regions.remove(&s);
        }
        self.regions.insert(start, end);
    }

    /// Drop [start, end) from the map, splitting regions it cuts.
    pub(crate) fn remove(&mut self, start: u64, end: u64) {
        if start >= end {
            return; // an empty cut must not split a region
        }
        let touching: Vec<(u64, u64)> = self
            .regions
            .range(..end)
            .rev()
            .take_while(|&(_, &e)| e > start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in touching {
            if e <= start {
                continue;
            }
            self.regions.remove(&s);
            if s < start {
                self.regions.insert(s, start);
            }
            if e > end {
                self.regions.insert(end, e);
            }
        }
    }

    /// First fit, top-down: the highest free range of `len` bytes above the heap.
    fn find_free(&self, len: u64) -> Option<u64> {
        let floor = self.floor();
        let mut high = self.map.mem_top;
        for (&start, &end) in self.regions.iter().rev() {
            if high.checked_sub(end).is_some_and(|gap| gap >= len) {
                return Some(high - len);
            }
            high = high.min(start);
        }
        let candidate = high.checked_sub(len)?;
        (candidate >= floor).then_some(candidate)
    }

    /// Can [start, start + len) hold a mapping (inside the mmap area)?
    fn in_area(&self, start: u64, len: u64) -> bool {
        start >= self.floor()
            && start
                .checked_add(len)
                .is_some_and(|end| end <= self.map.mem_top)
    }

    /// Choose where a new mapping of `len` bytes (page-rounded by the caller) goes, record
    /// it and zero it. `fixed` replaces whatever is mapped there; `noreplace` fails with
    /// `EEXIST` instead; a plain `hint` is used if it is free, else the area is searched.
    pub(crate) fn map(
        &mut self,
        mem: &mut dyn GuestMemory,
        hint: u64,
        len: u64,
        placement: Placement,
    ) -> Result<u64, Errno> {
        let start = match placement {
            Placement::Fixed | Placement::FixedNoReplace => {
                if !self.in_area(hint, len) {
                    return Err(Errno::ENOMEM);
                }
                if placement == Placement::FixedNoReplace && !self.is_free(hint, hint + len) {
                    return Err(Errno::EEXIST);
                }
                hint
            }
            Placement::Anywhere => {
                let usable = hint != 0
                    && is_page_aligned(hint)
                    && self.in_area(hint, len)
                    && self.is_free(hint, hint + len);
                if usable {
                    hint
                } else {
                    self.find_free(len).ok_or(Errno::ENOMEM)?
                }
            }
        };
        mem.zero(start, len)?;
        self.remove(start, start + len);
        self.insert(start, start + len);
        Ok(start)
    }

    /// `mremap` on page-rounded lengths (validated by the caller).
    pub(crate) fn remap(
        &mut self,
        mem: &mut dyn GuestMemory,
        old: u64,
        old_len: u64,
        new_len: u64,
        may_move: bool,
        fixed: Option<u64>,
    ) -> Result<u64, Errno> {
        let old_end = old.checked_add(old_len).ok_or(Errno::EFAULT)?;
        if !self.is_mapped(old, old_end) {
            return Err(Errno::EFAULT);
        }
        if let Some(target) = fixed {
            let target_end = target.checked_add(new_len).ok_or(Errno::EINVAL)?;
            if target < old_end && old < target_end {
                return Err(Errno::EINVAL);
            }
            if !self.in_area(target, new_len) {
                return Err(Errno::ENOMEM);
            }
            self.map(mem, target, new_len, Placement::Fixed)?;
            mem.copy(old, target, old_len.min(new_len))?;
            self.remove(old, old_end);
            return Ok(target);
        }
        if new_len <= old_len {
            self.remove(old + new_len, old_end);
            return Ok(old);
        }
        let grow_end = old.checked_add(new_len).ok_or(Errno::ENOMEM)?;
        if grow_end <= self.map.mem_top && self.is_free(old_end, grow_end) {
            mem.zero(old_end, grow_end - old_end)?;
            self.insert(old_end, grow_end);
            return Ok(old);
        }
        if !may_move {
            return Err(Errno::ENOMEM);
        }
        // Allocate while the old range is still mapped so the two cannot overlap.
        let target = self.map(mem, 0, new_len, Placement::Anywhere)?;
        mem.copy(old, target, old_len)?;
        self.remove(old, old_end);
        Ok(target)
    }

    /// `MADV_DONTNEED`: pages of the heap or of mmap regions in the range read as zero
    /// again. Other memory (the image, stacks) is left alone.
    pub(crate) fn discard(
        &self,
        mem: &mut dyn GuestMemory,
        start: u64,
        end: u64,
    ) -> Result<(), Errno> {
        let heap = (self.map.brk_base(), self.floor());
        let mapped = self.regions.range(..end).map(|(&s, &e)| (s, e));
        for (s, e) in std::iter::once(heap).chain(mapped) {
            let (from, to) = (s.max(start), e.min(end));
            if from < to {
                mem.zero(from, to - from)?;
            }
        }
        Ok(())
    }
}

/// How `mmap` may choose the address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    Anywhere,
    Fixed,
    FixedNoReplace,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::tests::{VecMemory, test_map};

    const PAGE: u64 = GUEST_PAGE_SIZE;

    #[test]
    fn anonymous_maps_go_top_down_first_fit() {
        let mut backing = VecMemory::new();
        let mut mem = backing.flat();
        let mut mm = MemoryManager::new(test_map());
        let top = test_map().mem_top;
        let a = mm.map(&mut mem, 0, 2 * PAGE, Placement::Anywhere).unwrap();
        let b = mm.map(&mut mem, 0, PAGE, Placement::Anywhere).unwrap();
        assert_eq!(a, top - 2 * PAGE);
        assert_eq!(b, top - 3 * PAGE);
        assert_eq!(mm.regions(), vec![(top - 3 * PAGE, top)]);
        // Free the highest page: the next single page reuses it (first fit from the top).
        mm.remove(top - PAGE, top);
        let c = mm.map(&mut mem, 0, PAGE, Placement::Anywhere).unwrap();
        assert_eq!(c, top - PAGE);
        // A hole too small for two pages is skipped.
        mm.remove(a, a + PAGE);
        let d = mm.map(&mut mem, 0, 2 * PAGE, Placement::Anywhere).unwrap();
        assert_eq!(d, top - 5 * PAGE);
        assert_eq!(
            mm.regions(),
            vec![(top - 5 * PAGE, top - 2 * PAGE), (top - PAGE, top)]
        );
    }

    #[test]
    fn placement_is_deterministic() {
        let run = || {
            let mut backing = VecMemory::new();
            let mut mem = backing.flat();
            let mut mm = MemoryManager::new(test_map());
            let mut out = Vec::new();
            for len in [3, 1, 7, 2, 5] {
                out.push(
                    mm.map(&mut mem, 0, len * PAGE, Placement::Anywhere)
                        .unwrap(),
                );
            }
            mm.remove(out[1], out[1] + PAGE);
            out.push(mm.map(&mut mem, 0, PAGE, Placement::Anywhere).unwrap());
            out.push(mm.set_brk(&mut mem, test_map().brk_base() + 10 * PAGE));
            (out, mm.regions())
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn brk_and_mmap_never_overlap() {
        let mut backing = VecMemory::new();
        let mut mem = backing.flat();
        let map = test_map();
        let mut mm = MemoryManager::new(map);
        let base = map.brk_base();
        assert_eq!(mm.set_brk(&mut mem, 0), base);
        assert_eq!(mm.set_brk(&mut mem, base + 100), base + 100);
        // Map everything between the heap and the top...
        let all = map.mem_top - page_up(base + 100).unwrap();
        let region = mm.map(&mut mem, 0, all, Placement::Anywhere).unwrap();
        assert_eq!(region, base + PAGE);
        // ...then neither can grow into the other.
        assert_eq!(
            mm.map(&mut mem, 0, PAGE, Placement::Anywhere),
            Err(Errno::ENOMEM)
        );
        assert_eq!(mm.set_brk(&mut mem, base + PAGE + 1), base + 100);
        assert_eq!(mm.set_brk(&mut mem, base + PAGE), base + PAGE);
        // brk below its base or past the top is refused.
        assert_eq!(mm.set_brk(&mut mem, base - 1), base + PAGE);
        assert_eq!(mm.set_brk(&mut mem, u64::MAX), base + PAGE);
        assert_eq!(mm.free_bytes(), 0);
    }

    #[test]
    fn too_big_is_enomem() {
        let mut backing = VecMemory::new();
        let mut mem = backing.flat();
        let mut mm = MemoryManager::new(test_map());
        let huge = test_map().mem_top;
        assert_eq!(
            mm.map(&mut mem, 0, huge, Placement::Anywhere),
            Err(Errno::ENOMEM)
        );
        assert_eq!(
            mm.map(&mut mem, 0, !PAGE_MASK, Placement::Anywhere),
            Err(Errno::ENOMEM)
        );
        assert!(mm.regions().is_empty());
    }

    #[test]
    fn new_pages_read_as_zero() {
        let mut backing = VecMemory::new();
        let top = test_map().mem_top;
        backing.data[(top - 1) as usize] = 0xaa;
        let brk_base = test_map().brk_base();
        backing.data[brk_base as usize + 5] = 0xbb;
        let mut mem = backing.flat();
        let mut mm = MemoryManager::new(test_map());
        let a = mm.map(&mut mem, 0, PAGE, Placement::Anywhere).unwrap();
        assert_eq!(mem.bytes(a, PAGE).unwrap(), &[0; PAGE as usize][..]);
        mm.set_brk(&mut mem, brk_base + 10);
        assert_eq!(mem.bytes(brk_base + 5, 1).unwrap(), &[0]);
    }

    #[test]
    fn fixed_and_noreplace() {
        let mut backing = VecMemory::new();
        let mut mem = backing.flat();
        let map = test_map();
        let mut mm = MemoryManager::new(map);
        let at = map.mem_top - 16 * PAGE;
        assert_eq!(mm.map(&mut mem, at, 2 * PAGE, Placement::Fixed), Ok(at));
        assert_eq!(
            mm.map(&mut mem, at + PAGE, 2 * PAGE, Placement::FixedNoReplace),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            mm.map(&mut mem, at + PAGE, 2 * PAGE, Placement::Fixed),
            Ok(at + PAGE)
        );
        assert_eq!(mm.regions(), vec![(at, at + 3 * PAGE)]);
        // Outside the mmap area (in the image) is refused.
        assert_eq!(
            mm.map(&mut mem, map.brk_base() - PAGE, PAGE, Placement::Fixed),
            Err(Errno::ENOMEM)
        );
        // A free hint is honoured, a taken one is not.
        let hint = map.mem_top - 64 * PAGE;
        assert_eq!(mm.map(&mut mem, hint, PAGE, Placement::Anywhere), Ok(hint));
        let other = mm.map(&mut mem, hint, PAGE, Placement::Anywhere).unwrap();
        assert_ne!(other, hint);
    }

    #[test]
    fn remove_splits_regions() {
        let mut backing = VecMemory::new();
        let mut mem = backing.flat();
        let mut mm = MemoryManager::new(test_map());
        let a = mm.map(&mut mem, 0, 5 * PAGE, Placement::Anywhere).unwrap();
        mm.remove(a + PAGE, a + 2 * PAGE);
        mm.remove(a + 3 * PAGE, a + 4 * PAGE);
        assert_eq!(
            mm.regions(),
            vec![
                (a, a + PAGE),
                (a + 2 * PAGE, a + 3 * PAGE),
                (a + 4 * PAGE, a + 5 * PAGE)
            ]
        );
        assert!(mm.is_mapped(a + 2 * PAGE, a + 3 * PAGE));
        assert!(!mm.is_mapped(a, a + 2 * PAGE));
        mm.remove(0, u64::MAX);
        assert!(mm.regions().is_empty());
    }

    #[test]
    fn remap_shrinks_grows_and_moves() {
        let mut backing = VecMemory::new();
        let mut mem = backing.flat();
        let mut mm = MemoryManager::new(test_map());
        let top = test_map().mem_top;
        let a = mm.map(&mut mem, 0, 2 * PAGE, Placement::Anywhere).unwrap();
        mem.bytes_mut(a, 4).unwrap().copy_from_slice(b"data");
        // Shrink in place.
        assert_eq!(mm.remap(&mut mem, a, 2 * PAGE, PAGE, false, None), Ok(a));
        assert_eq!(mm.regions(), vec![(a, a + PAGE)]);
        // a is right under the top: the next page is free, grow in place.
        assert_eq!(mm.remap(&mut mem, a, PAGE, 2 * PAGE, false, None), Ok(a));
        // Growing past the top needs a move.
        assert_eq!(
            mm.remap(&mut mem, a, 2 * PAGE, 3 * PAGE, false, None),
            Err(Errno::ENOMEM)
        );
        let b = mm
            .remap(&mut mem, a, 2 * PAGE, 3 * PAGE, true, None)
            .unwrap();
        assert_eq!(b, top - 5 * PAGE);
        assert_eq!(mem.bytes(b, 4).unwrap(), b"data");
        assert_eq!(mm.regions(), vec![(b, b + 3 * PAGE)]);
        // Unmapped source.
        assert_eq!(
            mm.remap(&mut mem, a, PAGE, PAGE, true, None),
            Err(Errno::EFAULT)
        );
        // Fixed target.
        let target = top - 100 * PAGE;
        assert_eq!(
            mm.remap(&mut mem, b, 3 * PAGE, PAGE, true, Some(target)),
            Ok(target)
        );
        assert_eq!(mem.bytes(target, 4).unwrap(), b"data");
        assert_eq!(mm.regions(), vec![(target, target + PAGE)]);
    }

    #[test]
    fn discard_zeroes_heap_and_regions_only() {
        let mut backing = VecMemory::new();
        let mut mem = backing.flat();
        let map = test_map();
        let mut mm = MemoryManager::new(map);
        let base = map.brk_base();
        mm.set_brk(&mut mem, base + PAGE);
        let region = mm.map(&mut mem, 0, PAGE, Placement::Anywhere).unwrap();
        for at in [base - 8, base, region] {
            mem.bytes_mut(at, 4).unwrap().copy_from_slice(b"data");
        }
        mm.discard(&mut mem, base - PAGE, map.mem_top).unwrap();
        assert_eq!(mem.bytes(base - 8, 4).unwrap(), b"data", "image untouched");
        assert_eq!(mem.bytes(base, 4).unwrap(), &[0; 4]);
        assert_eq!(mem.bytes(region, 4).unwrap(), &[0; 4]);
    }

    #[test]
    fn restore_checks_the_map() {
        let map = test_map();
        let top = map.mem_top;
        let ok = MemoryManager::restore(map, map.brk_base() + 3, &[(top - PAGE, top)]).unwrap();
        assert_eq!(ok.brk(), map.brk_base() + 3);
        assert_eq!(MemoryManager::restore(map, 0, &[]), Err(Errno::EINVAL));
        assert_eq!(
            MemoryManager::restore(map, map.brk_base(), &[(top, top + PAGE)]),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            MemoryManager::restore(
                map,
                map.brk_base(),
                &[(top - 2 * PAGE, top), (top - PAGE, top)]
            ),
            Err(Errno::EINVAL)
        );
    }
}
