//! Structs passed by value (`byval`) become explicit copies made by the caller. A `byval`
//! argument is copied by the back end into the caller's native frame, so the callee would
//! hold a pointer into private memory, which a frame record must never keep. As an ordinary
//! alloca the copy moves to the shadow stack with the others, into neutral memory.

use super::llvm::{Module, Value};

pub fn make_copies_explicit(module: &mut Module) {
    let context = module.context();
    let i64t = context.i64();
    let ptrt = context.ptr();
    let memcpy = module.intrinsic("llvm.memcpy", &[ptrt, ptrt, i64t]);
    let memcpy_type =
        context.function_type(context.void(), &[ptrt, ptrt, i64t, context.i1()], false);
    let layout = module.layout();
    let builder = context.new_builder();
    for function in module.functions() {
        for index in 0..function.params().len() as u32 {
            function.remove_param_attribute(index, "byval");
        }
        if function.is_declaration() {
            continue;
        }
        let Some(first) = function.entry_block().and_then(|b| b.first_instruction()) else {
            continue;
        };
        let calls: Vec<Value> = function
            .instructions()
            .into_iter()
            .filter(|i| i.is_call() && !i.called_value().is_intrinsic())
            .collect();
        for call in calls {
            for index in 0..call.num_call_arguments() {
                let Some(ty) = call.call_argument_byval_type(index) else {
                    continue;
                };
                builder.position_before(first);
                let copy = builder.alloca(ty, "byval.copy");
                copy.set_alignment(16);
                builder.position_before(call);
                let size = i64t.const_int(layout.alloc_size(ty));
                builder.call(
                    memcpy_type,
                    memcpy,
                    &[copy, call.operand(index), size, context.i1().const_int(0)],
                    "",
                );
                call.set_operand(index, copy);
                call.remove_call_argument_attribute(index, "byval");
            }
        }
    }
}
