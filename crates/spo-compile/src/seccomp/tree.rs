//! The search tree over syscall-number ranges.
//!
//! A classic-BPF jump compares the accumulator with a constant, so a
//! section's ranges are found by a binary search tree of `jge` nodes. The
//! tree is shaped to minimise the *expected* number of instructions
//! executed, each range weighted by how many syscall numbers of the
//! architecture's table it covers: a long run of allowed syscalls sits near
//! the root, an isolated denied one deeper.
//!
//! For the native architecture this is solved exactly, as the optimal
//! alphabetic tree problem, by dynamic programming (Knuth's bound on the
//! root position keeps it quadratic), with one more shape considered for
//! short stretches: when every range but one leaf's is a single syscall, a
//! chain of `jeq` tests isolates those numbers in one comparison each,
//! which a `jge` tree needs two for. A floor on the weights, and re-weighting
//! rounds when that is not enough, keep every native leaf within a bound on
//! the instructions executed. Other architectures (a section of their own,
//! or x32 numbers under x86_64's token) get a weight-balanced tree, split
//! where the weight halves: near optimal, and linear-logarithmic, which
//! keeps compile time low when a filter accepts several architectures.

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
const CHAIN_SPAN: usize = 9;
/// Most `jeq` tests in a chain.
const CHAIN_TESTS: usize = 4;
/// How many tests below the bound the weight floor aims.
const FLOOR_SLACK: u64 = 4;
/// Rounds of re-weighting to bring the deepest leaves within the bound.
const ROUNDS: usize = 4;
/// Shortest run of non-native ranges given a subtree of its own.
const MIN_RUN: usize = 4;

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

/// What the dynamic program arranges: a range, or a whole subtree over a
/// run of non-native ranges.
#[derive(Debug)]
struct Item {
    /// First syscall number covered.
    lo: u32,
    /// A single-number range (may be isolated by a `jeq`).
    single: bool,
    /// Items of one class have the same leaf.
    class: u32,
    /// Weight for shaping.
    weight: u64,
    /// Cost of the item itself: weight times the leaf's instructions, or
    /// the subtree's total.
    fixed: u64,
    /// The range, or the subtree.
    node: Option<Node>,
    range: usize,
}

/// Shape the tree for `ranges` (sorted, covering the number space),
/// trying to keep every native leaf within `max_cost` instructions (tests
/// plus the leaf's own).
pub(crate) fn build(ranges: &[Range], max_cost: u64) -> Node {
    if ranges.len() <= 1 {
        return Node::Leaf(0);
    }
    let weights: Vec<u64> = ranges.iter().map(|r| r.weight).collect();
    if !ranges.iter().any(|r| r.native) {
        return balanced(ranges, &weights, 0, ranges.len() - 1);
    }
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
    // A leaf of weight w sits about log2(total / w) tests deep in a tree
    // shaped by weight: a floor on the native ranges' weights keeps them
    // within the bound in the first round, most of the time.
    let total: u64 = weights.iter().sum();
    let floor = total >> max_cost.saturating_sub(FLOOR_SLACK).min(63);
    let mut native_weights: Vec<u64> =
        ranges.iter().map(|r| if r.native && r.weight > 0 { r.weight.max(floor) } else { r.weight }).collect();
    let mut node = arrange(ranges, &class, &native_weights, distinct.len() as u32);
    let mut costs = vec![0u64; ranges.len()];
    for _ in 0..ROUNDS {
        leaf_costs(ranges, &node, 0, &mut costs);
        let deep: Vec<usize> =
            (0..ranges.len()).filter(|&i| costs[i] > max_cost && ranges[i].native && ranges[i].weight > 0).collect();
        if deep.is_empty() {
            break;
        }
        let total: u64 = native_weights.iter().sum();
        let bump = (total / ranges.len() as u64).max(1);
        for i in deep {
            native_weights[i] = native_weights[i] * 4 + bump;
        }
        node = arrange(ranges, &class, &native_weights, distinct.len() as u32);
    }
    node
}

/// The optimal tree over the native ranges, each long run of non-native
/// ranges handled as one item with a balanced subtree of its own.
fn arrange(ranges: &[Range], class: &[u32], weights: &[u64], mut next_class: u32) -> Node {
    let mut items: Vec<Item> = Vec::with_capacity(ranges.len());
    let mut i = 0;
    while i < ranges.len() {
        let mut j = i;
        while j < ranges.len() && !ranges[j].native {
            j += 1;
        }
        if j - i >= MIN_RUN {
            let sub = balanced(ranges, weights, i, j - 1);
            let mut costs = vec![0u64; ranges.len()];
            leaf_costs(ranges, &sub, 0, &mut costs);
            let fixed = (i..j).map(|k| weights[k] * costs[k]).sum();
            items.push(Item {
                lo: ranges[i].lo,
                single: false,
                class: next_class,
                weight: weights[i..j].iter().sum(),
                fixed,
                node: Some(sub),
                range: i,
            });
            next_class += 1;
            i = j;
            continue;
        }
        let r = &ranges[i];
        items.push(Item {
            lo: r.lo,
            single: r.lo == r.hi,
            class: class[i],
            weight: weights[i],
            fixed: weights[i] * leaf_cost(r),
            node: None,
            range: i,
        });
        i += 1;
    }
    let mut dp = Dp::new(items.len());
    dp.solve(&items);
    let last = items.len() - 1;
    dp.assemble(&mut items, 0, last)
}

/// A tree split where the weight halves (by count when there is no
/// weight), over ranges `i..=j`.
fn balanced(ranges: &[Range], weights: &[u64], i: usize, j: usize) -> Node {
    if i == j {
        return Node::Leaf(i);
    }
    if j - i < CHAIN_SPAN {
        if let Some(chain) = small_chain(ranges, weights, i, j) {
            return chain;
        }
    }
    let total: u64 = weights[i..=j].iter().sum();
    let k = if total == 0 {
        (i + j) / 2
    } else {
        let mut acc = 0u64;
        let mut k = i;
        for (x, w) in weights.iter().enumerate().take(j).skip(i) {
            acc += w;
            k = x;
            if 2 * acc >= total {
                // Keep whichever side of this range balances better.
                if x > i && 2 * (acc - w) >= total - 2 * (acc - w) && 2 * acc - total > total - 2 * (acc - w) {
                    k = x - 1;
                }
                break;
            }
        }
        k
    };
    Node::Split {
        at: ranges[k + 1].lo,
        lo: Box::new(balanced(ranges, weights, i, k)),
        hi: Box::new(balanced(ranges, weights, k + 1, j)),
    }
}

/// Ranges `i..=j` as a `jeq` chain, when all but one leaf's ranges are
/// single numbers (at most [`CHAIN_TESTS`] of them).
fn small_chain(ranges: &[Range], weights: &[u64], i: usize, j: usize) -> Option<Node> {
    let base = (i..=j).find(|&k| ranges[k].lo != ranges[k].hi).unwrap_or(i);
    let mut singles: Vec<usize> = (i..=j).filter(|&k| ranges[k].leaf != ranges[base].leaf).collect();
    if singles.len() > CHAIN_TESTS || singles.iter().any(|&k| ranges[k].lo != ranges[k].hi) {
        return None;
    }
    singles.sort_by(|&a, &b| weights[b].cmp(&weights[a]));
    Some(Node::Chain { base, singles })
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
            for (i, o) in out.iter_mut().enumerate().take(hi + 1).skip(lo) {
                if !singles.contains(&i) {
                    *o = tests + leaf_cost(&ranges[i]);
                }
            }
        }
    }
}

/// What the tables chose for a stretch of items.
#[derive(Clone, Copy)]
enum Choice {
    Leaf,
    /// Split after the stretch's `root`.
    Split,
    Chain,
}

/// The tables of the dynamic program: one cell per stretch `i..=j`,
/// stored by row in a triangle.
struct Dp {
    row: Vec<usize>,
    cost: Vec<u64>,
    root: Vec<u32>,
    choice: Vec<Choice>,
}

impl Dp {
    fn new(n: usize) -> Dp {
        let row: Vec<usize> = (0..n).map(|i| i * n - i * i.saturating_sub(1) / 2 - i).collect();
        let cells = n * (n + 1) / 2;
        Dp { row, cost: vec![0; cells], root: vec![0; cells], choice: vec![Choice::Leaf; cells] }
    }

    fn at(&self, i: usize, j: usize) -> usize {
        self.row[i] + j
    }

    /// Fill the tables for the optimal tree over `items`.
    fn solve(&mut self, items: &[Item]) {
        let n = items.len();
        let mut prefix = Vec::with_capacity(n + 1);
        prefix.push(0u64);
        for it in items {
            prefix.push(prefix.last().copied().unwrap_or(0) + it.weight);
        }
        let w = |i: usize, j: usize| prefix[j + 1] - prefix[i];
        let row = &self.row;
        let at = |i: usize, j: usize| row[i] + j;
        let (cost, root, choice) = (&mut self.cost, &mut self.root, &mut self.choice);
        for (i, it) in items.iter().enumerate() {
            cost[at(i, i)] = it.fixed;
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
                choice[at(i, j)] = Choice::Split;
                if len <= CHAIN_SPAN {
                    if let Some(c) = chain_cost(&items[i..=j]) {
                        if c < split {
                            cost[at(i, j)] = c;
                            choice[at(i, j)] = Choice::Chain;
                        }
                    }
                }
            }
        }
    }

    /// The tree the tables chose for items `i..=j`, in range indices.
    fn assemble(&self, items: &mut [Item], i: usize, j: usize) -> Node {
        let as_leaf = |it: &mut Item| it.node.take().unwrap_or(Node::Leaf(it.range));
        if i == j {
            return as_leaf(&mut items[i]);
        }
        match self.choice[self.at(i, j)] {
            Choice::Leaf => as_leaf(&mut items[i]),
            Choice::Split => {
                let k = self.root[self.at(i, j)] as usize;
                let at = items[k + 1].lo;
                let lo = self.assemble(items, i, k);
                let hi = self.assemble(items, k + 1, j);
                Node::Split { at, lo: Box::new(lo), hi: Box::new(hi) }
            }
            Choice::Chain => match chain_parts(&items[i..=j]) {
                Some((base, singles, m)) => Node::Chain {
                    base: items[i + base].range,
                    singles: singles[..m].iter().map(|s| items[i + s].range).collect(),
                },
                None => as_leaf(&mut items[i]),
            },
        }
    }
}

/// The class most of the stretch's weight reaches, and the single-number
/// items of other classes, when those are all there is besides it (at most
/// [`CHAIN_TESTS`]).
fn chain_parts(items: &[Item]) -> Option<(usize, [usize; CHAIN_TESTS], usize)> {
    // Items that are not single numbers can only be the base.
    let mut base = None;
    for (i, it) in items.iter().enumerate() {
        if !it.single {
            match base {
                None => base = Some(i),
                Some(b) if items[b].class == it.class => {}
                Some(_) => return None,
            }
        }
    }
    let base = match base {
        Some(b) => b,
        None => {
            let class_weight = |c: u32| items.iter().filter(|x| x.class == c).map(|x| x.weight).sum::<u64>();
            let mut best = 0;
            for i in 1..items.len() {
                if class_weight(items[i].class) > class_weight(items[best].class) {
                    best = i;
                }
            }
            best
        }
    };
    if items.iter().any(|it| it.node.is_some() && it.class == items[base].class) {
        return None;
    }
    let mut singles = [0usize; CHAIN_TESTS];
    let mut m = 0;
    for (i, it) in items.iter().enumerate() {
        if it.class != items[base].class {
            if !it.single || m == CHAIN_TESTS {
                return None;
            }
            singles[m] = i;
            m += 1;
        }
    }
    // Heaviest first: every test costs one instruction to all that reach it.
    singles[..m].sort_by(|&a, &b| items[b].weight.cmp(&items[a].weight));
    Some((base, singles, m))
}

/// Cost of the stretch as a `jeq` chain: every test is paid by all items
/// that reach it.
fn chain_cost(items: &[Item]) -> Option<u64> {
    let (_, singles, m) = chain_parts(items)?;
    let mut remaining: u64 = items.iter().map(|it| it.weight).sum();
    let mut cost: u64 = items.iter().map(|it| it.fixed).sum();
    for &s in &singles[..m] {
        cost += remaining;
        remaining -= items[s].weight;
    }
    Some(cost)
}
