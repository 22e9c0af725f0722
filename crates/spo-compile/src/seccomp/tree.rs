//! The search tree over syscall-number ranges.
//!
//! A classic-BPF jump compares the accumulator with a constant, so a
//! section's ranges are found by a binary search tree of `jge` nodes. The
//! tree is shaped by dynamic programming to minimise the *expected* number of
//! instructions executed, each range weighted by how many syscall numbers
//! of the architecture's table it covers: a long run of allowed syscalls
//! sits near the root, an isolated denied one deeper. This is the optimal
//! alphabetic tree problem; Knuth's bound on the root position keeps it
//! quadratic. One more shape is considered for short stretches: when every
//! range but one leaf's is a single syscall, a chain of `jeq` tests isolates
//! those numbers in one comparison each, which a `jge` tree needs two for.

use super::plan::{Leaf, Range};

/// A decision over a section's ranges (indices into its range list).
#[derive(Debug)]
pub(crate) enum Node {
    /// One range.
    Leaf(usize),
    /// `jge at`: ranges from `at` up in `hi`, the others in `lo`.
    Split { at: u32, lo: Box<Node>, hi: Box<Node> },
    /// `jeq` each of `singles` (single-number ranges), else `base`'s leaf.
    Chain { base: usize, singles: Vec<usize> },
}

/// Longest stretch considered for a `jeq` chain.
const CHAIN_SPAN: usize = 7;
/// Most `jeq` tests in a chain.
const CHAIN_TESTS: usize = 3;

/// Estimated instructions a leaf executes.
fn leaf_cost(r: &Range) -> u64 {
    match &r.leaf {
        Leaf::Ret(_) => 1,
        Leaf::Check(_) => 4,
    }
}

#[derive(Clone, Copy)]
enum Choice {
    Leaf,
    Split(usize),
    Chain,
}

/// Shape the tree for `ranges` (sorted, covering the number space).
pub(crate) fn build(ranges: &[Range]) -> Node {
    let n = ranges.len();
    if n <= 1 {
        return Node::Leaf(0);
    }
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0u64);
    for r in ranges {
        prefix.push(prefix.last().copied().unwrap_or(0) + r.weight);
    }
    let w = |i: usize, j: usize| prefix[j + 1] - prefix[i];
    let at = |i: usize, j: usize| i * n + j;
    let mut cost = vec![0u64; n * n];
    let mut root = vec![0usize; n * n];
    let mut choice = vec![Choice::Leaf; n * n];
    for (i, r) in ranges.iter().enumerate() {
        cost[at(i, i)] = r.weight * leaf_cost(r);
        root[at(i, i)] = i;
    }
    for len in 2..=n {
        for i in 0..=n - len {
            let j = i + len - 1;
            let (lo_k, hi_k) = if len == 2 {
                (i, i)
            } else {
                (root[at(i, j - 1)].max(i), root[at(i + 1, j)].min(j - 1))
            };
            let (lo_k, hi_k) = if lo_k <= hi_k { (lo_k, hi_k) } else { (i, j - 1) };
            let mut best = u64::MAX;
            let mut best_k = lo_k;
            for k in lo_k..=hi_k {
                let c = cost[at(i, k)] + cost[at(k + 1, j)];
                if c < best {
                    best = c;
                    best_k = k;
                }
            }
            let split = best + w(i, j);
            root[at(i, j)] = best_k;
            cost[at(i, j)] = split;
            choice[at(i, j)] = Choice::Split(best_k);
            if len <= CHAIN_SPAN {
                if let Some(c) = chain_cost(&ranges[i..=j]) {
                    if c < split {
                        cost[at(i, j)] = c;
                        choice[at(i, j)] = Choice::Chain;
                    }
                }
            }
        }
    }
    assemble(ranges, &choice, n, 0, n - 1)
}

/// The leaf most of `rs`'s weight reaches, and the single-number ranges
/// with another leaf, when those are all there is besides it.
fn chain_parts(rs: &[Range]) -> Option<(usize, Vec<usize>)> {
    let mut base = 0;
    let mut base_weight = 0;
    for (i, r) in rs.iter().enumerate() {
        let total: u64 = rs.iter().filter(|x| x.leaf == r.leaf).map(|x| x.weight).sum();
        if i == 0 || total > base_weight {
            base = i;
            base_weight = total;
        }
    }
    let mut singles: Vec<usize> = Vec::new();
    for (i, r) in rs.iter().enumerate() {
        if r.leaf != rs[base].leaf {
            if r.lo != r.hi || singles.len() == CHAIN_TESTS {
                return None;
            }
            singles.push(i);
        }
    }
    // Heaviest first: every test costs one instruction to all that reach it.
    singles.sort_by(|&a, &b| (rs[b].weight * leaf_cost(&rs[b])).cmp(&(rs[a].weight * leaf_cost(&rs[a]))));
    Some((base, singles))
}

fn chain_cost(rs: &[Range]) -> Option<u64> {
    let (base, singles) = chain_parts(rs)?;
    let mut remaining: u64 = rs.iter().map(|r| r.weight).sum();
    let mut cost = 0;
    for s in singles {
        cost += remaining + rs[s].weight * leaf_cost(&rs[s]);
        remaining -= rs[s].weight;
    }
    Some(cost + remaining * leaf_cost(&rs[base]))
}

fn assemble(ranges: &[Range], choice: &[Choice], n: usize, i: usize, j: usize) -> Node {
    if i == j {
        return Node::Leaf(i);
    }
    match choice[i * n + j] {
        Choice::Leaf => Node::Leaf(i),
        Choice::Split(k) => Node::Split {
            at: ranges[k + 1].lo,
            lo: Box::new(assemble(ranges, choice, n, i, k)),
            hi: Box::new(assemble(ranges, choice, n, k + 1, j)),
        },
        Choice::Chain => match chain_parts(&ranges[i..=j]) {
            Some((base, singles)) => Node::Chain { base: base + i, singles: singles.into_iter().map(|s| s + i).collect() },
            None => Node::Leaf(i),
        },
    }
}
