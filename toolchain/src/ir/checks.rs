//! Refuses constructs that cannot mean the same thing on every target: inline assembly
//! (including `asm goto`) and target-specific intrinsics. Computed goto is fine: the link
//! lowers it to a switch in the neutral IR (`computed_goto`).

use super::llvm::Module;
use crate::error::Unsupported;

/// Intrinsic prefixes that belong to one ISA.
const TARGET_INTRINSIC_PREFIXES: [&str; 5] = [
    "llvm.wasm.",
    "llvm.x86.",
    "llvm.aarch64.",
    "llvm.arm.",
    "llvm.riscv.",
];

/// Lists every construct in `module` that has no neutral meaning.
pub fn find_unsupported(module: &Module, file: &str) -> Vec<Unsupported> {
    let mut found = Vec::new();
    if !module.inline_asm().trim().is_empty() {
        found.push(Unsupported {
            function: "(file scope)".into(),
            file: Some(file.to_string()),
            what: "top-level inline assembly".into(),
        });
    }
    for function in module.functions() {
        if function.is_declaration() {
            continue;
        }
        let mut report = |what: String| {
            let item = Unsupported {
                function: function.name(),
                file: Some(function.debug_file().unwrap_or_else(|| file.to_string())),
                what,
            };
            if !found.contains(&item) {
                found.push(item);
            }
        };
        for inst in function.instructions() {
            if inst.is_call() {
                let callee = inst.called_value();
                if callee.is_inline_asm() {
                    report("inline assembly".into());
                    continue;
                }
                if callee.is_function() {
                    let name = callee.name();
                    if TARGET_INTRINSIC_PREFIXES
                        .iter()
                        .any(|p| name.starts_with(p))
                    {
                        report(format!("target-specific intrinsic `{name}`"));
                    }
                }
            }
        }
    }
    found
}
