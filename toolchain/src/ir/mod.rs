//! The whole-program IR pipeline: symbol resolution, variadic lowering, one optimisation run,
//! then neutralisation (function indices, shadow stack, neutral data regions).

pub mod byval;
pub mod cfg;
pub mod checks;
pub mod computed_goto;
pub mod entry;
pub mod fnptr;
pub mod lanes;
pub mod layout;
pub mod libcalls;
pub mod liveness;
pub mod llvm;
pub mod migration;
pub mod regions;
pub mod setjmp;
pub mod shadow_stack;
pub mod symbols;

use xisa_format::target::Target;

use crate::error::{Result, ToolchainError};
use crate::target::{CodegenSettings, NEUTRAL_DATA_LAYOUT, NEUTRAL_TRIPLE};
use llvm::{Module, TargetMachine};

/// Optimisation level of the single optimisation run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptLevel {
    O0,
    O1,
    O2,
    O3,
    Os,
    Oz,
}

impl OptLevel {
    fn pipeline(self) -> &'static str {
        match self {
            OptLevel::O0 => "default<O0>",
            OptLevel::O1 => "default<O1>",
            OptLevel::O2 => "default<O2>",
            OptLevel::O3 => "default<O3>",
            OptLevel::Os => "default<Os>",
            OptLevel::Oz => "default<Oz>",
        }
    }
}

/// What neutralisation decided, which every target's code generation and the image need.
pub struct NeutralProgram {
    pub bitcode: Vec<u8>,
    pub functions: fnptr::FunctionIndex,
    pub placement: regions::Placement,
    /// Instrumented call sites, in id order (empty for a non-migratable build).
    pub call_sites: Vec<migration::CallSite>,
}

/// The machine for variadic lowering, which must see the neutral (wasm) calling convention.
fn lowering_machine() -> Result<TargetMachine> {
    TargetMachine::new(
        NEUTRAL_TRIPLE,
        Target::Wasm64.cpu(),
        Target::Wasm64.features(),
        true,
    )
    .map_err(ToolchainError::Llvm)
}

/// The machine whose cost model drives the shared optimisation: the server ISA's, x86-64 at
/// baseline. Its vectors are 128 bits wide like NEON's and wasm's simd128, and the middle end
/// only asks it what is cheap, so the IR it produces stays target-neutral and every target
/// compiles it; the wasm cost model would cost native code 5-15 % on numeric loops (less
/// unrolling and interleaving).
pub fn optimisation_machine() -> Result<TargetMachine> {
    TargetMachine::new(
        Target::X86_64.triple(),
        Target::X86_64.cpu(),
        Target::X86_64.features(),
        true,
    )
    .map_err(ToolchainError::Llvm)
}

/// Before optimisation: the fixed entry point, constructor arrays and computed goto.
pub fn prepare(module: &mut Module) -> Result<()> {
    module.set_data_layout(NEUTRAL_DATA_LAYOUT);
    entry::normalise_main(module)?;
    entry::lower_constructors(module);
    if computed_goto::lower(module)? {
        // The replaced label addresses linger as dead constants that still name their
        // function; sweeping them keeps the function's uses exact for neutralisation.
        module
            .run_passes("globaldce", &optimisation_machine()?)
            .map_err(ToolchainError::Llvm)?;
        computed_goto::check_lowered(module)?;
    }
    Ok(())
}

/// Folds aliases, refuses undefined symbols and makes everything internal except the entry
/// point and the library functions code generation may call by name.
pub fn resolve_and_internalise(module: &mut Module) -> Result<()> {
    symbols::fold_aliases(module);
    symbols::resolve_undefined(module)?;
    symbols::internalise(module, libcalls::is_libcall);
    Ok(())
}

/// Variadic lowering, then the optimisation run whose result every target compiles.
pub fn optimise(module: &mut Module, opt: OptLevel, migratable: bool) -> Result<()> {
    // Code generation must not create values that live across an instrumented call outside
    // the frame record (ARCHITECTURE §5): machine LICM and CSE would keep hoisted constants
    // and addresses in spill slots, constant hoisting and loop strength reduction would add
    // new cross-call values after the record was built. Options are per process, and one
    // process links one program.
    const MIGRATABLE_CODEGEN: [&str; 5] = [
        "--disable-machine-licm",
        "--disable-postra-machine-licm",
        "--disable-machine-cse",
        "--disable-constant-hoisting",
        "--disable-lsr",
    ];
    let mut options = vec!["--expand-variadics-override=lowering"];
    if migratable {
        options.extend(MIGRATABLE_CODEGEN);
    }
    llvm::set_llvm_options(&options);
    // LLVM's variadic lowering knows the wasm calling convention only by the wasm32 triple;
    // it works on the wasm64 layout unchanged.
    module.set_triple("wasm32-unknown-unknown");
    let lowered = module.run_passes("expand-variadics", &lowering_machine()?);
    module.set_triple(NEUTRAL_TRIPLE);
    lowered.map_err(ToolchainError::Llvm)?;
    // Per-function CPU settings name wasm features the cost model's machine does not know;
    // code generation sets each target's own.
    for function in module.functions() {
        function.remove_string_attribute("target-cpu");
        function.remove_string_attribute("target-features");
    }
    module
        .run_passes(opt.pipeline(), &optimisation_machine()?)
        .map_err(ToolchainError::Llvm)
}

/// After optimisation: function indices, the shadow stack, the neutral data regions, then
/// migration points and frame records.
pub fn neutralise(
    module: &mut Module,
    points: migration::MigrationPoints,
) -> Result<NeutralProgram> {
    let functions = fnptr::neutralise_function_pointers(module)?;
    byval::make_copies_explicit(module);
    shadow_stack::move_allocas_to_shadow_stack(module);
    migration::create_countdown(module);
    setjmp::create_serial(module);
    let placement = regions::place_globals(module)?;
    if points != migration::MigrationPoints::None {
        lanes::hoist_lane_extracts(module);
    }
    let call_sites = migration::instrument(module, points, &functions.names)?;
    fnptr::keep_indexed_functions(module, &functions);
    module
        .verify()
        .map_err(|e| ToolchainError::Llvm(format!("neutralised IR is invalid: {e}")))?;
    Ok(NeutralProgram {
        bitcode: module.to_bitcode(),
        functions,
        placement,
        call_sites,
    })
}
