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

/// Estimated instructions a leaf executes: a `ret`, or an argument check
/// up to its first rule's verdict.
fn leaf_cost(r: &Range) -> u64 {
    match &r.leaf {
        Leaf::Ret(_) => 1,
        Leaf::Check(c) => {
            let per_cond = if c.bits == 64 { 4 } else { 2 };
            1 + per_cond * c.rules.first().map_or(0, |r| r.0.len() as u64)
        }
    }
}

#[derive(Clone, Copy)]
enum Choice {
    Leaf,
    Split(usize),
    Chain,
}

/// Rounds of re-weighting to bring the deepest leaves within the bound.
const ROUNDS: usize = 8;

/// Shape the tree for `ranges` (sorted, covering the number space),
/// trying to keep every leaf within `max_cost` instructions (tests plus the
/// leaf's own): the optimal tree for the weights first, then, while some
/// leaf is too deep, the same with those leaves made heavier.
pub(crate) fn build(ranges: &[Range], max_cost: u64) -> Node {
    // Ranges with equal leaves share a class, so stretches compare cheaply.
    let mut distinct: Vec<&Leaf> = Vec::new();
    let class: Vec<u32> = ranges
        .iter()
        .map(|r| match distinct.iter().position(|l| **l == r.leaf) {
            Some(i) => i as u32,
            None => {
                distinct.push(&r.leaf);
                (distinct.len() - 1) as u32
            }
        })
        .collect();
    let mut weights: Vec<u64> = ranges.iter().map(|r| r.weight).collect();
    let mut dp = Dp::new(ranges.len());
    let mut node = dp.optimal(ranges, &class, &weights);
    let mut costs = vec![0u64; ranges.len()];
    for _ in 0..ROUNDS {
        leaf_costs(ranges, &node, 0, &mut costs);
        let deep: Vec<usize> =
            (0..ranges.len()).filter(|&i| costs[i] > max_cost && ranges[i].native && ranges[i].weight > 0).collect();
        if deep.is_empty() {
            break;
        }
        let total: u64 = weights.iter().sum();
        let bump = (total / ranges.len() as u64).max(1);
        for i in deep {
            weights[i] = weights[i] * 4 + bump;
        }
        node = dp.optimal(ranges, &class, &weights);
    }
    node
}

/// Instructions each leaf executes in `node`, `depth` tests above it.
fn leaf_costs(ranges: &[Range], node: &Node, depth: u64, out: &mut [u64]) {
    match node {
        Node::Leaf(i) => out[*i] = depth + leaf_cost(&ranges[*i]),
        Node::Split { lo, hi, .. } => {
            leaf_costs(ranges, lo, depth + 1, out);
            leaf_costs(ranges, hi, depth + 1, out);
        }
        Node::Chain { base, singles } => {
            for (k, &s) in singles.iter().enumerate() {
                out[s] = depth + k as u64 + 1 + leaf_cost(&ranges[s]);
            }
            let tests = depth + singles.len() as u64;
            // Every range of the stretch that is not a single goes to the base leaf.
            let lo = (*base).min(singles.iter().copied().min().unwrap_or(*base));
            let hi = (*base).max(singles.iter().copied().max().unwrap_or(*base));
            for i in lo..=hi {
                if !singles.contains(&i) {
                    out[i] = tests + leaf_cost(&ranges[i]);
                }
            }
        }
    }
}

/// The tables of the dynamic program, kept across rounds.
struct Dp {
    n: usize,
    cost: Vec<u64>,
    root: Vec<u32>,
    choice: Vec<Choice>,
}

impl Dp {
    fn new(n: usize) -> Dp {
        Dp { n, cost: vec![0; n * n], root: vec![0; n * n], choice: vec![Choice::Leaf; n * n] }
    }

    /// The optimal alphabetic tree for `weights`.
    fn optimal(&mut self, ranges: &[Range], class: &[u32], weights: &[u64]) -> Node {
        let n = self.n;
        if n <= 1 {
            return Node::Leaf(0);
        }
        let mut prefix = Vec::with_capacity(n + 1);
        prefix.push(0u64);
        for w in weights {
            prefix.push(prefix.last().copied().unwrap_or(0) + w);
        }
        let w = |i: usize, j: usize| prefix[j + 1] - prefix[i];
        let at = |i: usize, j: usize| i * n + j;
        let (cost, root, choice) = (&mut self.cost, &mut self.root, &mut self.choice);
        for (i, r) in ranges.iter().enumerate() {
            cost[at(i, i)] = weights[i] * leaf_cost(r);
            root[at(i, i)] = i as u32;
            choice[at(i, i)] = Choice::Leaf;
        }
        for len in 2..=n {
            for i in 0..=n - len {
                let j = i + len - 1;
                let (lo_k, hi_k) = if len == 2 {
                    (i, i)
                } else {
                    ((root[at(i, j - 1)] as usize).max(i), (root[at(i + 1, j)] as usize).min(j - 1))
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
                root[at(i, j)] = best_k as u32;
                cost[at(i, j)] = split;
                choice[at(i, j)] = Choice::Split(best_k);
                if len <= CHAIN_SPAN {
                    if let Some(c) = chain_cost(&ranges[i..=j], &class[i..=j], &weights[i..=j]) {
                        if c < split {
                            cost[at(i, j)] = c;
                            choice[at(i, j)] = Choice::Chain;
                        }
                    }
                }
            }
        }
        assemble(ranges, class, weights, choice, n, 0, n - 1)
    }
}

/// The leaf class most of the stretch's weight reaches, and the
/// single-number ranges of other classes, when those are all there is
/// besides it (at most [`CHAIN_TESTS`]).
fn chain_parts(rs: &[Range], class: &[u32], weights: &[u64]) -> Option<(usize, Vec<usize>)> {
    let mut base = 0;
    let mut base_weight = 0;
    for i in 0..rs.len() {
        let total: u64 = (0..rs.len()).filter(|&x| class[x] == class[i]).map(|x| weights[x]).sum();
        if i == 0 || total > base_weight {
            base = i;
            base_weight = total;
        }
    }
    let mut singles: Vec<usize> = Vec::with_capacity(CHAIN_TESTS);
    for (i, r) in rs.iter().enumerate() {
        if class[i] != class[base] {
            if r.lo != r.hi || singles.len() == CHAIN_TESTS {
                return None;
            }
            singles.push(i);
        }
    }
    // Heaviest first: every test costs one instruction to all that reach it.
    singles.sort_by(|&a, &b| (weights[b] * leaf_cost(&rs[b])).cmp(&(weights[a] * leaf_cost(&rs[a]))));
    Some((base, singles))
}

fn chain_cost(rs: &[Range], class: &[u32], weights: &[u64]) -> Option<u64> {
    let (base, singles) = chain_parts(rs, class, weights)?;
    let mut remaining: u64 = weights.iter().sum();
    let mut cost = 0;
    for s in singles {
        cost += remaining + weights[s] * leaf_cost(&rs[s]);
        remaining -= weights[s];
    }
    Some(cost + remaining * leaf_cost(&rs[base]))
}

/// The tree the tables chose for ranges `i..=j`.
fn assemble(ranges: &[Range], class: &[u32], weights: &[u64], choice: &[Choice], n: usize, i: usize, j: usize) -> Node {
    if i == j {
        return Node::Leaf(i);
    }
    match choice[i * n + j] {
        Choice::Leaf => Node::Leaf(i),
        Choice::Split(k) => Node::Split {
            at: ranges[k + 1].lo,
            lo: Box::new(assemble(ranges, class, weights, choice, n, i, k)),
            hi: Box::new(assemble(ranges, class, weights, choice, n, k + 1, j)),
        },
        Choice::Chain => match chain_parts(&ranges[i..=j], &class[i..=j], &weights[i..=j]) {
            Some((base, singles)) => Node::Chain { base: base + i, singles: singles.into_iter().map(|s| s + i).collect() },
            None => Node::Leaf(i),
        },
    }
}
