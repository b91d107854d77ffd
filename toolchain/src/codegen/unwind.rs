//! wasm64 lowering of instrumented calls (ARCHITECTURE §5): the program unwinds and rewinds
//! itself, since wasm code cannot see its own stack.
//!
//! A wasm global holds the mode: 0 running, 1 unwinding, 2 rewinding. After every
//! instrumented call the caller checks it; when unwinding it hands the executor its frame
//! (call-site id and record, through the import `xisa.save_frame`) and returns at once, so
//! the whole stack unwinds into the executor. When rewinding, every instrumented function
//! asks for its frame at entry (`xisa.restore_frame` writes the record and names the call
//! site) and calls the same callee again from that call site: the callee rewinds in turn,
//! until the innermost frame's `__xisa_migrate()` returns and the program carries on as if
//! nothing had happened. A rewind starts at the export `__xisa_resume`.
//!
//! The frame record holds every value live across the call (and an indirect call's neutral
//! function index), so the code after a call never depends on anything computed before it
//! except the record: the rewind path can jump straight to the call.

use crate::error::{Result, ToolchainError};
use crate::ir::fnptr::RESOLVER;
use crate::ir::llvm::{self, Builder, Context, IntPredicate, Linkage, Module, Opcode, Type, Value};
use crate::ir::migration::{
    CALL_SITE_ATTRIBUTE, CALLEE_SLOT_ATTRIBUTE, MIGRATE, RECORD_NAME, RECORD_SIZE_ATTRIBUTE,
};
use crate::ir::{setjmp, symbols};

/// The wasm global holding the mode.
pub const MODE_GLOBAL: &str = "__xisa_unwind_mode";
/// The export that starts a rewind.
pub const RESUME: &str = "__xisa_resume";
/// WebAssembly's address space of wasm globals.
const WASM_GLOBALS: u32 = 1;

const UNWINDING: u64 = 1;
const REWINDING: u64 = 2;

/// Host imports of the unwind protocol: (symbol, import name).
pub const IMPORTS: [(&str, &str); 3] = [
    ("__xisa_wasm_mode", "mode"),
    ("__xisa_wasm_save_frame", "save_frame"),
    ("__xisa_wasm_restore_frame", "restore_frame"),
];

struct Protocol {
    mode: Value,
    mode_fn: (Type, Value),
    save: (Type, Value),
    restore: (Type, Value),
    resolver: Option<(Type, Value)>,
    /// Calls after which the executor may have changed the mode: a migration point, a
    /// `setjmp` (where a longjmp's rewind ends) and a `longjmp` (which starts an unwind).
    stops: Vec<Value>,
}

pub fn lower(module: &mut Module) -> Result<()> {
    let context = module.context();
    let i32t = context.i32();
    let i64t = context.i64();
    let ptrt = context.ptr();
    let mode = module.add_global_in_address_space(MODE_GLOBAL, i32t, WASM_GLOBALS);
    mode.set_initializer(i32t.const_int(0));
    mode.set_linkage(Linkage::LLVMInternalLinkage);
    let mut import = |index: usize, ty: Type| {
        let (name, import) = IMPORTS[index];
        let function = module.add_function(name, ty);
        function.add_attribute(context.const_string_attribute("wasm-import-module", "xisa"));
        function.add_attribute(context.const_string_attribute("wasm-import-name", import));
        (ty, function)
    };
    let mode_fn = import(0, context.function_type(i32t, &[], false));
    let save = import(
        1,
        context.function_type(context.void(), &[i32t, ptrt, i64t], false),
    );
    let restore = import(
        2,
        context.function_type(i32t, &[ptrt, i64t, i32t, i32t], false),
    );
    let protocol = Protocol {
        mode,
        mode_fn,
        save,
        restore,
        resolver: module
            .function(RESOLVER)
            .map(|f| (context.function_type(ptrt, &[i64t], false), f)),
        stops: [MIGRATE, setjmp::SETJMP_POINT, setjmp::LONGJMP]
            .into_iter()
            .filter_map(|name| module.function(name))
            .collect(),
    };
    let builder = context.new_builder();
    for function in module.functions() {
        if function.is_declaration() {
            continue;
        }
        let calls: Vec<(Value, u32)> = function
            .instructions()
            .into_iter()
            .filter(|i| i.is_call())
            .filter_map(|i| {
                i.call_site_string_attribute(CALL_SITE_ATTRIBUTE)
                    .and_then(|id| id.parse().ok())
                    .map(|id| (i, id))
            })
            .collect();
        if !calls.is_empty() {
            lower_function(context, &builder, &protocol, function, &calls)?;
        }
    }
    define_resume(module, &builder, mode)?;
    Ok(())
}

fn lower_function(
    context: &Context,
    builder: &Builder,
    protocol: &Protocol,
    function: Value,
    calls: &[(Value, u32)],
) -> Result<()> {
    let i32t = context.i32();
    let i64t = context.i64();
    let fail = |what: &str| {
        ToolchainError::Llvm(format!("wasm64 unwinding of `{}`: {what}", function.name()))
    };
    let entry = function.entry_block().ok_or_else(|| fail("no body"))?;
    let record = entry
        .instructions()
        .into_iter()
        .find(|i| llvm::is_opcode(*i, Opcode::LLVMAlloca) && i.name() == RECORD_NAME)
        .ok_or_else(|| fail("no frame record"))?;
    let record_size: u64 = function
        .string_attribute(RECORD_SIZE_ATTRIBUTE)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| fail("no record size"))?;
    let return_type = function.value_type().return_type();
    let first_id = calls.iter().map(|c| c.1).min().expect("calls");
    let last_id = calls.iter().map(|c| c.1).max().expect("calls");

    let mut rewind_targets = Vec::with_capacity(calls.len());
    for &(call, id) in calls {
        let call_block = call.parent_block();
        let after = call
            .next_instruction()
            .ok_or_else(|| fail("call ends a block"))?;
        let rest = llvm::split_block_before(after, "xisa.after");
        // Rewind path: call the same callee again (arguments do not matter: the callee
        // restores its own frame before looking at them).
        let rewind = function.append_block("xisa.rewind");
        builder.position_at_end(rewind);
        // Calls in a function with debug information need a location.
        builder.set_debug_location_from(call);
        let fn_type = call.called_function_type();
        let callee = rewind_callee(context, builder, protocol, call, record, &fail)?;
        let args: Vec<Value> = fn_type
            .param_types()
            .into_iter()
            .map(|t| t.const_null())
            .collect();
        let again = builder.call(fn_type, callee, &args, "");
        again.set_call_convention(call.call_convention());
        // Join: the call's result, then the mode check.
        let check = function.append_block("xisa.check");
        let unwind = function.append_block("xisa.unwind");
        builder.br(check);
        let old_branch = call_block.terminator().expect("split left a branch");
        old_branch.erase();
        builder.position_at_end(call_block);
        builder.br(check);
        builder.position_at_end(check);
        let returns_value = fn_type.return_type().kind() != llvm::TypeKind::LLVMVoidTypeKind;
        if returns_value {
            let users = call.users();
            let joined = builder.phi(
                fn_type.return_type(),
                &[(call, call_block), (again, rewind)],
                "xisa.result",
            );
            for user in users {
                for i in 0..user.num_operands() {
                    if user.operand(i) == call {
                        user.set_operand(i, joined);
                    }
                }
            }
        }
        if protocol.stops.contains(&call.called_value()) {
            // The executor decides at a runtime stop whether the program unwinds.
            let (ty, mode_fn) = protocol.mode_fn;
            let mode = builder.call(ty, mode_fn, &[], "xisa.mode");
            builder.store(mode, protocol.mode);
        }
        let mode = builder.load(i32t, protocol.mode, "xisa.mode");
        let unwinding = builder.icmp(
            IntPredicate::LLVMIntEQ,
            mode,
            i32t.const_int(UNWINDING),
            "xisa.unwinding",
        );
        builder.cond_br(unwinding, unwind, rest);
        builder.position_at_end(unwind);
        let (ty, save) = protocol.save;
        builder.call(
            ty,
            save,
            &[
                i32t.const_int(u64::from(id)),
                record,
                i64t.const_int(record_size),
            ],
            "",
        );
        if return_type.kind() == llvm::TypeKind::LLVMVoidTypeKind {
            builder.ret(None);
        } else {
            builder.ret(Some(return_type.const_null()));
        }
        rewind_targets.push((i32t.const_int(u64::from(id)), rewind));
    }
    builder.clear_debug_location();

    // Entry: after the static allocas, a rewinding program dispatches to its call site.
    let first_code = entry
        .instructions()
        .into_iter()
        .find(|i| !llvm::is_opcode(*i, Opcode::LLVMAlloca))
        .ok_or_else(|| fail("empty entry block"))?;
    let body = llvm::split_block_before(first_code, "xisa.body");
    entry.terminator().expect("split left a branch").erase();
    let dispatch = function.append_block("xisa.dispatch");
    let bad_frame = function.append_block("xisa.bad_frame");
    builder.position_at_end(entry);
    let mode = builder.load(i32t, protocol.mode, "xisa.mode");
    let rewinding = builder.icmp(
        IntPredicate::LLVMIntEQ,
        mode,
        i32t.const_int(REWINDING),
        "xisa.rewinding",
    );
    builder.cond_br(rewinding, dispatch, body);
    builder.position_at_end(dispatch);
    let (ty, restore) = protocol.restore;
    let id = builder.call(
        ty,
        restore,
        &[
            record,
            i64t.const_int(record_size),
            i32t.const_int(u64::from(first_id)),
            i32t.const_int(u64::from(last_id)),
        ],
        "xisa.site",
    );
    builder.switch(id, bad_frame, &rewind_targets);
    builder.position_at_end(bad_frame);
    builder.unreachable();
    Ok(())
}

/// The callee to call again on the rewind path.
fn rewind_callee(
    context: &Context,
    builder: &Builder,
    protocol: &Protocol,
    call: Value,
    record: Value,
    fail: &dyn Fn(&str) -> ToolchainError,
) -> Result<Value> {
    let callee = call.called_value();
    if callee.is_function() {
        return Ok(callee);
    }
    let (resolver_type, resolver) = protocol
        .resolver
        .ok_or_else(|| fail("an indirect call without a resolver"))?;
    let index = match call.call_site_string_attribute(CALLEE_SLOT_ATTRIBUTE) {
        Some(offset) => {
            let offset: u64 = offset.parse().map_err(|_| fail("malformed callee slot"))?;
            let slot = builder.byte_gep(context, record, context.i64().const_int(offset), "slot");
            builder.load(context.i64(), slot, "xisa.callee")
        }
        None => match crate::ir::migration::indirect_callee_index(call) {
            Some(index) if index.is_constant() => index,
            _ => {
                return Err(fail(
                    "an indirect call whose callee the record does not keep",
                ));
            }
        },
    };
    Ok(builder.call(resolver_type, resolver, &[index], "xisa.fnptr"))
}

/// `void __xisa_resume(void)`: start a rewind of the program from its entry.
fn define_resume(module: &mut Module, builder: &Builder, mode: Value) -> Result<()> {
    let context = module.context();
    let entry = module.function(symbols::ENTRY).ok_or_else(|| {
        ToolchainError::Llvm(format!("the entry point {} is missing", symbols::ENTRY))
    })?;
    let void_fn = context.function_type(context.void(), &[], false);
    let resume = module.add_function(RESUME, void_fn);
    resume.add_attribute(context.const_string_attribute("wasm-export-name", RESUME));
    builder.position_at_end(resume.append_block("entry"));
    builder.store(context.i32().const_int(REWINDING), mode);
    let entry_type = entry.value_type();
    let args: Vec<Value> = entry_type
        .param_types()
        .into_iter()
        .map(|t| t.const_null())
        .collect();
    builder.call(entry_type, entry, &args, "");
    builder.ret(None);
    Ok(())
}
