//! Per-target code generation from the one neutral module: retarget, check layouts, define
//! the target's pieces (function-pointer resolver, exports or call table), emit an object and
//! link it at the neutral memory map.

pub mod elf;
pub mod statepoints;
pub mod unwind;
pub mod wasm;

use xisa_format::target::Target;

use crate::error::{Result, ToolchainError};
use crate::ir::llvm::{Context, DataLayout, Linkage, TargetMachine};
use crate::ir::regions::Region;
use crate::ir::{NeutralProgram, fnptr, layout, symbols};
use crate::sysroot::Sysroot;
use crate::target::{CodegenSettings, NEUTRAL_DATA_LAYOUT};

/// Export name of neutral function index `k` in the wasm64 program.
pub fn wasm_function_export(k: usize) -> String {
    format!("__xisa_fn.{k}")
}

/// Compiles the neutral program for `target` into a linked program (ELF executable or wasm
/// module).
pub fn generate(target: Target, program: &NeutralProgram, sysroot: &Sysroot) -> Result<Vec<u8>> {
    let object = compile(target, program)?;
    match target {
        Target::Wasm64 => wasm::link(&object, sysroot),
        Target::X86_64 | Target::Aarch64 => elf::link(target, &object, program, sysroot),
    }
}

fn compile(target: Target, program: &NeutralProgram) -> Result<Vec<u8>> {
    let context = Context::new();
    let mut module = context
        .parse_bitcode(&program.bitcode, "neutral")
        .map_err(ToolchainError::Llvm)?;
    let machine = TargetMachine::new(target.triple(), target.cpu(), target.features(), true)
        .map_err(ToolchainError::Llvm)?;
    module.set_triple(target.triple());
    module.set_data_layout(&machine.data_layout());
    let differences = layout::layout_differences(
        &module,
        &DataLayout::from_string(NEUTRAL_DATA_LAYOUT),
        &module.layout(),
    );
    if !differences.is_empty() {
        return Err(ToolchainError::Layout(format!(
            "memory layout differs on {target}:\n  {}",
            differences.join("\n  ")
        )));
    }
    for function in module.functions() {
        if function.is_declaration() {
            continue;
        }
        function.remove_string_attribute("target-cpu");
        function.remove_string_attribute("target-features");
        function.add_attribute(context.const_string_attribute("target-cpu", target.cpu()));
        if !target.features().is_empty() {
            function.add_attribute(
                context.const_string_attribute("target-features", target.features()),
            );
        }
        if target.is_native() {
            function.add_attribute(context.const_string_attribute("frame-pointer", "non-leaf"));
        }
    }
    for region in Region::ALL {
        if let Some(global) = module.global(region.symbol()) {
            global.set_section(region.section());
        }
    }
    match target {
        Target::Wasm64 => {
            fnptr::define_identity_resolver(&mut module);
            for (i, name) in program.functions.names.iter().enumerate() {
                let function = module.function(name).ok_or_else(|| {
                    ToolchainError::Llvm(format!(
                        "indexed function `{name}` is missing on {target}"
                    ))
                })?;
                function.set_linkage(Linkage::LLVMExternalLinkage);
                function.set_hidden();
                function.add_attribute(
                    context
                        .const_string_attribute("wasm-export-name", &wasm_function_export(i + 1)),
                );
            }
            if let Some(entry) = module.function(symbols::ENTRY) {
                entry.add_attribute(
                    context.const_string_attribute("wasm-export-name", symbols::ENTRY),
                );
            }
            for (name, import) in [
                ("__xisa_syscall", "syscall"),
                (crate::ir::migration::MIGRATE, "migrate"),
                (crate::ir::setjmp::LONGJMP, "longjmp"),
                (crate::ir::setjmp::SETJMP_POINT, "setjmp_point"),
            ] {
                if let Some(function) = module.function(name) {
                    function.add_attribute(
                        context.const_string_attribute("wasm-import-module", "xisa"),
                    );
                    function
                        .add_attribute(context.const_string_attribute("wasm-import-name", import));
                }
            }
            unwind::lower(&mut module)?;
        }
        Target::X86_64 | Target::Aarch64 => {
            statepoints::lower(&mut module, &program.functions)?;
            fnptr::define_table_resolver(&mut module, &program.functions, statepoints::thunk_name)?;
        }
    }
    module
        .run_passes("always-inline", &machine)
        .map_err(ToolchainError::Llvm)?;
    module
        .verify()
        .map_err(|e| ToolchainError::Llvm(format!("{target} IR is invalid: {e}")))?;
    machine
        .emit_object(&mut module)
        .map_err(ToolchainError::Llvm)
}
