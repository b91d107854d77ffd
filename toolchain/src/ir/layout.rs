//! Checks that every type the program lays out in memory has the same size, alignment and
//! field offsets under the neutral data layout and a target's, so that the bytes each target
//! writes mean the same thing everywhere.

use std::collections::HashSet;

use super::llvm::{DataLayout, Module, Opcode, Type, TypeKind};

/// Returns a description of every type whose layout differs, with where it was found.
pub fn layout_differences(
    module: &Module,
    neutral: &DataLayout,
    target: &DataLayout,
) -> Vec<String> {
    let mut checker = Checker {
        neutral,
        target,
        seen: HashSet::new(),
        problems: Vec::new(),
    };
    for global in module.globals() {
        checker.check(global.value_type(), &format!("global `{}`", global.name()));
    }
    for function in module.functions() {
        if function.is_declaration() {
            continue;
        }
        for inst in function.instructions() {
            let ty = match inst.opcode() {
                Opcode::LLVMAlloca => inst.allocated_type(),
                Opcode::LLVMGetElementPtr => inst.gep_source_type(),
                // Loads and stores carry their own alignment: only aggregates lay out memory.
                Opcode::LLVMLoad if is_aggregate(inst.type_of()) => inst.type_of(),
                Opcode::LLVMStore if is_aggregate(inst.operand(0).type_of()) => {
                    inst.operand(0).type_of()
                }
                _ => continue,
            };
            checker.check(ty, &format!("function `{}`", function.name()));
        }
    }
    checker.problems
}

fn is_aggregate(ty: Type) -> bool {
    matches!(
        ty.kind(),
        TypeKind::LLVMStructTypeKind | TypeKind::LLVMArrayTypeKind
    )
}

struct Checker<'a> {
    neutral: &'a DataLayout,
    target: &'a DataLayout,
    seen: HashSet<Type>,
    problems: Vec<String>,
}

impl Checker<'_> {
    fn check(&mut self, ty: Type, place: &str) {
        if !ty.is_sized() || !self.seen.insert(ty) {
            return;
        }
        let (n, t) = (self.neutral, self.target);
        if n.alloc_size(ty) != t.alloc_size(ty) || n.abi_align(ty) != t.abi_align(ty) {
            self.problems.push(format!(
                "{place}: type `{}` is {} bytes aligned to {} in the shared IR but {} bytes aligned to {} on this target",
                ty.to_text(),
                n.alloc_size(ty),
                n.abi_align(ty),
                t.alloc_size(ty),
                t.abi_align(ty)
            ));
            return;
        }
        match ty.kind() {
            TypeKind::LLVMStructTypeKind => {
                for (i, field) in ty.struct_fields().into_iter().enumerate() {
                    if n.element_offset(ty, i as u32) != t.element_offset(ty, i as u32) {
                        self.problems.push(format!(
                            "{place}: field {i} of `{}` is at a different offset on this target",
                            ty.to_text()
                        ));
                    }
                    self.check(field, place);
                }
            }
            TypeKind::LLVMArrayTypeKind | TypeKind::LLVMVectorTypeKind => {
                self.check(ty.element(), place)
            }
            _ => {}
        }
    }
}
