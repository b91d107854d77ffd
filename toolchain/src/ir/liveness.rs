//! Which SSA values are live across a given call: defined before it and used after it.

use std::collections::HashMap;

use super::cfg::Cfg;
use super::llvm::{TypeKind, Value};

/// A set of value numbers.
#[derive(Clone, PartialEq, Eq)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(size: usize) -> Bits {
        Bits(vec![0; size.div_ceil(64)])
    }
    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn remove(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn union(&mut self, other: &Bits) -> bool {
        let mut changed = false;
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            let new = *a | *b;
            changed |= new != *a;
            *a = new;
        }
        changed
    }
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, word)| {
            (0..64)
                .filter(move |b| word & (1 << b) != 0)
                .map(move |b| w * 64 + b)
        })
    }
}

/// Liveness of one function's SSA values.
pub struct Liveness {
    values: Vec<Value>,
    number: HashMap<Value, usize>,
    live_out: Vec<Bits>,
}

/// Values that can be kept in a register: what liveness tracks.
fn is_tracked(value: Value) -> bool {
    !matches!(
        value.type_of().kind(),
        TypeKind::LLVMVoidTypeKind
            | TypeKind::LLVMLabelTypeKind
            | TypeKind::LLVMMetadataTypeKind
            | TypeKind::LLVMTokenTypeKind
    )
}

impl Liveness {
    pub fn new(function: Value, cfg: &Cfg) -> Liveness {
        let mut values = Vec::new();
        let mut number = HashMap::new();
        for argument in function.params() {
            number.insert(argument, values.len());
            values.push(argument);
        }
        for block in &cfg.order {
            for inst in block.instructions() {
                if is_tracked(inst) {
                    number.insert(inst, values.len());
                    values.push(inst);
                }
            }
        }
        let size = values.len();
        let blocks = cfg.order.len();
        // Upward-exposed uses and definitions per block; PHI operands count as uses at the end
        // of the incoming block.
        let mut uses = vec![Bits::new(size); blocks];
        let mut defs = vec![Bits::new(size); blocks];
        let mut phi_uses = vec![Bits::new(size); blocks];
        for (b, block) in cfg.order.iter().enumerate() {
            for inst in block.instructions() {
                if inst.is_phi() {
                    for (value, from) in inst.incoming() {
                        if let (Some(&v), Some(&p)) = (number.get(&value), cfg.index.get(&from)) {
                            phi_uses[p].insert(v);
                        }
                    }
                } else {
                    for operand in inst.operands() {
                        if let Some(&v) = number.get(&operand)
                            && !defs[b].contains(v)
                        {
                            uses[b].insert(v);
                        }
                    }
                }
                if let Some(&v) = number.get(&inst) {
                    defs[b].insert(v);
                }
            }
        }
        let mut live_in = vec![Bits::new(size); blocks];
        let mut live_out = vec![Bits::new(size); blocks];
        let mut changed = true;
        while changed {
            changed = false;
            for b in (0..blocks).rev() {
                let mut out = phi_uses[b].clone();
                for &s in &cfg.successors[b] {
                    out.union(&live_in[s]);
                }
                let mut input = out.clone();
                for v in defs[b].iter().collect::<Vec<_>>() {
                    input.remove(v);
                }
                input.union(&uses[b]);
                if input != live_in[b] {
                    live_in[b] = input;
                    changed = true;
                }
                if out != live_out[b] {
                    live_out[b] = out;
                    changed = true;
                }
            }
        }
        Liveness {
            values,
            number,
            live_out,
        }
    }

    /// Values live across `call`: live right after it, other than the call's own result.
    pub fn live_across(&self, cfg: &Cfg, call: Value) -> Vec<Value> {
        let block = call.parent_block();
        let Some(&b) = cfg.index.get(&block) else {
            return Vec::new();
        };
        let mut live = self.live_out[b].clone();
        for inst in block.instructions().into_iter().rev() {
            if inst == call {
                break;
            }
            if let Some(&v) = self.number.get(&inst) {
                live.remove(v);
            }
            for operand in inst.operands() {
                if let Some(&v) = self.number.get(&operand) {
                    live.insert(v);
                }
            }
        }
        if let Some(&v) = self.number.get(&call) {
            live.remove(v);
        }
        live.iter().map(|v| self.values[v]).collect()
    }
}
