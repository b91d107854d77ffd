//! Places every global of the program at a fixed neutral address: constants in the rodata
//! region, initialised variables in data, zero-initialised ones in bss, each region one
//! packed global whose layout is computed here, once, for every target. Uses of the original
//! globals become constant offsets into their region.

use xisa_format::memory_map::{IMAGE_BASE, IMAGE_LIMIT, ImageLayout};

use super::llvm::{DataLayout, Linkage, Module, Type, Value};
use crate::error::{Result, ToolchainError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    Rodata,
    Data,
    Bss,
}

impl Region {
    pub const ALL: [Region; 3] = [Region::Rodata, Region::Data, Region::Bss];

    /// Name of the region's global in the IR and of its symbol in every target's output.
    pub fn symbol(self) -> &'static str {
        match self {
            Region::Rodata => "__xisa_rodata",
            Region::Data => "__xisa_data",
            Region::Bss => "__xisa_bss",
        }
    }

    /// Section name; its prefix tells both ELF and wasm linkers what kind of data it is.
    pub fn section(self) -> &'static str {
        match self {
            Region::Rodata => ".rodata.xisa",
            Region::Data => ".data.xisa",
            Region::Bss => ".bss.xisa",
        }
    }
}

/// One neutral global: where it lives on every target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeutralSymbol {
    pub name: String,
    pub region: Region,
    pub address: u64,
    pub size: u64,
}

pub struct Placement {
    pub layout: ImageLayout,
    pub symbols: Vec<NeutralSymbol>,
}

/// Alignment of every region: regions start on their own 64 KiB boundary.
pub const REGION_GLOBAL_ALIGN: u64 = xisa_format::memory_map::REGION_ALIGN;

pub fn place_globals(module: &mut Module) -> Result<Placement> {
    let context = module.context();
    let layout = module.layout();
    let mut members: [Vec<(Value, u64)>; 3] = Default::default();
    let mut sizes = [0u64; 3];
    for global in module.globals() {
        if global.is_declaration() || global.name().starts_with("llvm.") {
            continue;
        }
        global.set_thread_local(false);
        let init = global.initializer().expect("definitions have initialisers");
        let region = if global.is_global_constant() {
            Region::Rodata
        } else if init.is_null_value() {
            Region::Bss
        } else {
            Region::Data
        };
        let slot = region as usize;
        let ty = global.value_type();
        let align = global.alignment().max(layout.abi_align(ty)).max(1);
        let offset = sizes[slot].div_ceil(align) * align;
        sizes[slot] = offset + layout.alloc_size(ty);
        members[slot].push((global, offset));
    }
    let image = ImageLayout {
        rodata_size: sizes[Region::Rodata as usize],
        data_size: sizes[Region::Data as usize],
        bss_size: sizes[Region::Bss as usize],
    };
    if image.end() > IMAGE_LIMIT {
        return Err(ToolchainError::Layout(format!(
            "the program's static data needs {} MiB, more than the {} MiB the memory map allows",
            (image.end() - IMAGE_BASE) >> 20,
            (IMAGE_LIMIT - IMAGE_BASE) >> 20
        )));
    }
    let bases = [image.rodata().start, image.data().start, image.bss().start];
    let mut symbols = Vec::new();
    for region in Region::ALL {
        let slot = region as usize;
        if sizes[slot] == 0 {
            continue;
        }
        let global = build_region(module, &layout, region, &members[slot], sizes[slot]);
        for (member, offset) in &members[slot] {
            symbols.push(NeutralSymbol {
                name: member.name(),
                region,
                address: bases[slot] + offset,
                size: layout.alloc_size(member.value_type()),
            });
            let address = global.const_byte_offset(context, *offset);
            member.replace_all_uses_with(address);
            // Symbols other code refers to by name (the stack-protector guard) keep it.
            if member.linkage() != Linkage::LLVMInternalLinkage {
                let name = member.name();
                member.set_name("");
                let alias = module.add_alias(&name, context.i8(), address);
                alias.set_linkage(Linkage::LLVMExternalLinkage);
                alias.set_hidden();
            }
        }
    }
    for slot in &members {
        for (member, _) in slot {
            member.delete_global();
        }
    }
    Ok(Placement {
        layout: image,
        symbols,
    })
}

/// One packed global holding `members` at their offsets, with explicit zero padding.
fn build_region(
    module: &mut Module,
    layout: &DataLayout,
    region: Region,
    members: &[(Value, u64)],
    size: u64,
) -> Value {
    let context = module.context();
    let i8t = context.i8();
    let global = if region == Region::Bss {
        let ty = context.array(i8t, size);
        let global = module.add_global(region.symbol(), ty);
        global.set_initializer(ty.const_null());
        global
    } else {
        let mut types: Vec<Type> = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        let mut at = 0u64;
        for (member, offset) in members {
            if *offset > at {
                let pad = context.array(i8t, offset - at);
                types.push(pad);
                values.push(pad.const_null());
            }
            let ty = member.value_type();
            types.push(ty);
            values.push(member.initializer().expect("definitions have initialisers"));
            at = offset + layout.alloc_size(ty);
        }
        let ty = context.packed_struct(&types);
        let global = module.add_global(region.symbol(), ty);
        global.set_initializer(context.const_packed_struct(&values));
        global
    };
    global.set_global_constant(region == Region::Rodata);
    global.set_linkage(Linkage::LLVMInternalLinkage);
    global.set_alignment(REGION_GLOBAL_ALIGN);
    global
}
