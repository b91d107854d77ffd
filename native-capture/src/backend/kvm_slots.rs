//! KVM memory slots for guest memory, the large range registered piece by piece as the guest
//! first touches it.
//!
//! Registering a slot costs time in proportion to its size (the host's KVM allocates and
//! clears per-page metadata: about 2 ms for the 4 GiB of a default `mem_top` where the host
//! shadows the guest's paging). A restore whose guest touches a few pages should not pay for
//! all of it before the guest runs. So ranges larger than [`CHUNK`] are cut into chunks,
//! registered when the guest first touches one: its access then leaves the guest as an MMIO
//! exit, the chunk is registered, and the access is completed from (or into) guest memory,
//! which is what the instruction would have done. An access KVM cannot emulate leaves as an
//! internal error instead; every chunk is then registered and the instruction retried.
//!
//! Once asked to, the slots also log which pages the guest writes (KVM's dirty log), so that
//! an incremental capture looks only at those instead of comparing all of memory.

use std::ops::Range;

use kvm_bindings::{KVM_MEM_LOG_DIRTY_PAGES, kvm_userspace_memory_region};
use kvm_ioctls::VmFd;

use crate::memory::HostRange;

/// Size of the pieces a large range is registered in (a multiple of the 2 MiB huge page, so
/// huge pages stay whole).
pub const CHUNK: u64 = 64 << 20;

/// One slot: registered at once, or when first touched.
struct Slot {
    guest: u64,
    size: u64,
    host: *mut u8,
    registered: bool,
}

pub struct Slots {
    slots: Vec<Slot>,
    /// Whether registered slots log the pages the guest writes.
    logging: bool,
    /// Guest memory the monitor wrote completing MMIO accesses, since the log was last read.
    completed_writes: Vec<Range<u64>>,
}

impl Slots {
    /// Plans the slots for `ranges` and registers those that are not chunks of a large range;
    /// with `lazy` false (KVM would not leave the guest intact on an access it cannot
    /// emulate), every slot at once.
    pub fn new(vm: &VmFd, ranges: &[HostRange], lazy: bool) -> Result<Slots, kvm_ioctls::Error> {
        let mut slots = Slots {
            slots: Vec::new(),
            logging: false,
            completed_writes: Vec::new(),
        };
        for range in ranges {
            let lazy = lazy && range.size > CHUNK;
            let mut guest = range.guest;
            let end = range.guest + range.size;
            while guest < end {
                let size = if lazy {
                    ((guest / CHUNK + 1) * CHUNK).min(end) - guest
                } else {
                    end - guest
                };
                // SAFETY (pointer arithmetic): `guest - range.guest` is below `range.size`,
                // so the pointer stays inside the host mapping of the range.
                let host = unsafe { range.host.add((guest - range.guest) as usize) };
                slots.slots.push(Slot {
                    guest,
                    size,
                    host,
                    registered: false,
                });
                if !lazy {
                    slots.register(vm, slots.slots.len() - 1)?;
                }
                guest += size;
            }
        }
        Ok(slots)
    }

    fn register(&mut self, vm: &VmFd, index: usize) -> Result<(), kvm_ioctls::Error> {
        let slot = &mut self.slots[index];
        let region = kvm_userspace_memory_region {
            slot: index as u32,
            flags: if self.logging {
                KVM_MEM_LOG_DIRTY_PAGES
            } else {
                0
            },
            guest_phys_addr: slot.guest,
            memory_size: slot.size,
            userspace_addr: slot.host as u64,
        };
        // SAFETY: the host range is part of a live mapping owned by the guest's `GuestRam`,
        // which outlives the VM (the monitor drops the vCPU before the memory). Registering a
        // slot again with only its flags changed is how KVM turns its dirty log on.
        unsafe { vm.set_user_memory_region(region) }?;
        slot.registered = true;
        Ok(())
    }

    /// Starts logging the pages the guest writes, in every slot registered now or later.
    pub fn start_logging(&mut self, vm: &VmFd) -> Result<(), kvm_ioctls::Error> {
        if self.logging {
            return Ok(());
        }
        self.logging = true;
        self.completed_writes.clear();
        for index in 0..self.slots.len() {
            if self.slots[index].registered {
                self.register(vm, index)?;
            }
        }
        Ok(())
    }

    /// The guest pages written since logging started or this was last asked, as ascending
    /// page-aligned ranges (the guest's writes, and the MMIO writes the monitor completed for
    /// it); `None` when not logging. Reading the log clears it. Called with the vCPU stopped.
    pub fn take_written(
        &mut self,
        vm: &VmFd,
    ) -> Result<Option<Vec<Range<u64>>>, kvm_ioctls::Error> {
        if !self.logging {
            return Ok(None);
        }
        let mut written = std::mem::take(&mut self.completed_writes);
        for (index, slot) in self.slots.iter().enumerate() {
            if !slot.registered {
                continue;
            }
            let bitmap = vm.get_dirty_log(index as u32, slot.size as usize)?;
            written.extend(dirty_ranges(slot.guest, &bitmap));
        }
        Ok(Some(xisa_format::memory_map::merge_ranges(written)))
    }

    /// Where an access of `len` bytes at `address` that left the guest as MMIO lies in guest
    /// memory, registering its chunk first if the guest had not touched it yet. `None`: it is
    /// not (wholly) guest memory, a real fault. A chunk already registered still answers: an
    /// access KVM split in pieces (a 16-byte one in two) reports every piece it had planned
    /// as MMIO, the later ones after the first registered the chunk.
    fn host_for_access(
        &mut self,
        vm: &VmFd,
        address: u64,
        len: usize,
    ) -> Result<Option<*mut u8>, kvm_ioctls::Error> {
        let Some(index) = self
            .slots
            .iter()
            .position(|s| address >= s.guest && address - s.guest < s.size)
        else {
            return Ok(None);
        };
        let slot = &mut self.slots[index];
        if address - slot.guest + len as u64 > slot.size {
            return Ok(None);
        }
        let host = slot.host;
        let offset = address - slot.guest;
        if !slot.registered {
            self.register(vm, index)?;
        }
        // SAFETY (pointer arithmetic): `address..address + len` lies inside this slot.
        Ok(Some(unsafe { host.add(offset as usize) }))
    }

    /// Completes an MMIO read of `data.len()` bytes at `address` from guest memory, if that is
    /// where it lies ([`Slots::host_for_access`]); `false`: a real fault.
    pub fn complete_read(
        &mut self,
        vm: &VmFd,
        address: u64,
        data: &mut [u8],
    ) -> Result<bool, kvm_ioctls::Error> {
        let Some(host) = self.host_for_access(vm, address, data.len())? else {
            return Ok(false);
        };
        // SAFETY: `host` starts `data.len()` bytes of guest memory (checked by
        // `host_for_access`), read while the vCPU is stopped.
        unsafe { std::ptr::copy_nonoverlapping(host, data.as_mut_ptr(), data.len()) };
        Ok(true)
    }

    /// Completes an MMIO write of `data` at `address` into guest memory, as
    /// [`Slots::complete_read`] does a read.
    pub fn complete_write(
        &mut self,
        vm: &VmFd,
        address: u64,
        data: &[u8],
    ) -> Result<bool, kvm_ioctls::Error> {
        let Some(host) = self.host_for_access(vm, address, data.len())? else {
            return Ok(false);
        };
        // SAFETY: as for a read; guest memory is written here only while the vCPU is stopped.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), host, data.len()) };
        if self.logging {
            // The guest's write, done by the monitor: KVM's log does not see it.
            let page = crate::memory::PAGE;
            let start = address / page * page;
            let end = (address + data.len() as u64).div_ceil(page) * page;
            self.completed_writes.push(start..end);
        }
        Ok(true)
    }

    /// Registers every slot not registered yet; whether there was one.
    pub fn register_all(&mut self, vm: &VmFd) -> Result<bool, kvm_ioctls::Error> {
        let mut any = false;
        for index in 0..self.slots.len() {
            if !self.slots[index].registered {
                self.register(vm, index)?;
                any = true;
            }
        }
        Ok(any)
    }
}

/// The pages a slot's dirty bitmap marks (bit `i` is the page `i` pages past `base`), as
/// ascending ranges with runs of marked pages joined.
fn dirty_ranges(base: u64, bitmap: &[u64]) -> Vec<Range<u64>> {
    let page = crate::memory::PAGE;
    let mut ranges: Vec<Range<u64>> = Vec::new();
    for (word_index, &word) in bitmap.iter().enumerate() {
        let mut bits = word;
        while bits != 0 {
            let bit = u64::from(bits.trailing_zeros());
            bits &= bits - 1;
            let start = base + (word_index as u64 * 64 + bit) * page;
            match ranges.last_mut() {
                Some(last) if last.end == start => last.end += page,
                _ => ranges.push(start..start + page),
            }
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirty_bits_become_page_ranges() {
        let page = crate::memory::PAGE;
        assert!(dirty_ranges(0, &[0, 0]).is_empty());
        // Pages 0, 1, 2 and 5 of the first word, 63 of it and 0 of the next (a run across
        // words), and the last of the second.
        let bitmap = [0b10_0111 | 1 << 63, 1 | 1 << 63];
        assert_eq!(
            dirty_ranges(0x10_0000, &bitmap),
            vec![
                0x10_0000..0x10_0000 + 3 * page,
                0x10_0000 + 5 * page..0x10_0000 + 6 * page,
                0x10_0000 + 63 * page..0x10_0000 + 65 * page,
                0x10_0000 + 127 * page..0x10_0000 + 128 * page,
            ]
        );
    }
}
