//! Seccomp filters to classic BPF.
//!
//! The program has three layers:
//! 1. `ld [arch]` and one `jeq` per audit architecture token, native first;
//!    any other token returns the bad-architecture action;
//! 2. per token, `ld [nr]` and a search tree over syscall-number ranges that
//!    share a verdict (`tree.rs`), weighted by how many syscall numbers each
//!    range covers so that frequent verdicts sit near the root;
//! 3. at the leaves, a `ret`, or for syscalls with argument conditions a
//!    chain of 64-bit comparisons (`args.rs`).
//!
//! Verdicts that need no argument are decided from `arch` and `nr` alone,
//! which lets the kernel's action cache skip the filter for them. Rules are
//! combined as [`Filter::evaluate`] defines; the interpreter in
//! [`crate::bpf::interp`] checks every compiled program against it in the
//! tests. The output is deterministic: the same filter always gives the same
//! instructions.

mod args;
mod emit;
mod plan;
mod tree;
mod verify;

use spo_model::seccomp::Filter;
use spo_model::Arch;

use crate::bpf::{data, op, Insn, BPF_MAXINSNS};
use crate::CompileError;
use emit::{Emitter, Target};
use plan::{Leaf, Range, Section};
use tree::Node;
pub use verify::{abi_of, verify};

/// Instructions a search tree and its leaf should execute at most (the
/// arch check and the `nr` load add three): a bound the tree shaping aims
/// for, not a guarantee.
const MAX_TREE_COST: u64 = 11;

/// Compiler options.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Compile for these architectures instead of the filter's own list
    /// (the first is the one the search trees favour).
    pub arches: Option<Vec<Arch>>,
    /// Shape the native search tree for how often syscalls are called
    /// (`read`, `write`, `futex`, ... sit shallow) rather than for every
    /// number alike. Off by default: the uniform mean is what the figures
    /// compare with libseccomp.
    pub frequency: bool,
}

/// Compile `filter` for its architectures.
pub fn compile(filter: &Filter) -> Result<Vec<Insn>, CompileError> {
    compile_with(filter, &Options::default())
}

/// Compile `filter` with `opts`.
pub fn compile_with(filter: &Filter, opts: &Options) -> Result<Vec<Insn>, CompileError> {
    let arches = opts.arches.as_deref().unwrap_or(&filter.arches);
    let mut dedup: Vec<Arch> = Vec::with_capacity(arches.len());
    for a in arches {
        if !dedup.contains(a) {
            dedup.push(*a);
        }
    }
    let sections = plan::sections(filter, &dedup, opts.frequency)?;
    let mut e = Emitter::default();
    let mut entries = Vec::with_capacity(sections.len());
    for s in sections.iter().rev() {
        entries.push((s.token, emit_section(&mut e, s)));
    }
    let mut next = Target::Ret(filter.bad_arch_action.to_ret());
    for (token, entry) in entries {
        next = e.jump(op::JEQ_K, token, entry, next);
    }
    let entry = e.load_jump_entry(data::ARCH, next);
    let prog = e.finish(entry);
    if prog.len() > BPF_MAXINSNS {
        return Err(CompileError::TooLong { len: prog.len(), max: BPF_MAXINSNS });
    }
    Ok(prog)
}

fn emit_section(e: &mut Emitter, s: &Section) -> Target {
    let root = tree::build(&s.ranges, MAX_TREE_COST);
    let t = emit_node(e, &s.ranges, &root);
    e.load_jump_entry(data::NR, t)
}

fn emit_leaf(e: &mut Emitter, r: &Range) -> Target {
    match &r.leaf {
        Leaf::Ret(v) => Target::Ret(*v),
        Leaf::Check(c) => args::emit_check(e, c),
    }
}

fn emit_node(e: &mut Emitter, ranges: &[Range], node: &Node) -> Target {
    match node {
        Node::Leaf(i) => emit_leaf(e, &ranges[*i]),
        Node::Split { at, lo, hi } => {
            let hi = emit_node(e, ranges, hi);
            let lo = emit_node(e, ranges, lo);
            e.jump(op::JGE_K, *at, hi, lo)
        }
        Node::Chain { base, singles } => {
            let mut next = emit_leaf(e, &ranges[*base]);
            for &s in singles.iter().rev() {
                let t = emit_leaf(e, &ranges[s]);
                next = e.jump(op::JEQ_K, ranges[s].lo, t, next);
            }
            next
        }
    }
}
