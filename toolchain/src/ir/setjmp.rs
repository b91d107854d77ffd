//! Neutral setjmp/longjmp (spec.md §2.2): a jump buffer holds no machine state, only neutral
//! facts, so a program that uses it runs on every target and migrates between a `setjmp` and
//! its `longjmp` like anywhere else.
//!
//! - Every function that calls `setjmp` takes an **activation token** from the neutral counter
//!   `__xisa_jmp_serial` at entry and keeps it in the first word of its frame record, so its
//!   neutral frame says which activation it is.
//! - A `setjmp(buf)` call becomes: store the token, the call-site id, the shadow-stack pointer
//!   and 0 into `buf`; call `__xisa_setjmp_point()` (an instrumented call whose call site is
//!   the `setjmp`'s); then read the result from `buf`.
//! - `longjmp` (libc port) stores its value into `buf` and calls `__xisa_longjmp(buf)`. The
//!   executor unwinds the neutral frames down to the frame whose token the buffer names and
//!   resumes it at the `setjmp`'s call site, exactly as a restore resumes a checkpoint, so the
//!   code after the call reads the value. What lives across the `setjmp` is in the record
//!   (it is an instrumented call), as C requires of a `setjmp` caller's non-volatile locals.

use xisa_format::abi::jump_buffer;

use super::llvm::{Builder, Context, Linkage, Module, Opcode, Value};
use super::shadow_stack::SSP;
use crate::error::{Result, ToolchainError};

/// The C library's names for `setjmp`; `sigsetjmp`'s signal mask is ignored (a unikernel's
/// signal mask is not part of its state).
pub const SETJMP_NAMES: [&str; 5] = ["setjmp", "_setjmp", "__setjmp", "sigsetjmp", "__sigsetjmp"];
/// The instrumented call that stands where a `setjmp` was; a `longjmp` resumes after it.
pub const SETJMP_POINT: &str = "__xisa_setjmp_point";
/// The runtime call a `longjmp` ends in (a hypercall natively, the import `xisa.longjmp`).
pub const LONGJMP: &str = "__xisa_longjmp";
/// The neutral counter activation tokens come from.
pub const SERIAL: &str = "__xisa_jmp_serial";

/// Calls to these lead to a point where the executor may take the frames.
pub fn is_runtime_stop(name: &str) -> bool {
    name == SETJMP_POINT || name == LONGJMP
}

/// A function whose `setjmp` calls were rewritten.
pub struct SetjmpCaller {
    pub function: Value,
    /// Its activation token; it must sit in the first word of the frame record.
    pub token: Value,
    /// Per `setjmp`: the `__xisa_setjmp_point()` call and the store of its call-site id, whose
    /// value is filled in once ids are assigned.
    pub sites: Vec<(Value, Value)>,
}

/// Creates the token counter before the neutral data is placed (executors never write it, but
/// a checkpoint carries it, so tokens stay unique after a restore).
pub fn create_serial(module: &mut Module) {
    let context = module.context();
    let serial = module.add_global(SERIAL, context.i64());
    serial.set_initializer(context.i64().const_int(1));
    serial.set_linkage(Linkage::LLVMExternalLinkage);
    serial.set_hidden();
    serial.set_alignment(8);
}

/// Rewrites every `setjmp` call of `module` (see the module documentation).
pub fn rewrite_setjmp_calls(module: &mut Module) -> Result<Vec<SetjmpCaller>> {
    let setjmps: Vec<Value> = SETJMP_NAMES
        .iter()
        .filter_map(|name| module.function(name))
        .collect();
    if setjmps.iter().all(|f| !f.has_uses()) {
        return Ok(Vec::new());
    }
    let context = module.context();
    let placed = |name: &str| {
        module
            .aliases()
            .into_iter()
            .find(|a| a.name() == name)
            .or_else(|| module.global(name))
            .ok_or_else(|| ToolchainError::Llvm(format!("`{name}` was not placed")))
    };
    let serial = placed(SERIAL)?;
    let ssp = placed(SSP)?;
    let void_fn = context.function_type(context.void(), &[], false);
    let point = module
        .function(SETJMP_POINT)
        .unwrap_or_else(|| module.add_function(SETJMP_POINT, void_fn));
    let builder = context.new_builder();
    let mut callers = Vec::new();
    for function in module.functions() {
        if function.is_declaration() {
            continue;
        }
        let calls: Vec<Value> = function
            .instructions()
            .into_iter()
            .filter(|i| i.is_call() && setjmps.contains(&i.called_value()))
            .collect();
        if calls.is_empty() {
            continue;
        }
        let token = take_token(context, &builder, function, serial)?;
        let sites = calls
            .into_iter()
            .map(|call| rewrite_call(context, &builder, call, token, ssp, point, void_fn))
            .collect();
        callers.push(SetjmpCaller {
            function,
            token,
            sites,
        });
    }
    // Anything left is an address taken of `setjmp`: it cannot return twice through a pointer.
    for setjmp in setjmps {
        if let Some(user) = setjmp.users().into_iter().find(|u| u.is_instruction()) {
            return Err(ToolchainError::Unsupported {
                items: vec![crate::error::Unsupported {
                    function: user.parent_function().name(),
                    file: None,
                    what: format!(
                        "`{}` is used other than by a direct call; call it by name",
                        setjmp.name()
                    ),
                }],
            });
        }
    }
    Ok(callers)
}

/// At entry, after the static allocas: `token = serial; serial = token + 1`.
fn take_token(
    context: &Context,
    builder: &Builder,
    function: Value,
    serial: Value,
) -> Result<Value> {
    let entry = function
        .entry_block()
        .ok_or_else(|| ToolchainError::Llvm(format!("`{}` has no body", function.name())))?;
    let first_code = entry
        .instructions()
        .into_iter()
        .find(|i| i.opcode() != Opcode::LLVMAlloca)
        .ok_or_else(|| ToolchainError::Llvm(format!("`{}`: empty entry", function.name())))?;
    builder.position_before(first_code);
    let i64t = context.i64();
    let token = builder.load(i64t, serial, "xisa.jmp.token");
    let next = builder.add(token, i64t.const_int(1), "xisa.jmp.next");
    builder.store(next, serial);
    Ok(token)
}

/// Replaces one `setjmp(buf)` call; returns the point call and the site-id store.
fn rewrite_call(
    context: &Context,
    builder: &Builder,
    call: Value,
    token: Value,
    ssp: Value,
    point: Value,
    void_fn: super::llvm::Type,
) -> (Value, Value) {
    let i64t = context.i64();
    let buffer = call.operand(0);
    builder.position_before(call);
    builder.set_debug_location_from(call);
    let word = |offset: u64| builder.byte_gep(context, buffer, i64t.const_int(offset), "jmp.word");
    builder.store(token, word(jump_buffer::TOKEN));
    let site_store = builder.store(i64t.const_int(0), word(jump_buffer::SITE));
    let shadow = builder.load(context.ptr(), ssp, "jmp.ssp");
    builder.store(shadow, word(jump_buffer::SHADOW_STACK));
    builder.store(i64t.const_int(0), word(jump_buffer::VALUE));
    let point_call = builder.call(void_fn, point, &[], "");
    // Volatile: after a longjmp the value is not the 0 stored above.
    let value = builder.load(call.type_of(), word(jump_buffer::VALUE), "setjmp.value");
    value.set_volatile(true);
    builder.clear_debug_location();
    call.replace_all_uses_with(value);
    call.erase();
    (point_call, site_store)
}
