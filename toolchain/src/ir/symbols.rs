//! Whole-program symbol resolution after linking: aliases are folded into what they name,
//! weak undefined references become null, anything else undefined is an error, and every
//! definition except the entry point becomes internal so the optimiser sees the whole program.

use super::llvm::{Linkage, Module, Value};
use crate::error::{Result, ToolchainError};

/// Symbols the runtime provides on every target.
pub const RUNTIME_IMPORTS: [&str; 3] = [
    "__xisa_syscall",
    super::setjmp::LONGJMP,
    super::setjmp::SETJMP_POINT,
];

/// Is `name` provided by a runtime (or, for `setjmp`, by the toolchain's rewrite of its
/// calls) rather than by the program or libc?
pub fn is_runtime_import(name: &str) -> bool {
    RUNTIME_IMPORTS.contains(&name) || super::setjmp::SETJMP_NAMES.contains(&name)
}

/// The program's entry, called by each target's runtime stub.
pub const ENTRY: &str = "__xisa_start";

/// Points every use of an alias at what it names. The aliases themselves (which the C API
/// cannot delete) become internal and unused, so the optimiser removes them.
pub fn fold_aliases(module: &mut Module) {
    for alias in module.aliases() {
        if alias.has_uses() {
            alias.replace_all_uses_with(alias.aliasee());
        }
        alias.set_linkage(Linkage::LLVMInternalLinkage);
    }
}

/// Replaces weak undefined references by null and reports strong undefined ones, naming a
/// function that uses each.
pub fn resolve_undefined(module: &mut Module) -> Result<()> {
    let mut undefined = Vec::new();
    let declarations = module
        .functions()
        .into_iter()
        .chain(module.globals())
        .filter(|v| v.is_declaration() && !v.is_intrinsic());
    for declaration in declarations {
        let name = declaration.name();
        if is_runtime_import(&name) {
            continue;
        }
        if !declaration.has_uses() {
            if declaration.is_function() {
                declaration.delete_function();
            } else {
                declaration.delete_global();
            }
            continue;
        }
        if declaration.linkage() == Linkage::LLVMExternalWeakLinkage {
            declaration.replace_all_uses_with(declaration.type_of().const_null());
            if declaration.is_function() {
                declaration.delete_function();
            } else {
                declaration.delete_global();
            }
            continue;
        }
        undefined.push((name, describe_user(declaration)));
    }
    if undefined.is_empty() {
        Ok(())
    } else {
        undefined.sort();
        Err(ToolchainError::Undefined { symbols: undefined })
    }
}

/// Names the first function that refers to `value`, looking through constant expressions
/// and global initialisers.
fn describe_user(value: Value) -> String {
    let mut pending = vec![value];
    let mut seen = 0;
    while let Some(v) = pending.pop() {
        seen += 1;
        if seen > 10_000 {
            break;
        }
        for user in v.users() {
            if user.is_instruction() {
                return format!("function `{}`", user.parent_function().name());
            }
            if user.is_global_variable() {
                return format!("the initialiser of `{}`", user.name());
            }
            pending.push(user);
        }
    }
    "an unknown user".into()
}

/// Makes every definition internal except the entry point and those `keep_external` names;
/// drops `llvm.used` lists, which would otherwise keep dead code alive and pin function
/// addresses.
pub fn internalise(module: &mut Module, keep_external: fn(&str) -> bool) {
    for name in ["llvm.used", "llvm.compiler.used"] {
        if let Some(list) = module.global(name) {
            list.delete_global();
        }
    }
    for value in module.functions().into_iter().chain(module.globals()) {
        if value.is_declaration() || value.name().starts_with("llvm.") {
            continue;
        }
        if value.name() == ENTRY || keep_external(&value.name()) {
            value.set_linkage(Linkage::LLVMExternalLinkage);
            continue;
        }
        if value.linkage() == Linkage::LLVMCommonLinkage {
            // Common symbols are zero-initialised definitions.
            value.set_linkage(Linkage::LLVMInternalLinkage);
            value.set_initializer(value.value_type().const_null());
            continue;
        }
        value.set_linkage(Linkage::LLVMInternalLinkage);
    }
}
