//! Lane extracts next to their vector, for migratable builds.
//!
//! Code generation of a migratable program runs without machine CSE (spec §2.1), and the
//! instruction selector merges identical nodes only within one block. When a vector defined
//! in one block has a lane extracted in another (typically the loop-carried scalar of an
//! SLP-vectorised loop, taken in the latch), the whole vector stays live until the extract,
//! across any call in between (spilled and reloaded there), and the lane is extracted twice
//! when the defining block takes it apart anyway (a vector conversion the target
//! scalarises). Moving the extract next to the definition lets the selector merge the two
//! and carries one scalar instead of the vector: what machine CSE does for an ordinary build.
//!
//! Runs on the optimised IR before frame records are built, so an extract that now lives
//! across an instrumented call is kept in the record like any other value.

use super::cfg::{Cfg, Loop};
use super::llvm::{self, Module, Opcode, Value};

/// For each vector whose only uses outside its own block are extracts of one constant lane,
/// none of them in a loop the definition is not in, moves those extracts to just after the
/// definition. Returns how many moved.
pub fn hoist_lane_extracts(module: &mut Module) -> usize {
    let mut moved = 0;
    for function in module.functions() {
        if function.is_declaration() {
            continue;
        }
        let mut vectors: Vec<Value> = Vec::new();
        for inst in function.instructions() {
            if !llvm::is_opcode(inst, Opcode::LLVMExtractElement) {
                continue;
            }
            let vector = inst.operand(0);
            if vector.is_instruction()
                && vector.parent_block() != inst.parent_block()
                && !vectors.contains(&vector)
            {
                vectors.push(vector);
            }
        }
        let mut cfg: Option<(Cfg, Vec<Loop>)> = None;
        for vector in vectors {
            let home = vector.parent_block();
            let mut outside: Vec<Value> = Vec::new();
            for user in vector.users() {
                if user.parent_block() != home && !outside.contains(&user) {
                    outside.push(user);
                }
            }
            let lane = |u: &Value| {
                (llvm::is_opcode(*u, Opcode::LLVMExtractElement)
                    && u.operand(0) == vector
                    && u.operand(1).is_constant_int())
                .then(|| u.operand(1).const_int_value())
            };
            let Some(Some(first)) = outside.first().map(lane) else {
                continue;
            };
            if !outside.iter().all(|u| lane(u) == Some(first)) {
                continue;
            }
            // Never into a loop: every loop around the definition must hold the extracts.
            let cfg = cfg.get_or_insert_with(|| {
                let cfg = Cfg::new(function);
                let loops = cfg.loops();
                (cfg, loops)
            });
            let (cfg, loops) = (&cfg.0, &cfg.1);
            let Some(&home_index) = cfg.index.get(&home) else {
                continue;
            };
            let inside_same_loops = |u: &Value| {
                cfg.index.get(&u.parent_block()).is_some_and(|&b| {
                    loops.iter().all(|l| {
                        l.body.binary_search(&home_index).is_err()
                            || l.body.binary_search(&b).is_ok()
                    })
                })
            };
            if !outside.iter().all(inside_same_loops) {
                continue;
            }
            // Just after the definition (after the PHI nodes for a PHI); a vector-valued
            // terminator has no place in its block.
            let at = if vector.is_phi() {
                home.first_non_phi()
            } else if vector.is_terminator() {
                None
            } else {
                vector.next_instruction()
            };
            let Some(at) = at else {
                continue;
            };
            for extract in outside {
                extract.move_before(at);
                moved += 1;
            }
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::llvm::Context;

    // The shape of an SLP-vectorised generator loop: the next state is lane 0 of a vector the
    // header converts, taken in the latch; and after the loop, one lane of a vector defined in
    // it (which must stay where it is).
    const LOOP: &str = r#"
target datalayout = "e-m:e-p:64:64-p10:8:8-p20:8:8-i64:64-i128:128-n32:64-S128-ni:1:10:20"
target triple = "wasm64-unknown-unknown"

declare double @log(double)

define double @run(i64 %seed, i64 %n) {
entry:
  br label %header
header:
  %x = phi i64 [ %seed, %entry ], [ %next, %latch ]
  %i = phi i64 [ 0, %entry ], [ %i.next, %latch ]
  %sum = phi double [ 0.0, %entry ], [ %sum.next, %latch ]
  %splat.0 = insertelement <2 x i64> poison, i64 %x, i64 0
  %splat = shufflevector <2 x i64> %splat.0, <2 x i64> poison, <2 x i32> zeroinitializer
  %mul = mul <2 x i64> %splat, <i64 3, i64 5>
  %v = and <2 x i64> %mul, <i64 1023, i64 1023>
  %f = uitofp <2 x i64> %v to <2 x double>
  %u = extractelement <2 x double> %f, i64 1
  %ok = fcmp olt double %u, 512.0
  br i1 %ok, label %slow, label %latch
slow:
  %l = call double @log(double %u)
  br label %latch
latch:
  %add = phi double [ %l, %slow ], [ 0.0, %header ]
  %sum.next = fadd double %sum, %add
  %next = extractelement <2 x i64> %v, i64 0
  %i.next = add i64 %i, 1
  %done = icmp eq i64 %i.next, %n
  br i1 %done, label %exit, label %header
exit:
  %last = extractelement <2 x double> %f, i64 0
  %r = fadd double %sum.next, %last
  ret double %r
}
"#;

    #[test]
    fn latch_extract_moves_next_to_its_vector_and_exit_extract_stays() {
        let context = Context::new();
        let mut module = context.parse_ir(LOOP, "loop.ll").expect("test IR parses");
        assert_eq!(hoist_lane_extracts(&mut module), 1);
        module.verify().unwrap();
        // %next now follows %v in the header, before %f; %last (the loop %f is in does not
        // hold the exit block) stays in the exit block.
        let text = module.to_text();
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle}: {text}"))
        };
        assert!(at("%v = and") < at("%next = extractelement"), "{text}");
        assert!(at("%next = extractelement") < at("%f = uitofp"), "{text}");
        assert!(at("exit:") < at("%last = extractelement"), "{text}");
    }
}
