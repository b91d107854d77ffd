//! Computed goto (GNU labels as values, `&&label` and `goto *p`) lowered once in the neutral
//! IR, before the single optimisation run: every label address becomes a small integer
//! (`inttoptr (i64 k)`, `k` from 1, so no label equals a null pointer) and every `indirectbr`
//! becomes a `switch` on that integer. No code address is ever stored in neutral memory, each
//! target compiles the same switch (a jump table on native targets, `br_table` on wasm64), and
//! dispatch loops get migration points like any other loop. Label arithmetic keeps working:
//! `&&a - &&b` is a difference of indices and `&&b + (&&a - &&b)` is `a`'s index again.

use std::collections::HashMap;

use super::llvm::{Block, Module, Opcode, Value};
use crate::error::{Result, ToolchainError, Unsupported};

/// Lowers every label address and indirect branch in `module`. Returns whether anything
/// changed.
pub fn lower(module: &mut Module) -> Result<bool> {
    let context = module.context();
    let i64t = context.i64();
    let ptrt = context.ptr();
    let builder = context.new_builder();
    let mut changed = false;
    for function in module.functions() {
        if function.is_declaration() {
            continue;
        }
        let addresses = label_addresses(function);
        let branches: Vec<Value> = function
            .instructions()
            .into_iter()
            .filter(|i| i.opcode() == Opcode::LLVMIndirectBr)
            .collect();
        if addresses.is_empty() && branches.is_empty() {
            continue;
        }
        changed = true;
        let mut index: HashMap<Block, u64> = HashMap::new();
        for (k, address) in addresses.iter().enumerate() {
            let k = k as u64 + 1;
            index.insert(address.block_address_block(), k);
            address.replace_all_uses_with(i64t.const_int(k).const_inttoptr(ptrt));
        }
        // Destinations no label address names (and repeated destinations, whose edges phis
        // count) get numbers no label has, so every edge stays and none is ever taken.
        let mut unused = addresses.len() as u64 + 1;
        let mut invalid = None;
        for branch in branches {
            let block = branch.parent_block();
            let mut cases = Vec::new();
            let mut seen = Vec::new();
            for destination in block.successors() {
                let value = match index.get(&destination) {
                    Some(&k) if !seen.contains(&destination) => k,
                    _ => {
                        unused += 1;
                        unused - 1
                    }
                };
                seen.push(destination);
                cases.push((i64t.const_int(value), destination));
            }
            let default = *invalid.get_or_insert_with(|| {
                let block = function.append_block("computed_goto.invalid");
                builder.position_at_end(block);
                builder.unreachable();
                block
            });
            builder.position_before(branch);
            builder.set_debug_location_from(branch);
            let target = builder.ptr_to_int(branch.operand(0), i64t, "label");
            builder.switch(target, default, &cases);
            branch.erase();
        }
    }
    Ok(changed)
}

/// After `lower` and a dead-constant sweep: any label address or indirect branch left is an
/// error naming its function.
pub fn check_lowered(module: &Module) -> Result<()> {
    let mut items = Vec::new();
    for function in module.functions() {
        let left = !label_addresses(function).is_empty()
            || function
                .instructions()
                .into_iter()
                .any(|i| i.opcode() == Opcode::LLVMIndirectBr);
        if left {
            items.push(Unsupported {
                function: function.name(),
                file: function.debug_file(),
                what: "a computed goto that could not be lowered to a switch \
                       (a label address is used outside its function?)"
                    .into(),
            });
        }
    }
    if items.is_empty() {
        Ok(())
    } else {
        Err(ToolchainError::Unsupported { items })
    }
}

/// The `blockaddress` constants naming blocks of `function`, in block order.
fn label_addresses(function: Value) -> Vec<Value> {
    let mut found: Vec<Value> = Vec::new();
    for user in function.users() {
        if user.is_block_address() && !found.contains(&user) {
            found.push(user);
        }
    }
    let order: HashMap<Block, usize> = function
        .blocks()
        .into_iter()
        .enumerate()
        .map(|(i, b)| (b, i))
        .collect();
    found.sort_by_key(|a| order.get(&a.block_address_block()).copied());
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::llvm::Context;

    const INTERPRETER: &str = r#"
target datalayout = "e-m:e-p:64:64-p10:8:8-p20:8:8-i64:64-i128:128-n32:64-S128-ni:1:10:20"
target triple = "wasm64-unknown-unknown"

@table = internal constant [3 x ptr] [ptr blockaddress(@run, %inc), ptr blockaddress(@run, %dec), ptr blockaddress(@run, %halt)]
@distance = global i64 sub (i64 ptrtoint (ptr blockaddress(@run, %halt) to i64), i64 ptrtoint (ptr blockaddress(@run, %inc) to i64))

define i32 @run(ptr %code) {
entry:
  br label %dispatch
dispatch:
  %pc = phi i64 [ 0, %entry ], [ %next, %inc ], [ %next, %dec ]
  %acc = phi i32 [ 0, %entry ], [ %up, %inc ], [ %down, %dec ]
  %next = add i64 %pc, 1
  %opp = getelementptr i8, ptr %code, i64 %pc
  %op = load i8, ptr %opp
  %opx = zext i8 %op to i64
  %slot = getelementptr [3 x ptr], ptr @table, i64 0, i64 %opx
  %target = load ptr, ptr %slot
  indirectbr ptr %target, [label %inc, label %dec, label %halt]
inc:
  %up = add i32 %acc, 1
  br label %dispatch
dec:
  %down = sub i32 %acc, 1
  br label %dispatch
halt:
  ret i32 %acc
}
"#;

    #[test]
    fn labels_become_indices_and_indirect_branches_switches() {
        let context = Context::new();
        let mut module = context
            .parse_ir(INTERPRETER, "interp.ll")
            .expect("test IR parses");
        assert!(lower(&mut module).unwrap());
        module.verify().unwrap();
        let text = module.to_text();
        assert!(!text.contains("indirectbr"), "{text}");
        assert!(text.contains("switch i64"), "{text}");
        assert!(
            text.contains("[ptr inttoptr (i64 1 to ptr), ptr inttoptr (i64 2 to ptr), ptr inttoptr (i64 3 to ptr)]"),
            "{text}"
        );
        // &&halt - &&inc is a difference of indices.
        assert!(
            text.contains("i64 sub (i64 3, i64 1)") || text.contains("i64 2"),
            "{text}"
        );
        assert!(text.contains("unreachable"), "{text}");
    }

    #[test]
    fn a_module_without_computed_goto_is_unchanged() {
        let context = Context::new();
        let mut module = context
            .parse_ir("define i32 @f(i32 %x) {\n  ret i32 %x\n}\n", "plain.ll")
            .unwrap();
        let before = module.to_text();
        assert!(!lower(&mut module).unwrap());
        assert_eq!(module.to_text(), before);
        check_lowered(&module).unwrap();
    }
}
