//! The symbols a bitcode module defines and needs, as the linker sees them.

use serde::{Deserialize, Serialize};

use crate::ir::llvm::{Linkage, Module};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleSymbols {
    /// Externally visible definitions.
    pub defines: Vec<String>,
    /// Those of `defines` that are weak (a strong definition elsewhere wins).
    pub weak: Vec<String>,
    /// References to symbols defined elsewhere.
    pub undefined: Vec<String>,
}

pub fn module_symbols(module: &Module) -> ModuleSymbols {
    let mut symbols = ModuleSymbols::default();
    let values = module
        .functions()
        .into_iter()
        .chain(module.globals())
        .chain(module.aliases());
    for value in values {
        let name = value.name();
        if name.is_empty() || name.starts_with("llvm.") {
            continue;
        }
        let linkage = value.linkage();
        if matches!(
            linkage,
            Linkage::LLVMInternalLinkage | Linkage::LLVMPrivateLinkage
        ) {
            continue;
        }
        if value.is_global_alias() || !value.is_declaration() {
            if value.is_weak() || linkage == Linkage::LLVMCommonLinkage {
                symbols.weak.push(name.clone());
            }
            symbols.defines.push(name);
        } else if !value.is_intrinsic() {
            symbols.undefined.push(name);
        }
    }
    symbols.defines.sort();
    symbols.weak.sort();
    symbols.undefined.sort();
    symbols
}
