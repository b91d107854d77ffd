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

use kvm_bindings::kvm_userspace_memory_region;
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
}

impl Slots {
    /// Plans the slots for `ranges` and registers those that are not chunks of a large range;
    /// with `lazy` false (KVM would not leave the guest intact on an access it cannot
    /// emulate), every slot at once.
    pub fn new(vm: &VmFd, ranges: &[HostRange], lazy: bool) -> Result<Slots, kvm_ioctls::Error> {
        let mut slots = Vec::new();
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
                slots.push(Slot {
                    guest,
                    size,
                    host,
                    registered: false,
                });
                if !lazy {
                    let index = slots.len() - 1;
                    register(vm, index, &mut slots[index])?;
                }
                guest += size;
            }
        }
        Ok(Slots { slots })
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
        if !slot.registered {
            register(vm, index, slot)?;
        }
        // SAFETY (pointer arithmetic): `address..address + len` lies inside this slot.
        Ok(Some(unsafe {
            slot.host.add((address - slot.guest) as usize)
        }))
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
        Ok(true)
    }

    /// Registers every slot not registered yet; whether there was one.
    pub fn register_all(&mut self, vm: &VmFd) -> Result<bool, kvm_ioctls::Error> {
        let mut any = false;
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if !slot.registered {
                register(vm, index, slot)?;
                any = true;
            }
        }
        Ok(any)
    }
}

fn register(vm: &VmFd, index: usize, slot: &mut Slot) -> Result<(), kvm_ioctls::Error> {
    let region = kvm_userspace_memory_region {
        slot: index as u32,
        flags: 0,
        guest_phys_addr: slot.guest,
        memory_size: slot.size,
        userspace_addr: slot.host as u64,
    };
    // SAFETY: the host range is part of a live mapping owned by the guest's `GuestRam`,
    // which outlives the VM (the monitor drops the vCPU before the memory).
    unsafe { vm.set_user_memory_region(region) }?;
    slot.registered = true;
    Ok(())
}
