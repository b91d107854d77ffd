//! Library functions that code generation or the optimiser may call by name although the
//! source never did: `memcpy` for block copies, `floor` where a target lacks the instruction,
//! `puts` for a simplified `printf`. They must be linked, keep their names and C signatures,
//! and survive dead-code elimination until every target has been generated.

use super::llvm::{Module, Value};

/// Always linked: every target may turn copies and fills into these calls, and the
/// stack-protector entry points are referenced by the wasm64 compiler runtime.
pub const ALWAYS: [&str; 5] = ["memcpy", "memmove", "memset", "memcmp", "__stack_chk_fail"];

/// Data symbols that code generation or runtime libraries refer to by name.
pub const DATA: [&str; 1] = ["__stack_chk_guard"];

/// Math intrinsic families a target may lower to a libm call of the same name.
const MATH_FAMILIES: [&str; 34] = [
    "floor",
    "ceil",
    "trunc",
    "round",
    "rint",
    "nearbyint",
    "roundeven",
    "fma",
    "pow",
    "exp",
    "exp2",
    "exp10",
    "log",
    "log2",
    "log10",
    "sin",
    "cos",
    "tan",
    "ldexp",
    "frexp",
    "sqrt",
    "fabs",
    "copysign",
    "lround",
    "llround",
    "lrint",
    "llrint",
    "fmod",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "tanh",
];

/// Names of the library functions the intrinsics in `module` may become.
pub fn codegen_libcalls(module: &Module) -> Vec<String> {
    let mut names: Vec<String> = ALWAYS.iter().map(|s| s.to_string()).collect();
    for function in module.functions() {
        if !function.is_intrinsic() || !function.has_uses() {
            continue;
        }
        let name = function.name();
        let Some(rest) = name.strip_prefix("llvm.") else {
            continue;
        };
        let mut parts = rest.split('.');
        let family = parts.next().unwrap_or_default();
        let family = if family == "minnum" {
            "fmin"
        } else if family == "maxnum" {
            "fmax"
        } else if MATH_FAMILIES.contains(&family) {
            family
        } else {
            continue;
        };
        // The last overload suffix names the floating-point type (vectors included).
        let suffix = match name.rsplit('.').next().unwrap_or_default() {
            s if s.ends_with("f32") => "f",
            s if s.ends_with("f128") => "l",
            _ => "",
        };
        names.push(format!("{family}{suffix}"));
    }
    // `frem` has no instruction on any target: it becomes a call to fmod.
    for function in module.functions() {
        for inst in function.instructions() {
            if inst.opcode() == super::llvm::Opcode::LLVMFRem {
                let ty = inst.type_of();
                let scalar = if ty.kind() == super::llvm::TypeKind::LLVMVectorTypeKind {
                    ty.element()
                } else {
                    ty
                };
                names.push(
                    match scalar.kind() {
                        super::llvm::TypeKind::LLVMFloatTypeKind => "fmodf",
                        super::llvm::TypeKind::LLVMFP128TypeKind => "fmodl",
                        _ => "fmod",
                    }
                    .to_string(),
                );
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Library functions the optimiser introduced as new declarations (e.g. `puts`).
pub fn new_declarations(module: &Module, runtime: fn(&str) -> bool) -> Vec<String> {
    let mut names: Vec<String> = module
        .functions()
        .into_iter()
        .chain(module.globals())
        .filter(|v| v.is_declaration() && !v.is_intrinsic() && v.has_uses())
        .map(Value::name)
        .filter(|n| !runtime(n))
        .collect();
    names.sort();
    names
}

/// Functions (of `names`) defined in the module.
pub fn defined(module: &Module, names: &[String]) -> Vec<Value> {
    names
        .iter()
        .filter_map(|n| module.function(n))
        .filter(|f| !f.is_declaration())
        .collect()
}

/// Is `name` a function or datum code generation may refer to by name?
pub fn is_libcall(name: &str) -> bool {
    if DATA.contains(&name) {
        return true;
    }
    if ALWAYS.contains(&name)
        || name == "fmin"
        || name == "fmax"
        || name == "fminf"
        || name == "fmaxf"
    {
        return true;
    }
    let base = name
        .strip_suffix('f')
        .or_else(|| name.strip_suffix('l'))
        .unwrap_or(name);
    MATH_FAMILIES.contains(&name) || MATH_FAMILIES.contains(&base)
}
