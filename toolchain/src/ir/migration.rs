//! Migration points and frame records (ARCHITECTURE §5), on the shared IR after
//! neutralisation, so every target gets the same points and the same call-site ids.
//!
//! - A migration point decrements the neutral counter `__xisa_countdown` and calls
//!   `__xisa_migrate()` when it reaches zero. Points sit at app function entries and, by
//!   default, at latches of loops that contain calls and of outermost loops, never in an
//!   innermost call-free loop.
//! - Every call that can reach a migration point is instrumented: it gets a stable call-site
//!   id, and every value live across it is kept in the function's frame record (an
//!   `[N x i64]` alloca): stored when defined, reloaded at each use. After the call a memory
//!   barrier on the record makes code reload from it, so after an instrumented call returns the
//!   frame's whole state is the record, the call-site id and neutral memory.

use std::collections::{HashMap, HashSet};

use super::cfg::Cfg;
use super::liveness::Liveness;
use super::llvm::{self, Builder, Context, DataLayout, IntPredicate, Linkage, Module, Type, Value};
use super::setjmp::{self, SetjmpCaller};
use crate::error::{Result, ToolchainError};

/// The neutral countdown the migration points decrement; an executor sets it to N to stop at
/// the N-th point from now.
pub const COUNTDOWN: &str = "__xisa_countdown";
/// Runtime entry a migration point calls when the countdown reaches zero.
pub const MIGRATE: &str = "__xisa_migrate";
/// Call-site attribute holding the call-site id.
pub const CALL_SITE_ATTRIBUTE: &str = "xisa-callsite";
/// Call-site attribute of an instrumented indirect call: the record offset of the callee's
/// neutral function index.
pub const CALLEE_SLOT_ATTRIBUTE: &str = "xisa-callee-slot";
/// Function attribute holding the frame record size in bytes.
pub const RECORD_SIZE_ATTRIBUTE: &str = "xisa-record-size";
/// Function attribute marking functions that can reach a migration point.
pub const REACHES_ATTRIBUTE: &str = "xisa-reaches";
/// Where a reload can move: out of the outermost loop around a use that contains no
/// instrumented call, to the end of the one block entering that loop, when the value is
/// defined outside the loop.
/// Nothing crosses a call that way, and hot inner loops do not reload on every iteration.
struct ReloadHoisting<'a> {
    cfg: &'a Cfg,
    /// Per block: the call-free loops around it, outermost first, with their preheaders.
    regions: HashMap<llvm::Block, Vec<(HashSet<usize>, llvm::Block)>>,
}

impl<'a> ReloadHoisting<'a> {
    fn new(cfg: &'a Cfg, call_blocks: &HashSet<llvm::Block>) -> Self {
        let mut regions: HashMap<llvm::Block, Vec<(HashSet<usize>, llvm::Block)>> = HashMap::new();
        for l in cfg.loops() {
            if l.body.iter().any(|&b| call_blocks.contains(&cfg.order[b])) {
                continue;
            }
            let body: HashSet<usize> = l.body.iter().copied().collect();
            let outside: Vec<usize> = cfg.predecessors[l.header]
                .iter()
                .copied()
                .filter(|p| !body.contains(p))
                .collect();
            // The one block entering the loop. It may branch elsewhere too (a guard before an
            // unrolled loop): a reload at its end is still after every definition the loop
            // uses (they dominate the header, so they dominate it) and after its last call.
            let [preheader] = outside.as_slice() else {
                continue;
            };
            for &b in &l.body {
                regions
                    .entry(cfg.order[b])
                    .or_default()
                    .push((body.clone(), cfg.order[*preheader]));
            }
        }
        for loops in regions.values_mut() {
            loops.sort_by_key(|(body, _)| std::cmp::Reverse(body.len()));
        }
        ReloadHoisting { cfg, regions }
    }

    /// The block to reload `value` in for a use in `block`, if not the use itself.
    fn target(&self, block: llvm::Block, value: Value) -> Option<llvm::Block> {
        let defined_in = (!value.is_argument()).then(|| self.cfg.index[&value.parent_block()]);
        self.regions
            .get(&block)?
            .iter()
            .find_map(|(body, preheader)| {
                defined_in
                    .is_none_or(|d| !body.contains(&d))
                    .then_some(*preheader)
            })
    }
}

/// Function attribute marking code that is not the application's (libc, start-up).
pub const LIBRARY_ATTRIBUTE: &str = "xisa-library";
/// Name of the frame record alloca.
pub const RECORD_NAME: &str = "xisa.record";

/// Where migration points go (`-fmigration-points=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationPoints {
    None,
    Entry,
    Default,
    AllLoops,
}

impl std::str::FromStr for MigrationPoints {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text {
            "none" => Ok(MigrationPoints::None),
            "entry" => Ok(MigrationPoints::Entry),
            "default" => Ok(MigrationPoints::Default),
            "all-loops" => Ok(MigrationPoints::AllLoops),
            other => Err(format!(
                "unknown migration-point placement `{other}` (expected default, entry, none or all-loops)"
            )),
        }
    }
}

/// One instrumented call site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSite {
    pub id: u32,
    pub function: String,
    /// Size of the enclosing function's frame record in bytes.
    pub record_size: u32,
}

/// Creates the countdown before the neutral data is placed, so it gets a neutral address and
/// keeps its name (executors write it).
pub fn create_countdown(module: &mut Module) {
    let context = module.context();
    let countdown = module.add_global(COUNTDOWN, context.i64());
    countdown.set_initializer(context.i64().const_int(i64::MAX as u64));
    countdown.set_linkage(Linkage::LLVMExternalLinkage);
    countdown.set_hidden();
    countdown.set_alignment(8);
}

/// `indexed` names the functions whose address the program takes (they are called through
/// function-pointer indices, so their uses no longer show it).
pub fn instrument(
    module: &mut Module,
    mode: MigrationPoints,
    indexed: &[String],
) -> Result<Vec<CallSite>> {
    // setjmp/longjmp need call sites and records even in a program without migration points.
    let setjmp_callers = setjmp::rewrite_setjmp_calls(module)?;
    if mode == MigrationPoints::None
        && setjmp_callers.is_empty()
        && module.function(setjmp::LONGJMP).is_none()
    {
        return Ok(Vec::new());
    }
    let context = module.context();
    let countdown = module
        .aliases()
        .into_iter()
        .find(|a| a.name() == COUNTDOWN)
        .ok_or_else(|| ToolchainError::Llvm("the migration countdown was not placed".into()))?;
    let void_fn = context.function_type(context.void(), &[], false);
    let migrate = module
        .function(MIGRATE)
        .unwrap_or_else(|| module.add_function(MIGRATE, void_fn));
    let builder = context.new_builder();

    // 1. Migration points in the application's functions.
    for function in module.functions() {
        if mode == MigrationPoints::None
            || function.is_declaration()
            || function.string_attribute(LIBRARY_ATTRIBUTE).is_some()
            || function.name().starts_with("__xisa_")
        {
            continue;
        }
        insert_points(
            context, &builder, function, mode, countdown, migrate, void_fn,
        );
    }

    // 2. Which functions can reach a migration point.
    let functions: Vec<Value> = module
        .functions()
        .into_iter()
        .filter(|f| !f.is_declaration())
        .collect();
    let indexed: HashSet<&str> = indexed.iter().map(String::as_str).collect();
    let address_taken: Vec<Value> = functions
        .iter()
        .copied()
        .filter(|f| !f.only_called_directly() || indexed.contains(f.name().as_str()))
        .collect();
    let mut reaches: HashSet<Value> = HashSet::new();
    loop {
        let indirect_reaches = address_taken.iter().any(|f| reaches.contains(f));
        let mut changed = false;
        for &function in &functions {
            if reaches.contains(&function) {
                continue;
            }
            let hit = function.instructions().into_iter().any(|inst| {
                inst.is_call() && call_reaches(inst, migrate, &reaches, indirect_reaches)
            });
            if hit {
                reaches.insert(function);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let indirect_reaches = address_taken.iter().any(|f| reaches.contains(f));

    // 3. Frame records and call-site ids, function by function in module order.
    let layout = module.layout();
    let mut call_sites = Vec::new();
    let mut next_id = 1u32;
    for &function in &functions {
        if !reaches.contains(&function) {
            continue;
        }
        function.add_attribute(context.const_string_attribute(REACHES_ATTRIBUTE, ""));
        let calls: Vec<Value> = function
            .instructions()
            .into_iter()
            .filter(|i| i.is_call() && call_reaches(*i, migrate, &reaches, indirect_reaches))
            .collect();
        let token = setjmp_callers
            .iter()
            .find(|c| c.function == function)
            .map(|c| c.token);
        let record_size = build_record(context, &builder, &layout, function, &calls, token)?;
        for call in calls {
            call.add_call_site_attribute(
                context.const_string_attribute(CALL_SITE_ATTRIBUTE, &next_id.to_string()),
            );
            call_sites.push(CallSite {
                id: next_id,
                function: function.name(),
                record_size,
            });
            next_id += 1;
        }
    }
    record_setjmp_sites(context, &setjmp_callers)?;
    Ok(call_sites)
}

/// Each rewritten `setjmp` stores its own call-site id into the jump buffer.
fn record_setjmp_sites(context: &Context, callers: &[SetjmpCaller]) -> Result<()> {
    for caller in callers {
        for &(point, site_store) in &caller.sites {
            let id: u64 = point
                .call_site_string_attribute(CALL_SITE_ATTRIBUTE)
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| {
                    ToolchainError::Llvm(format!(
                        "a setjmp in `{}` got no call-site id",
                        caller.function.name()
                    ))
                })?;
            site_store.set_operand(0, context.i64().const_int(id));
        }
    }
    Ok(())
}

/// The neutral function index an indirect call resolves (the argument of its resolver call).
pub fn indirect_callee_index(call: Value) -> Option<Value> {
    let callee = call.called_value();
    (callee.is_instruction()
        && callee.is_call()
        && callee.called_value().is_function()
        && callee.called_value().name() == super::fnptr::RESOLVER)
        .then(|| callee.operand(0))
}

/// Does this call lead (possibly) to a migration point?
fn call_reaches(
    call: Value,
    migrate: Value,
    reaches: &HashSet<Value>,
    indirect_reaches: bool,
) -> bool {
    let callee = call.called_value();
    if callee == migrate {
        return true;
    }
    if callee.is_inline_asm() {
        return false;
    }
    if callee.is_function() {
        return reaches.contains(&callee) || setjmp::is_runtime_stop(&callee.name());
    }
    indirect_reaches
}

#[allow(clippy::too_many_arguments)]
fn insert_points(
    context: &Context,
    builder: &Builder,
    function: Value,
    mode: MigrationPoints,
    countdown: Value,
    migrate: Value,
    void_fn: Type,
) {
    let cfg = Cfg::new(function);
    let mut latches: Vec<Value> = Vec::new();
    if mode != MigrationPoints::Entry {
        let loops = cfg.loops();
        for l in &loops {
            let contains_call = l.body.iter().any(|&b| {
                cfg.order[b].instructions().into_iter().any(|i| {
                    i.is_call() && {
                        let callee = i.called_value();
                        !(callee.is_function() && callee.is_intrinsic())
                    }
                })
            });
            let outermost = l.parent.is_none();
            let innermost = !l.has_children;
            let wanted = match mode {
                MigrationPoints::AllLoops => true,
                _ => contains_call || (outermost && !innermost),
            };
            if wanted {
                for &latch in &l.latches {
                    if let Some(term) = cfg.order[latch].terminator()
                        && !latches.contains(&term)
                    {
                        latches.push(term);
                    }
                }
            }
        }
    }
    let entry_first = function
        .entry_block()
        .and_then(|b| b.first_instruction())
        .expect("function has a body");
    for at in std::iter::once(entry_first).chain(latches) {
        insert_poll(context, builder, at, countdown, migrate, void_fn);
    }
}

/// Before `at`: `if (--__xisa_countdown == 0) __xisa_migrate();`
fn insert_poll(
    context: &Context,
    builder: &Builder,
    at: Value,
    countdown: Value,
    migrate: Value,
    void_fn: Type,
) {
    let i64t = context.i64();
    builder.position_before(at);
    let count = builder.load(i64t, countdown, "countdown");
    let next = builder.sub(count, i64t.const_int(1), "countdown.next");
    builder.store(next, countdown);
    let hit = builder.icmp(
        IntPredicate::LLVMIntEQ,
        next,
        i64t.const_int(0),
        "migrate.now",
    );
    let head = at.parent_block();
    let cont = llvm::split_block_before(at, "poll.cont");
    let call_block = at.parent_function().append_block("poll.migrate");
    let branch = head
        .terminator()
        .expect("the split ends the block with a branch");
    builder.position_before(branch);
    builder.cond_br(hit, call_block, cont);
    branch.erase();
    builder.position_at_end(call_block);
    builder.call(void_fn, migrate, &[], "");
    builder.br(cont);
}

/// Keeps every value live across one of `calls` in a frame record; returns its size in bytes.
/// A setjmp caller's activation `token` takes the first word, live or not.
fn build_record(
    context: &Context,
    builder: &Builder,
    layout: &DataLayout,
    function: Value,
    calls: &[Value],
    token: Option<Value>,
) -> Result<u32> {
    let cfg = Cfg::new(function);
    let liveness = Liveness::new(function, &cfg);
    let mut kept: Vec<Value> = token.into_iter().collect();
    let mut seen: HashSet<Value> = kept.iter().copied().collect();
    for &call in calls {
        for value in liveness.live_across(&cfg, call) {
            if seen.insert(value) {
                kept.push(value);
            }
        }
        // An indirect callee must survive too: a rewind calls the same function again. The
        // record keeps its neutral index (the resolver's argument), never a code address.
        if let Some(index) = indirect_callee_index(call)
            && (index.is_instruction() || index.is_argument())
            && seen.insert(index)
        {
            kept.push(index);
        }
    }
    let mut offsets: HashMap<Value, u64> = HashMap::new();
    let mut size = 0u64;
    for &value in &kept {
        // Slots keep their type's alignment (at most the record's 16 bytes), so the backend's
        // aligned vector and binary128 moves stay legal.
        let align = layout.abi_align(value.type_of()).clamp(8, 16);
        size = size.next_multiple_of(align);
        offsets.insert(value, size);
        size += layout
            .alloc_size(value.type_of())
            .max(1)
            .next_multiple_of(8);
    }
    for &call in calls {
        if let Some(index) = indirect_callee_index(call)
            && let Some(offset) = offsets.get(&index)
        {
            call.add_call_site_attribute(
                context.const_string_attribute(CALLEE_SLOT_ATTRIBUTE, &offset.to_string()),
            );
        }
    }
    let words = size.div_ceil(8).max(1);
    if words * 8 > u64::from(u16::MAX) {
        return Err(ToolchainError::Layout(format!(
            "function `{}` keeps {} bytes live across calls; more than a frame record holds",
            function.name(),
            words * 8
        )));
    }
    let i64t = context.i64();
    let entry = function.entry_block().expect("function has a body");
    builder.position_before(entry.first_instruction().expect("entry has a terminator"));
    let record = builder.alloca(context.array(i64t, words), RECORD_NAME);
    record.set_alignment(16);
    let slot = |builder: &Builder, value: Value| {
        builder.byte_gep(context, record, i64t.const_int(offsets[&value]), "slot")
    };
    let call_blocks: HashSet<llvm::Block> = calls.iter().map(|c| c.parent_block()).collect();
    let hoisting = ReloadHoisting::new(&cfg, &call_blocks);
    let mut hoisted: HashMap<(Value, llvm::Block), Value> = HashMap::new();
    let mut stores = HashSet::new();
    for &value in &kept {
        let users = value.users();
        // Store when defined.
        let after = if value.is_argument() {
            record
                .next_instruction()
                .expect("alloca is followed by code")
        } else if value.is_phi() {
            value
                .parent_block()
                .first_non_phi()
                .expect("block has a terminator")
        } else {
            value
                .next_instruction()
                .expect("a value is not a terminator")
        };
        builder.position_before(after);
        let address = slot(builder, value);
        stores.insert(builder.store(value, address));
        // Reload at each use.
        let mut done = HashSet::new();
        for user in users {
            if !done.insert(user) || stores.contains(&user) || !user.is_instruction() {
                continue;
            }
            if user.is_phi() {
                // One reload per incoming block: a PHI may list a block more than once.
                let mut per_block: HashMap<llvm::Block, Value> = HashMap::new();
                for (i, (incoming, from)) in user.incoming().into_iter().enumerate() {
                    if incoming == value {
                        let at = hoisting.target(from, value).unwrap_or(from);
                        let reloaded = *per_block.entry(at).or_insert_with(|| {
                            *hoisted.entry((value, at)).or_insert_with(|| {
                                let term = at.terminator().expect("block has a terminator");
                                builder.position_before(term);
                                let address = slot(builder, value);
                                let reload = builder.load(value.type_of(), address, "reload");
                                reload.set_volatile(call_blocks.contains(&at));
                                reload
                            })
                        });
                        user.set_operand(i as u32, reloaded);
                    }
                }
            } else {
                let reloaded = match hoisting.target(user.parent_block(), value) {
                    // In a call-free loop the value cannot change: reload it once before.
                    Some(at) => *hoisted.entry((value, at)).or_insert_with(|| {
                        builder.position_before(at.terminator().expect("block has a terminator"));
                        let address = slot(builder, value);
                        let reload = builder.load(value.type_of(), address, "reload");
                        reload.set_volatile(call_blocks.contains(&at));
                        reload
                    }),
                    None => {
                        builder.position_before(user);
                        let address = slot(builder, value);
                        let reload = builder.load(value.type_of(), address, "reload");
                        // Volatile next to a call, so the back end cannot merge reloads into
                        // a load through a selected address it computes before the call (and
                        // keeps in a spill slot).
                        reload.set_volatile(call_blocks.contains(&user.parent_block()));
                        reload
                    }
                };
                for i in 0..user.num_operands() {
                    if user.operand(i) == value {
                        user.set_operand(i, reloaded);
                    }
                }
            }
        }
    }
    for &call in calls {
        call.set_tail_call(false);
        let next = call.next_instruction().expect("a call is not a terminator");
        builder.position_before(next);
        builder.memory_barrier(context, record);
    }
    let bytes = (words * 8) as u32;
    function
        .add_attribute(context.const_string_attribute(RECORD_SIZE_ATTRIBUTE, &bytes.to_string()));
    Ok(bytes)
}
