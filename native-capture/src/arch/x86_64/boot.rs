//! The long-mode environment an x86-64 guest runs in. The program runs at CPL 3 (it needs no
//! privilege, and paravirtual hypervisors such as PVM run only CPL 3 code natively) with
//! IOPL 3 so its hypercall `out` reaches the monitor, on identity-mapped user pages covering
//! exactly the accessible parts of the memory map. There is no IDT: any exception ends the
//! guest (a triple fault), and the monitor decodes the faulting instruction to report it.

use std::ops::Range;

use xisa_format::memory_map::native::{MONITOR, PAGE_TABLES};

pub const GDT_BASE: u64 = MONITOR.start;
pub const TSS_BASE: u64 = MONITOR.start + 0x100;

pub const TSS_SELECTOR: u16 = 0x18;
/// User data (GDT index 5) and 64-bit user code (index 6), requested privilege level 3.
pub const USER_DATA_SELECTOR: u16 = 0x2b;
pub const USER_CODE_SELECTOR: u16 = 0x33;

pub const GDT_LIMIT: u16 = 7 * 8 - 1;
/// The TSS proper (0x68 bytes), an I/O permission bitmap for ports 0..=255 and its end marker.
pub const TSS_LIMIT: u32 = 0x68 + 32 + 1 - 1;

/// Guest RFLAGS: reserved bit 1 and IOPL 3.
pub const RFLAGS: u64 = 0x3002;

const PAGE: u64 = 0x1000;
const GIB: u64 = 1 << 30;
const TWO_MIB: u64 = 2 << 20;

/// Where the top-level page table lives (the guest's CR3).
/// Control registers of the guest in long mode: protected mode with paging, write protection
/// honoured at CPL 0, native FPU errors, SSE enabled with its exceptions, PAE paging.
pub const CR0: u64 = {
    const PE: u64 = 1;
    const MP: u64 = 1 << 1;
    const ET: u64 = 1 << 4;
    const NE: u64 = 1 << 5;
    const WP: u64 = 1 << 16;
    const PG: u64 = 1 << 31;
    PE | MP | ET | NE | WP | PG
};
pub const CR4: u64 = {
    const PAE: u64 = 1 << 5;
    const OSFXSR: u64 = 1 << 9;
    const OSXMMEXCPT: u64 = 1 << 10;
    PAE | OSFXSR | OSXMMEXCPT
};
/// x87 control word and MXCSR after a reset: every exception masked.
pub const FPU_CONTROL: u16 = 0x37f;
pub const MXCSR: u32 = 0x1f80;

pub const PML4_BASE: u64 = PAGE_TABLES.start;

#[derive(Debug, thiserror::Error)]
#[error("guest memory of {mem_top:#x} bytes needs more page tables than the private area holds")]
pub struct TooMuchMemory {
    pub mem_top: u64,
}

/// (address, bytes) pieces to write into guest memory.
pub type Blob = Vec<(u64, Vec<u8>)>;

const PRESENT_WRITABLE_USER: u64 = 0b111;
const HUGE: u64 = 1 << 7;

/// Page tables identity-mapping the `accessible` ranges (4 KiB-aligned) with writable user
/// pages: whole 2 MiB pages where a 2 MiB block is entirely accessible, 4 KiB pages where a
/// block is partly so, nothing elsewhere, so that guard ranges fault.
pub fn page_tables(accessible: &[Range<u64>], mem_top: u64) -> Result<Blob, TooMuchMemory> {
    let too_much = TooMuchMemory { mem_top };
    let gibs = mem_top.div_ceil(GIB);
    if gibs > 512 {
        return Err(too_much);
    }
    let mut next_page = PML4_BASE + PAGE;
    let mut allocate = |blob: &mut Blob| -> Result<u64, TooMuchMemory> {
        let page = next_page;
        if page + PAGE > PAGE_TABLES.end {
            return Err(TooMuchMemory { mem_top });
        }
        next_page += PAGE;
        blob.push((page, vec![0u8; PAGE as usize]));
        Ok(page)
    };
    let covered =
        |start: u64, end: u64| accessible.iter().any(|r| r.start <= start && end <= r.end);
    let mut blob: Blob = vec![(PML4_BASE, vec![0u8; PAGE as usize])];
    let pdpt = allocate(&mut blob)?;
    set_entry(&mut blob, PML4_BASE, 0, pdpt | PRESENT_WRITABLE_USER);
    for gib in 0..gibs {
        let pd = allocate(&mut blob)?;
        set_entry(&mut blob, pdpt, gib, pd | PRESENT_WRITABLE_USER);
        for block in 0..512u64 {
            let start = gib * GIB + block * TWO_MIB;
            if start >= mem_top {
                break;
            }
            if covered(start, start + TWO_MIB) {
                set_entry(&mut blob, pd, block, start | PRESENT_WRITABLE_USER | HUGE);
                continue;
            }
            let pages: Vec<u64> = (0..512u64)
                .map(|i| start + i * PAGE)
                .filter(|p| covered(*p, p + PAGE))
                .collect();
            if pages.is_empty() {
                continue;
            }
            let pt = allocate(&mut blob)?;
            set_entry(&mut blob, pd, block, pt | PRESENT_WRITABLE_USER);
            for page in pages {
                set_entry(
                    &mut blob,
                    pt,
                    (page - start) / PAGE,
                    page | PRESENT_WRITABLE_USER,
                );
            }
        }
    }
    Ok(blob)
}

fn set_entry(blob: &mut Blob, table: u64, index: u64, value: u64) {
    let (_, bytes) = blob
        .iter_mut()
        .find(|(address, _)| *address == table)
        .expect("table was allocated");
    let at = index as usize * 8;
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// GDT (null, kernel code, kernel data, TSS, user data, user code) and an empty TSS: the
/// descriptors hardware virtualisation requires to be valid even though the guest never
/// changes privilege.
pub fn descriptor_tables() -> Blob {
    let mut gdt = Vec::with_capacity(7 * 8);
    gdt.extend_from_slice(&0u64.to_le_bytes());
    gdt.extend_from_slice(&0x00af_9a00_0000_ffffu64.to_le_bytes()); // kernel code, long mode
    gdt.extend_from_slice(&0x00cf_9200_0000_ffffu64.to_le_bytes()); // kernel data
    let (tss_low, tss_high) = system_descriptor(TSS_BASE, TSS_LIMIT, 0x89);
    gdt.extend_from_slice(&tss_low.to_le_bytes());
    gdt.extend_from_slice(&tss_high.to_le_bytes());
    gdt.extend_from_slice(&0x00cf_f200_0000_ffffu64.to_le_bytes()); // user data, DPL 3
    gdt.extend_from_slice(&0x00af_fa00_0000_ffffu64.to_le_bytes()); // user code, DPL 3, long mode
    // Hypervisors that emulate I/O for CPL 3 code (rather than honouring IOPL 3) consult the
    // I/O permission bitmap: allow exactly the hypercall port.
    let mut tss = vec![0u8; TSS_LIMIT as usize + 1];
    tss[0x66..0x68].copy_from_slice(&0x68u16.to_le_bytes());
    tss[0x68..].fill(0xff);
    let port = usize::from(xisa_format::abi::HYPERCALL_PORT);
    tss[0x68 + port / 8] &= !(1 << (port % 8));
    vec![(GDT_BASE, gdt), (TSS_BASE, tss)]
}

/// A 16-byte system-segment descriptor (TSS) as two little-endian words.
fn system_descriptor(base: u64, limit: u32, access: u64) -> (u64, u64) {
    let limit = u64::from(limit);
    let low = (limit & 0xffff)
        | ((base & 0xff_ffff) << 16)
        | (access << 40)
        | (((limit >> 16) & 0xf) << 48)
        | (((base >> 24) & 0xff) << 56);
    (low, base >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks the tables like the MMU: the mapped physical address of `va`, if any.
    fn translate(blob: &Blob, va: u64) -> Option<u64> {
        let read = |table: u64, index: u64| -> u64 {
            let (_, bytes) = blob
                .iter()
                .find(|(a, _)| *a == table)
                .expect("table present");
            u64::from_le_bytes(
                bytes[index as usize * 8..index as usize * 8 + 8]
                    .try_into()
                    .unwrap(),
            )
        };
        let pml4e = read(PML4_BASE, (va >> 39) & 511);
        if pml4e & 1 == 0 {
            return None;
        }
        let pdpte = read(pml4e & !0xfff, (va >> 30) & 511);
        if pdpte & 1 == 0 {
            return None;
        }
        let pde = read(pdpte & !0xfff, (va >> 21) & 511);
        if pde & 1 == 0 {
            return None;
        }
        assert_eq!(pde & 4, 4, "user bit");
        if pde & HUGE != 0 {
            return Some((pde & !0x1f_ffff & !(1 << 63)) | (va & 0x1f_ffff));
        }
        let pte = read(pde & !0xfff, (va >> 12) & 511);
        (pte & 1 != 0).then_some((pte & !0xfff) | (va & 0xfff))
    }

    #[test]
    fn only_accessible_memory_is_mapped_identically() {
        let accessible = [
            0x1_0000..0x37f_0000,
            0x380_0000..0x410_0000,
            0x420_0000..0x1_4001_0000,
        ];
        let mem_top = 0x1_4001_0000;
        let blob = page_tables(&accessible, mem_top).unwrap();
        for va in [
            0x1_0000,
            0x2_0123,
            0x37e_ffff,
            0x380_0000,
            0x410_0000 - 8,
            0x420_0000,
            0x600_0000,
            mem_top - 1,
        ] {
            assert_eq!(translate(&blob, va), Some(va), "{va:#x}");
        }
        for va in [
            0,
            0xfff8,
            0x37f_0000,
            0x37f_ffff,
            0x410_0000,
            0x41f_ffff,
            mem_top,
            mem_top + 0x1000,
        ] {
            assert_eq!(translate(&blob, va), None, "{va:#x}");
        }
        assert!(page_tables(&accessible, 600 * GIB).is_err());
    }

    #[test]
    fn gdt_has_user_segments() {
        let blob = descriptor_tables();
        let (_, gdt) = &blob[0];
        let entry = |selector: u16| {
            u64::from_le_bytes(gdt[(selector & !7) as usize..][..8].try_into().unwrap())
        };
        assert_eq!((entry(USER_CODE_SELECTOR) >> 45) & 3, 3, "user code DPL");
        assert_eq!((entry(USER_CODE_SELECTOR) >> 53) & 1, 1, "long mode");
        assert_eq!((entry(USER_DATA_SELECTOR) >> 45) & 3, 3, "user data DPL");
        let (_, tss) = &blob[1];
        let port = usize::from(xisa_format::abi::HYPERCALL_PORT);
        assert_eq!(
            tss[0x68 + port / 8] & (1 << (port % 8)),
            0,
            "hypercall port allowed"
        );
        assert_eq!(tss[0x68 + 1], 0xff, "other ports refused");
        assert_eq!(*tss.last().unwrap(), 0xff, "bitmap end marker");
    }
}
