//! Program entry: a fixed-signature `__xisa_main`, and the constructor and destructor arrays
//! that musl walks through `__init_array_start`..`__init_array_end` (and the fini pair).

use super::llvm::{Context, Linkage, Module, Value};
use crate::error::{Result, ToolchainError};

/// Name of the normalised main that the runtime's start-up code calls.
pub const MAIN: &str = "__xisa_main";

/// Creates `int __xisa_main(int, char **, char **)` calling the program's `main`, whatever
/// parameters it declares (clang names a two-argument main `__main_argc_argv` on wasm).
pub fn normalise_main(module: &mut Module) -> Result<()> {
    let context = module.context();
    let main = ["__main_argc_argv", "main"]
        .into_iter()
        .filter_map(|name| module.function(name))
        .find(|f| !f.is_declaration())
        .ok_or_else(|| ToolchainError::Undefined {
            symbols: vec![("main".into(), "the program start-up code".into())],
        })?;
    // Kept out of line so debuggers find `main` in every native program.
    main.add_attribute(context.enum_attribute("noinline", 0));
    let main_type = main.value_type();
    let (i32t, ptrt) = (context.i32(), context.ptr());
    let wrapper_type = context.function_type(i32t, &[i32t, ptrt, ptrt], false);
    let wrapper = match module.function(MAIN) {
        Some(existing) => existing,
        None => module.add_function(MAIN, wrapper_type),
    };
    let block = wrapper.append_block("entry");
    let builder = context.new_builder();
    builder.position_at_end(block);
    let params = wrapper.params();
    let wanted = main_type.param_types();
    let args: Vec<Value> = wanted
        .iter()
        .zip(params.iter())
        .map(|(ty, value)| {
            if *ty == value.type_of() {
                *value
            } else {
                builder.int_cast(*value, *ty, "arg")
            }
        })
        .collect();
    let result = builder.call(main_type, main, &args, "status");
    let ret_type = main_type.return_type();
    let status = match ret_type.kind() {
        super::llvm::TypeKind::LLVMIntegerTypeKind if ret_type == i32t => result,
        super::llvm::TypeKind::LLVMIntegerTypeKind => builder.int_cast(result, i32t, "status"),
        _ => i32t.const_int(0),
    };
    builder.ret(Some(status));
    wrapper.set_linkage(Linkage::LLVMExternalLinkage);
    Ok(())
}

/// Turns `llvm.global_ctors`/`llvm.global_dtors` into arrays of function pointers delimited by
/// musl's `__init_array_*` / `__fini_array_*` symbols, ordered by priority.
pub fn lower_constructors(module: &mut Module) {
    lower_list(
        module,
        "llvm.global_ctors",
        "__init_array_start",
        "__init_array_end",
        "__xisa_init_array",
    );
    lower_list(
        module,
        "llvm.global_dtors",
        "__fini_array_start",
        "__fini_array_end",
        "__xisa_fini_array",
    );
}

fn lower_list(module: &mut Module, list: &str, start: &str, end: &str, array_name: &str) {
    let context: &Context = module.context();
    let mut entries: Vec<(u64, usize, Value)> = Vec::new();
    if let Some(global) = module.global(list) {
        if let Some(init) = global.initializer() {
            for (order, entry) in init.operands().into_iter().enumerate() {
                let priority = entry.operand(0);
                let function = entry.operand(1);
                if function.is_null_value() {
                    continue;
                }
                let priority = if priority.is_constant_int() {
                    priority.const_int_value()
                } else {
                    65535
                };
                entries.push((priority, order, function));
            }
        }
        global.delete_global();
    }
    entries.sort_by_key(|(priority, order, _)| (*priority, *order));
    let functions: Vec<Value> = entries.into_iter().map(|(_, _, f)| f).collect();
    let ptrt = context.ptr();
    let array_type = context.array(ptrt, functions.len() as u64);
    let array = module.add_global(array_name, array_type);
    array.set_initializer(ptrt.const_array(&functions));
    array.set_global_constant(true);
    array.set_linkage(Linkage::LLVMInternalLinkage);
    array.set_alignment(8);
    let bounds = [(start, 0u64), (end, 8 * functions.len() as u64)];
    for (name, offset) in bounds {
        if let Some(symbol) = module.global(name) {
            symbol.replace_all_uses_with(array.const_byte_offset(context, offset));
            symbol.delete_global();
        }
    }
}
