//! Control-flow facts about one function: block order, predecessors, dominators and natural
//! loops (the C API exposes none of these).

use std::collections::HashMap;

use super::llvm::{Block, Value};

pub struct Cfg {
    /// Blocks reachable from the entry, in reverse postorder.
    pub order: Vec<Block>,
    pub index: HashMap<Block, usize>,
    pub successors: Vec<Vec<usize>>,
    pub predecessors: Vec<Vec<usize>>,
    /// Immediate dominator of each block (the entry's is itself).
    pub idom: Vec<usize>,
}

/// A natural loop: its header, its latches (blocks with a back edge to the header) and body.
pub struct Loop {
    pub header: usize,
    pub latches: Vec<usize>,
    pub body: Vec<usize>,
    /// Index of the innermost loop that encloses this one.
    pub parent: Option<usize>,
    pub has_children: bool,
}

impl Cfg {
    pub fn new(function: Value) -> Cfg {
        let entry = function.entry_block().expect("function with a body");
        // Iterative DFS for postorder.
        let mut postorder = Vec::new();
        let mut visited = HashMap::new();
        let mut stack: Vec<(Block, usize)> = vec![(entry, 0)];
        visited.insert(entry, ());
        while let Some((block, next)) = stack.pop() {
            let successors = block.successors();
            if next < successors.len() {
                stack.push((block, next + 1));
                let successor = successors[next];
                if visited.insert(successor, ()).is_none() {
                    stack.push((successor, 0));
                }
            } else {
                postorder.push(block);
            }
        }
        let order: Vec<Block> = postorder.into_iter().rev().collect();
        let index: HashMap<Block, usize> = order.iter().enumerate().map(|(i, b)| (*b, i)).collect();
        let mut successors = vec![Vec::new(); order.len()];
        let mut predecessors = vec![Vec::new(); order.len()];
        for (i, block) in order.iter().enumerate() {
            for successor in block.successors() {
                let j = index[&successor];
                if !successors[i].contains(&j) {
                    successors[i].push(j);
                    predecessors[j].push(i);
                }
            }
        }
        let idom = dominators(&predecessors);
        Cfg {
            order,
            index,
            successors,
            predecessors,
            idom,
        }
    }

    /// Does block `a` dominate block `b`?
    pub fn dominates(&self, a: usize, mut b: usize) -> bool {
        loop {
            if a == b {
                return true;
            }
            if b == 0 {
                return false;
            }
            b = self.idom[b];
        }
    }

    /// Natural loops (one per header, back edges merged), with their nesting.
    pub fn loops(&self) -> Vec<Loop> {
        let mut by_header: HashMap<usize, Vec<usize>> = HashMap::new();
        for (from, successors) in self.successors.iter().enumerate() {
            for &to in successors {
                if self.dominates(to, from) {
                    by_header.entry(to).or_default().push(from);
                }
            }
        }
        let mut headers: Vec<usize> = by_header.keys().copied().collect();
        headers.sort_unstable();
        let mut loops: Vec<Loop> = headers
            .into_iter()
            .map(|header| {
                let latches = by_header[&header].clone();
                let mut body = vec![header];
                let mut work: Vec<usize> =
                    latches.iter().copied().filter(|l| *l != header).collect();
                while let Some(block) = work.pop() {
                    if body.contains(&block) {
                        continue;
                    }
                    body.push(block);
                    work.extend(self.predecessors[block].iter().copied());
                }
                body.sort_unstable();
                Loop {
                    header,
                    latches,
                    body,
                    parent: None,
                    has_children: false,
                }
            })
            .collect();
        // The parent of a loop is the smallest other loop whose body contains its header.
        for i in 0..loops.len() {
            let parent = (0..loops.len())
                .filter(|&j| j != i && loops[j].body.len() > loops[i].body.len())
                .filter(|&j| loops[j].body.binary_search(&loops[i].header).is_ok())
                .min_by_key(|&j| loops[j].body.len());
            loops[i].parent = parent;
        }
        for i in 0..loops.len() {
            if let Some(parent) = loops[i].parent {
                loops[parent].has_children = true;
            }
        }
        loops
    }
}

/// Cooper, Harvey and Kennedy's iterative dominator algorithm over reverse-postorder indices.
fn dominators(predecessors: &[Vec<usize>]) -> Vec<usize> {
    const UNDEFINED: usize = usize::MAX;
    let mut idom = vec![UNDEFINED; predecessors.len()];
    if idom.is_empty() {
        return idom;
    }
    idom[0] = 0;
    let intersect = |idom: &[usize], mut a: usize, mut b: usize| {
        while a != b {
            while a > b {
                a = idom[a];
            }
            while b > a {
                b = idom[b];
            }
        }
        a
    };
    let mut changed = true;
    while changed {
        changed = false;
        for block in 1..predecessors.len() {
            let mut new = UNDEFINED;
            for &p in &predecessors[block] {
                if idom[p] == UNDEFINED {
                    continue;
                }
                new = if new == UNDEFINED {
                    p
                } else {
                    intersect(&idom, p, new)
                };
            }
            if new != UNDEFINED && idom[block] != new {
                idom[block] = new;
                changed = true;
            }
        }
    }
    idom
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominators_of_a_diamond_with_a_loop() {
        // 0 -> 1, 2; 1 -> 3; 2 -> 3; 3 -> 4, 1 (back edge 3 -> 1 is not a natural loop edge
        // since 1 does not dominate 3); 4 -> 4 (self loop).
        let predecessors = vec![vec![], vec![0, 3], vec![0], vec![1, 2], vec![3, 4]];
        let idom = dominators(&predecessors);
        assert_eq!(idom, vec![0, 0, 0, 0, 3]);
    }
}
