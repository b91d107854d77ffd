//! Function pointers become small integer indices, the same on every target, so no code
//! address is ever stored in neutral memory. Indirect calls look the index up through
//! `__xisa_fnptr`, which each target defines (a call-table load on native targets, the index
//! itself on wasm64, whose function table the executor fills in index order).

use super::llvm::{Context, Module, Opcode, Value};
use crate::error::{Result, ToolchainError, Unsupported};

/// Resolves a neutral function index to something callable on the current target.
pub const RESOLVER: &str = "__xisa_fnptr";

/// Functions whose address is taken, in index order: index `k` (from 1) is `names[k - 1]`.
/// Index 0 is the null function pointer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionIndex {
    pub names: Vec<String>,
}

/// Replaces every non-call use of a function with its index and routes indirect calls through
/// the resolver.
pub fn neutralise_function_pointers(module: &mut Module) -> Result<FunctionIndex> {
    let context = module.context();
    let ptrt = context.ptr();
    let mut index = FunctionIndex::default();
    let mut by_index: Vec<Value> = Vec::new();
    let mut problems = Vec::new();
    for function in module.functions() {
        if function.is_intrinsic() || function.only_called_directly() {
            continue;
        }
        if function.is_declaration() {
            problems.push(Unsupported {
                function: function.name(),
                file: None,
                what: "the address of a runtime import is taken".into(),
            });
            continue;
        }
        by_index.push(function);
        index.names.push(function.name());
        let k = by_index.len() as u64;
        function.replace_all_uses_with(context.i64().const_int(k).const_inttoptr(ptrt));
    }
    if !problems.is_empty() {
        return Err(ToolchainError::Unsupported { items: problems });
    }
    let resolver_type = context.function_type(ptrt, &[context.i64()], false);
    let resolver = module
        .function(RESOLVER)
        .unwrap_or_else(|| module.add_function(RESOLVER, resolver_type));
    let builder = context.new_builder();
    for function in module.functions() {
        for inst in function.instructions() {
            if !inst.is_call() {
                continue;
            }
            let callee = inst.called_value();
            if callee.is_function() || callee.is_inline_asm() {
                continue;
            }
            let callee_operand = inst.callee_operand_index();
            // RAUW turned direct calls into calls of a constant index: point them back.
            if let Some(target) = constant_index(callee)
                .and_then(|k| k.checked_sub(1))
                .and_then(|i| by_index.get(i as usize))
            {
                inst.set_operand(callee_operand, *target);
                continue;
            }
            builder.position_before(inst);
            let as_int = builder.ptr_to_int(callee, context.i64(), "fnidx");
            let resolved = builder.call(resolver_type, resolver, &[as_int], "fnptr");
            inst.set_operand(callee_operand, resolved);
        }
    }
    Ok(index)
}

/// `inttoptr (i64 k to ptr)` → `k`.
fn constant_index(value: Value) -> Option<u64> {
    if !value.is_constant_expr() || value.const_opcode() != Opcode::LLVMIntToPtr {
        return None;
    }
    let inner = value.operand(0);
    inner.is_constant_int().then(|| inner.const_int_value())
}

/// Defines the resolver for a target whose indirect calls take the neutral index directly
/// (wasm64: slot `k` of the function table holds function `k`).
pub fn define_identity_resolver(module: &mut Module) {
    let Some(resolver) = module.function(RESOLVER) else {
        return;
    };
    let context: &Context = module.context();
    let builder = context.new_builder();
    builder.position_at_end(resolver.append_block("entry"));
    let ptr = builder.int_to_ptr(resolver.params()[0], context.ptr(), "fn");
    builder.ret(Some(ptr));
    make_inlinable(module, resolver);
}

/// Defines the resolver as a bounds-checked load from a per-target call table holding the
/// functions' code addresses (native targets). Index 0 and out-of-range indices trap.
/// A function `entry_name(name)` exists for, is put in the table instead of `name` itself.
pub fn define_table_resolver(
    module: &mut Module,
    index: &FunctionIndex,
    entry_name: fn(&str) -> String,
) -> Result<()> {
    let Some(resolver) = module.function(RESOLVER) else {
        return Ok(());
    };
    let context: &Context = module.context();
    let ptrt = context.ptr();
    let mut entries = vec![ptrt.const_null()];
    for name in &index.names {
        let function = module
            .function(&entry_name(name))
            .or_else(|| module.function(name))
            .ok_or_else(|| {
                ToolchainError::Llvm(format!(
                    "indexed function `{name}` vanished before code generation"
                ))
            })?;
        entries.push(function);
    }
    let table_type = context.array(ptrt, entries.len() as u64);
    let table = module.add_global("__xisa_call_table", table_type);
    table.set_initializer(ptrt.const_array(&entries));
    table.set_global_constant(true);
    table.set_linkage(super::llvm::Linkage::LLVMInternalLinkage);
    table.set_alignment(8);

    let builder = context.new_builder();
    let entry = resolver.append_block("entry");
    let lookup = resolver.append_block("lookup");
    let bad = resolver.append_block("bad");
    builder.position_at_end(entry);
    let k = resolver.params()[0];
    let nonzero = builder.sub(k, context.i64().const_int(1), "k1");
    let in_range = builder.icmp(
        super::llvm::IntPredicate::LLVMIntULT,
        nonzero,
        context.i64().const_int(entries.len() as u64 - 1),
        "inrange",
    );
    builder.cond_br(in_range, lookup, bad);
    builder.position_at_end(lookup);
    let offset = builder.mul(k, context.i64().const_int(8), "off");
    let slot = builder.byte_gep(context, table, offset, "slot");
    let code = builder.load(ptrt, slot, "code");
    builder.ret(Some(code));
    builder.position_at_end(bad);
    let trap_type = context.function_type(context.void(), &[], false);
    let trap = module.intrinsic("llvm.trap", &[]);
    builder.call(trap_type, trap, &[], "");
    builder.unreachable();
    make_inlinable(module, resolver);
    Ok(())
}

fn make_inlinable(module: &Module, function: Value) {
    let context = module.context();
    function.set_linkage(super::llvm::Linkage::LLVMInternalLinkage);
    function.add_attribute(context.enum_attribute("alwaysinline", 0));
}

/// Keeps indexed functions alive: after neutralisation nothing refers to them by address,
/// but the executor or the call table will.
pub fn keep_indexed_functions(module: &mut Module, index: &FunctionIndex) {
    let context = module.context();
    let ptrt = context.ptr();
    let functions: Vec<Value> = index
        .names
        .iter()
        .filter_map(|n| module.function(n))
        .collect();
    if functions.is_empty() {
        return;
    }
    let ty = context.array(ptrt, functions.len() as u64);
    let used = module.add_global("llvm.compiler.used", ty);
    used.set_initializer(ptrt.const_array(&functions));
    used.set_linkage(super::llvm::Linkage::LLVMAppendingLinkage);
    used.set_section("llvm.metadata");
}
