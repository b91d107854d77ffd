//! Moves every alloca that survived optimisation onto the neutral shadow stack, so pointers
//! to locals are neutral addresses, valid on every target. The shadow-stack pointer is the
//! neutral global `__xisa_ssp`; each frame is carved below it in the prologue (with an
//! overflow check) and released before every return.

use xisa_format::abi::{GuestFault, XISA_CALL_FAULT};
use xisa_format::memory_map::SHADOW_STACK;

use super::llvm::{self, Builder, Context, IntPredicate, Linkage, Module, Opcode, Value};

/// The neutral shadow-stack pointer.
pub const SSP: &str = "__xisa_ssp";
/// Called when a frame does not fit; reports the fault to the executor.
pub const OVERFLOW: &str = "__xisa_shadow_stack_overflow";

const FRAME_ALIGN: u64 = 16;

pub fn move_allocas_to_shadow_stack(module: &mut Module) {
    let context = module.context();
    let stack = ShadowStack {
        ssp: create_ssp(module),
        overflow: create_overflow_handler(module),
    };
    let ssp = stack.ssp;
    let layout = module.layout();
    let builder = context.new_builder();
    for function in module.functions() {
        if function.is_declaration() || function == stack.overflow {
            continue;
        }
        let allocas: Vec<Value> = function
            .instructions()
            .into_iter()
            .filter(|i| i.opcode() == Opcode::LLVMAlloca)
            .collect();
        replace_stack_save_restore(module, function, ssp, &builder);
        if allocas.is_empty() {
            continue;
        }
        let entry = function
            .entry_block()
            .expect("defined function has an entry block");
        let (fixed, dynamic): (Vec<Value>, Vec<Value>) = allocas
            .into_iter()
            .partition(|a| a.parent_block() == entry && a.operand(0).is_constant_int());
        for alloca in fixed.iter().chain(&dynamic) {
            drop_lifetime_markers(*alloca);
        }
        // Lay out the fixed-size locals.
        let mut offset = 0u64;
        let mut frame_align = FRAME_ALIGN;
        let mut slots = Vec::new();
        for alloca in &fixed {
            let ty = alloca.allocated_type();
            let count = alloca.operand(0).const_int_value();
            let size = layout.alloc_size(ty).saturating_mul(count);
            let align = alloca.alignment().max(1);
            frame_align = frame_align.max(align);
            offset = offset.div_ceil(align) * align;
            slots.push((*alloca, offset));
            offset += size;
        }
        let frame_size = offset.div_ceil(FRAME_ALIGN) * FRAME_ALIGN;
        let first = entry
            .first_instruction()
            .expect("entry block has a terminator");
        builder.position_before(first);
        let old = builder.load(context.ptr(), ssp, "ssp.old");
        if frame_size > 0 {
            let size = context.i64().const_int(frame_size);
            let frame = carve(context, &builder, &stack, first, old, size, frame_align);
            for (alloca, offset) in slots {
                builder.position_before(alloca);
                let slot =
                    builder.byte_gep(context, frame, context.i64().const_int(offset), "local");
                alloca.replace_all_uses_with(slot);
                alloca.erase();
            }
        }
        for alloca in dynamic {
            builder.position_before(alloca);
            let ty = alloca.allocated_type();
            let count = builder.int_cast(alloca.operand(0), context.i64(), "count");
            let bytes = builder.mul(
                count,
                context.i64().const_int(layout.alloc_size(ty)),
                "bytes",
            );
            let current = builder.load(context.ptr(), ssp, "ssp");
            let align = alloca.alignment().max(FRAME_ALIGN);
            let slot = carve(context, &builder, &stack, alloca, current, bytes, align);
            alloca.replace_all_uses_with(slot);
            alloca.erase();
        }
        for block in function.blocks() {
            if let Some(term) = block.terminator().filter(|t| t.opcode() == Opcode::LLVMRet) {
                builder.position_before(term);
                builder.store(old, ssp);
            }
        }
    }
}

/// The shadow-stack globals a frame is carved with.
struct ShadowStack {
    ssp: Value,
    overflow: Value,
}

/// Inserts, before `next`: `frame = align_down(base - bytes, align)`, a check that the frame
/// stays inside the shadow stack (calling the overflow handler otherwise), and `ssp = frame`.
/// Returns `frame`; it is defined in a new block that starts at `next`.
fn carve(
    context: &Context,
    builder: &Builder,
    stack: &ShadowStack,
    next: Value,
    base: Value,
    bytes: Value,
    align: u64,
) -> Value {
    let i64t = context.i64();
    builder.position_before(next);
    let base_int = builder.ptr_to_int(base, i64t, "ssp.int");
    let lowered = builder.sub(base_int, bytes, "frame.int");
    let aligned = builder.and(lowered, i64t.const_int(!(align - 1)), "frame.aligned");
    // The unsigned compares also catch wrap-around from huge dynamic sizes.
    let too_low = builder.icmp(
        IntPredicate::LLVMIntULT,
        aligned,
        i64t.const_int(SHADOW_STACK.start),
        "ss.low",
    );
    let wrapped = builder.icmp(IntPredicate::LLVMIntUGT, aligned, base_int, "ss.wrap");
    let bad = builder.or(too_low, wrapped, "ss.bad");
    let head = next.parent_block();
    let cont = llvm::split_block_before(next, "frame.ok");
    let fail = next.parent_function().append_block("frame.overflow");
    let branch = head
        .terminator()
        .expect("the split ends the block with a branch");
    builder.position_before(branch);
    builder.cond_br(bad, fail, cont);
    branch.erase();
    builder.position_at_end(fail);
    let overflow_type = context.function_type(context.void(), &[], false);
    builder.call(overflow_type, stack.overflow, &[], "");
    builder.unreachable();
    builder.position_before(next);
    let frame = builder.int_to_ptr(aligned, context.ptr(), "frame");
    builder.store(frame, stack.ssp);
    frame
}

fn create_ssp(module: &mut Module) -> Value {
    let context = module.context();
    let ssp = module.add_global(SSP, context.ptr());
    let top = context
        .i64()
        .const_int(SHADOW_STACK.end)
        .const_inttoptr(context.ptr());
    ssp.set_initializer(top);
    // External (hidden) so the ELF keeps the name: the runtime's setjmp and longjmp save and
    // restore it.
    ssp.set_linkage(Linkage::LLVMExternalLinkage);
    ssp.set_hidden();
    ssp.set_alignment(8);
    ssp
}

fn create_overflow_handler(module: &mut Module) -> Value {
    let context = module.context();
    let fn_type = context.function_type(context.void(), &[], false);
    let handler = module.add_function(OVERFLOW, fn_type);
    handler.set_linkage(Linkage::LLVMInternalLinkage);
    handler.add_attribute(context.enum_attribute("noreturn", 0));
    handler.add_attribute(context.enum_attribute("noinline", 0));
    handler.add_attribute(context.enum_attribute("cold", 0));
    let i64t = context.i64();
    let syscall_type = context.function_type(i64t, &[i64t; 7], false);
    let syscall = module
        .function("__xisa_syscall")
        .unwrap_or_else(|| module.add_function("__xisa_syscall", syscall_type));
    let builder = context.new_builder();
    builder.position_at_end(handler.append_block("entry"));
    let mut args = vec![
        i64t.const_int(XISA_CALL_FAULT),
        i64t.const_int(GuestFault::ShadowStackOverflow as u64),
    ];
    args.resize(7, i64t.const_int(0));
    builder.call(syscall_type, syscall, &args, "");
    let trap = module.intrinsic("llvm.trap", &[]);
    builder.call(fn_type, trap, &[], "");
    builder.unreachable();
    handler
}

fn drop_lifetime_markers(alloca: Value) {
    for user in alloca.users() {
        if user.is_call() {
            let callee = user.called_value();
            if callee.is_function() && callee.name().starts_with("llvm.lifetime.") {
                user.erase();
            }
        }
    }
}

/// `llvm.stacksave` reads the shadow-stack pointer and `llvm.stackrestore` writes it: after
/// this pass every stack allocation lives there.
fn replace_stack_save_restore(module: &Module, function: Value, ssp: Value, builder: &Builder) {
    let context = module.context();
    for inst in function.instructions() {
        if !inst.is_call() {
            continue;
        }
        let callee = inst.called_value();
        if !callee.is_function() {
            continue;
        }
        let name = callee.name();
        if name.starts_with("llvm.stacksave") {
            builder.position_before(inst);
            let current = builder.load(context.ptr(), ssp, "ssp.saved");
            inst.replace_all_uses_with(current);
            inst.erase();
        } else if name.starts_with("llvm.stackrestore") {
            builder.position_before(inst);
            builder.store(inst.operand(0), ssp);
            inst.erase();
        }
    }
}
