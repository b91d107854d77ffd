//! Native lowering of instrumented calls (ARCHITECTURE §5): every function that can reach a
//! migration point, and every function called indirectly, uses the `preserve_none` calling
//! convention, so no callee-saved register carries state across an instrumented call; each
//! instrumented call becomes an `llvm.experimental.gc.statepoint` whose id is the call-site id
//! and whose deopt operand is the frame record, so `.llvm_stackmaps` gives its return address
//! and where the record lies in the native frame.

use std::collections::HashSet;

use crate::error::{Result, ToolchainError};
use crate::ir::fnptr::FunctionIndex;
use crate::ir::libcalls;
use crate::ir::llvm::{Linkage, Module, TypeKind, Value};
use crate::ir::migration::{CALL_SITE_ATTRIBUTE, MIGRATE, REACHES_ATTRIBUTE, RECORD_NAME};

/// LLVM's `preserve_nonecc`.
pub const PRESERVE_NONE: u32 = 21;

/// The GC strategy whose statepoints produce stack maps.
const GC_STRATEGY: &str = "statepoint-example";

/// Name of the `preserve_none` entry of an indexed function that must keep the C convention.
pub fn thunk_name(function: &str) -> String {
    format!("__xisa_pn.{function}")
}

pub fn lower(module: &mut Module, index: &FunctionIndex) -> Result<()> {
    let context = module.context();
    // Functions the back end may call by name (libcalls) keep the C convention. When one is
    // also called indirectly, the call table points at a preserve_none thunk instead.
    let mut preserve_none: HashSet<Value> = module
        .functions()
        .into_iter()
        .filter(|f| !f.is_declaration() && f.string_attribute(REACHES_ATTRIBUTE).is_some())
        .filter(|f| !libcalls::is_libcall(&f.name()))
        .collect();
    for name in &index.names {
        let Some(function) = module.function(name) else {
            continue;
        };
        preserve_none.insert(if libcalls::is_libcall(name) {
            make_thunk(module, function)
        } else {
            function
        });
    }
    // The runtime's stops: nothing may live in a register across them either. (The longjmp
    // call keeps the C convention for its argument: its caller's frame is never resumed.)
    for name in [MIGRATE, crate::ir::setjmp::SETJMP_POINT] {
        if let Some(stop) = module.function(name) {
            preserve_none.insert(stop);
        }
    }
    for function in &preserve_none {
        function.set_call_convention(PRESERVE_NONE);
    }
    // Every call to such a function, and every indirect call (its targets are all indexed
    // functions), must use the same convention.
    for function in module.functions() {
        for inst in function.instructions() {
            if !inst.is_call() {
                continue;
            }
            let callee = inst.called_value();
            let indirect = !callee.is_function() && !callee.is_inline_asm();
            if indirect || preserve_none.contains(&callee) {
                inst.set_call_convention(PRESERVE_NONE);
            }
        }
    }
    let builder = context.new_builder();
    let (i32t, i64t, ptrt) = (context.i32(), context.i64(), context.ptr());
    let statepoint = module.intrinsic("llvm.experimental.gc.statepoint", &[ptrt]);
    let statepoint_type =
        context.function_type(context.token(), &[i64t, i32t, ptrt, i32t, i32t], true);
    for function in module.functions() {
        let calls: Vec<Value> = function
            .instructions()
            .into_iter()
            .filter(|i| i.is_call() && i.call_site_string_attribute(CALL_SITE_ATTRIBUTE).is_some())
            .collect();
        if calls.is_empty() {
            continue;
        }
        function.set_gc(GC_STRATEGY);
        let record = function
            .entry_block()
            .and_then(|b| {
                b.instructions()
                    .into_iter()
                    .find(|i| i.name() == RECORD_NAME)
            })
            .ok_or_else(|| {
                ToolchainError::Llvm(format!(
                    "`{}` has instrumented calls but no frame record",
                    function.name()
                ))
            })?;
        for call in calls {
            let id: u64 = call
                .call_site_string_attribute(CALL_SITE_ATTRIBUTE)
                .and_then(|s| s.parse().ok())
                .expect("call-site ids are numbers");
            let callee_type = call.called_function_type();
            let callee = call.called_value();
            let arg_count = call.num_call_arguments();
            let args: Vec<Value> = (0..arg_count).map(|i| call.operand(i)).collect();
            let mut operands = vec![
                i64t.const_int(id),
                i32t.const_int(0),
                callee,
                i32t.const_int(u64::from(arg_count)),
                i32t.const_int(0),
            ];
            operands.extend(args.iter().copied());
            operands.push(i64t.const_int(0)); // no transition arguments
            operands.push(i64t.const_int(0)); // no deopt arguments besides the bundle
            builder.position_before(call);
            let token = builder.call_with_bundle(
                statepoint_type,
                statepoint,
                &operands,
                "deopt",
                &[record],
                "statepoint",
            );
            token.set_call_convention(call.call_convention());
            token
                .add_call_argument_attribute(2, context.type_attribute("elementtype", callee_type));
            for i in 0..arg_count {
                for attribute in call.call_argument_attributes(i) {
                    token.add_call_argument_attribute(5 + i, attribute);
                }
            }
            let result_type = callee_type.return_type();
            if result_type.kind() != TypeKind::LLVMVoidTypeKind {
                let gc_result = module.intrinsic("llvm.experimental.gc.result", &[result_type]);
                let result_fn = context.function_type(result_type, &[context.token()], false);
                let result = builder.call(result_fn, gc_result, &[token], "result");
                call.replace_all_uses_with(result);
            }
            call.erase();
        }
    }
    Ok(())
}

/// A `preserve_none` function forwarding to a C-convention `function`.
fn make_thunk(module: &mut Module, function: Value) -> Value {
    let context = module.context();
    let fn_type = function.value_type();
    let thunk = module.add_function(&thunk_name(&function.name()), fn_type);
    thunk.set_linkage(Linkage::LLVMInternalLinkage);
    let builder = context.new_builder();
    builder.position_at_end(thunk.append_block("entry"));
    let result = builder.call(fn_type, function, &thunk.params(), "");
    if fn_type.return_type().kind() == TypeKind::LLVMVoidTypeKind {
        builder.ret(None);
    } else {
        builder.ret(Some(result));
    }
    thunk
}
