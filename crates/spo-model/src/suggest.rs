//! "Did you mean" suggestions shared by every diagnostic in the project.
//!
//! **The rule.** A candidate is suggested for a word when, comparing
//! without regard to ASCII case,
//! 1. it is the word (`MKDIR` for `mkdir`), or
//! 2. it is what follows an `_` in the word, at least 3 characters long
//!    (`posix_fallocate`, `sys_openat`, `__x64_sys_read`: the library or
//!    kernel name of a syscall), or
//! 3. it is within a few edits of the word: insertions, deletions,
//!    substitutions and swaps of adjacent characters (the optimal string
//!    alignment distance), at most 1 for words of 2 to 5 characters and 2
//!    for longer ones.
//!
//! The smallest distance wins, ties go to the alphabetically first
//! candidate, so the answer never depends on the order candidates come
//! in. Unlike a similarity score with a prefix bonus (Jaro-Winkler, which
//! this replaced), nothing is suggested for a word that merely starts like
//! a candidate: `procexit` used to get `process_vm_writev`, and
//! `posix_fallocate` got `poll`.
//!
//! **Cost.** [`did_you_mean`] compares the word with every candidate:
//! O(c · l²) for c candidates of length l, meant for the short, fixed
//! lists of a schema (field names, actions, keywords). For large sets
//! (syscall names, a policy's types, a file's own declarations) an
//! [`Index`] is built once, in O(c · l²): every candidate is filed under
//! each string it becomes by deleting at most 2 characters (symmetric
//! deletion). A query then generates the word's own deletions, O(l²)
//! strings, and looks each up (O(log(c · l²))), and only the candidates
//! found are compared; so a file with n unknown names costs O(n · l² ·
//! log(c·l)), linear in n and independent of the number of candidates,
//! where scanning every candidate for every word cost O(n · c · l²).

/// The largest number of edits a suggestion may be away from `word`.
fn allowance(word: &str) -> usize {
    match word.chars().count() {
        0..=1 => 0,
        2..=5 => 1,
        _ => 2,
    }
}

/// Optimal string alignment distance between `a` and `b` (chars,
/// already lowercased), or `None` when it exceeds `max`.
fn distance(a: &[char], b: &[char], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let w = b.len() + 1;
    // Three rows: two back (for swaps), previous, current.
    let mut rows = vec![0usize; 3 * w];
    for (j, cell) in rows[w..2 * w].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        let (back, rest) = rows.split_at_mut(w);
        let (prev, cur) = rest.split_at_mut(w);
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(back[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        // Rotate: prev becomes back, cur becomes prev.
        rows.copy_within(w..3 * w, 0);
    }
    let d = rows[w + b.len()];
    (d <= max).then_some(d)
}

fn lower_chars(s: &str) -> Vec<char> {
    s.chars().map(|c| c.to_ascii_lowercase()).collect()
}

/// The better of two (distance, candidate) pairs: smaller distance, then
/// alphabetically first.
fn better<'a>(best: Option<(usize, &'a str)>, d: usize, cand: &'a str) -> Option<(usize, &'a str)> {
    match best {
        Some((bd, b)) if bd < d || (bd == d && b <= cand) => best,
        _ => Some((d, cand)),
    }
}

/// The candidate named by rule 2: what follows an `_` of `word`, longest
/// first.
fn suffix_match<'a>(word: &str, mut is_candidate: impl FnMut(&str) -> Option<&'a str>) -> Option<&'a str> {
    word.match_indices('_')
        .map(|(i, _)| &word[i + 1..])
        .filter(|s| s.len() >= 3)
        .find_map(|s| is_candidate(&s.to_ascii_lowercase()))
}

/// The candidate closest to `word` by the rule above, scanning every
/// candidate (for short lists; see [`Index`] for large ones).
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let w = lower_chars(word);
    let max = allowance(word);
    let mut best: Option<(usize, &'a str)> = None;
    let mut exact_case: Option<&'a str> = None;
    let suffixes: Vec<String> =
        word.match_indices('_').map(|(i, _)| word[i + 1..].to_ascii_lowercase()).filter(|s| s.len() >= 3).collect();
    // The longest suffix that is a candidate, with its length.
    let mut by_suffix: Option<(usize, &'a str)> = None;
    for cand in candidates {
        if cand.eq_ignore_ascii_case(word) {
            exact_case = Some(match exact_case {
                Some(e) if e <= cand => e,
                _ => cand,
            });
            continue;
        }
        if let Some(s) = suffixes.iter().find(|s| cand.eq_ignore_ascii_case(s)) {
            if by_suffix.is_none_or(|(len, b)| s.len() > len || (s.len() == len && cand < b)) {
                by_suffix = Some((s.len(), cand));
            }
        }
        if let Some(d) = distance(&w, &lower_chars(cand), max) {
            best = better(best, d, cand);
        }
    }
    exact_case.or(by_suffix.map(|(_, c)| c)).or(best.map(|(_, c)| c))
}

/// A set of candidates prepared for many suggestions (see the module doc
/// for the cost).
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// The candidates, as given.
    names: Vec<String>,
    /// Lowercased candidates, sorted, with their position in `names`.
    exact: Vec<(String, u32)>,
    /// (hash of a deletion variant, candidate), sorted by bucket.
    deletions: Vec<(u64, u32)>,
    /// Where the hashes of each top-[`BUCKET_BITS`] prefix start in
    /// `deletions` (one more entry than buckets): a lookup scans one
    /// bucket, not a binary search over all.
    buckets: Vec<u32>,
}

/// Bits of a hash that choose its bucket.
const BUCKET_BITS: u32 = 16;

/// Base of the polynomial hash of a string of characters: `H(t) = Σ
/// t[k]·B^(len-1-k)` (wrapping). A deletion's hash follows from prefix
/// and suffix hashes in constant time, so a word's O(l²) deletions cost
/// O(l²), not O(l³). Strings that collide only cost one more comparison.
const B: u64 = 0x9E37_79B9_7F4A_7C15 | 1;

fn bucket(h: u64) -> usize {
    // Spread the bits before choosing the bucket.
    (h.wrapping_mul(0xD6E8_FEB8_6659_FD93) >> (64 - BUCKET_BITS)) as usize
}

/// The hash of every string `s` becomes with at most `max` characters
/// deleted (with repeats), each passed to `f`.
fn deletions(s: &[char], max: usize, f: &mut impl FnMut(u64)) {
    let n = s.len();
    let v = |k: usize| u64::from(s[k]) + 1;
    // pow[k] = B^k; pre[i] = H(s[..i]); suf[i] = sum over k >= i of
    // s[k]·B^(n-1-k).
    let mut pow = vec![1u64; n + 1];
    for k in 1..=n {
        pow[k] = pow[k - 1].wrapping_mul(B);
    }
    let mut pre = vec![0u64; n + 1];
    for k in 0..n {
        pre[k + 1] = pre[k].wrapping_mul(B).wrapping_add(v(k));
    }
    let mut suf = vec![0u64; n + 2];
    for k in (0..n).rev() {
        suf[k] = suf[k + 1].wrapping_add(v(k).wrapping_mul(pow[n - 1 - k]));
    }
    f(pre[n]);
    if max == 0 {
        return;
    }
    for i in 0..n {
        // Without s[i]: the prefix moves up past the n-1-i characters
        // after it, the suffix keeps its powers.
        f(pre[i].wrapping_mul(pow[n - 1 - i]).wrapping_add(suf[i + 1]));
        if max > 1 {
            for j in i + 1..n {
                // Without s[i] and s[j]: prefix s[..i], middle s[i+1..j],
                // suffix s[j+1..].
                let mid = pre[j].wrapping_sub(pre[i + 1].wrapping_mul(pow[j - i - 1]));
                let h = pre[i]
                    .wrapping_mul(pow[n - 2 - i])
                    .wrapping_add(mid.wrapping_mul(pow[n - 1 - j]))
                    .wrapping_add(suf[j + 1]);
                f(h);
            }
        }
    }
}

/// The most edits any word may be from its suggestion.
const MAX_ALLOWANCE: usize = 2;

impl Index {
    /// Index `candidates` (duplicates are kept once).
    pub fn new<'a>(candidates: impl IntoIterator<Item = &'a str>) -> Index {
        let mut names: Vec<String> = candidates.into_iter().map(str::to_owned).collect();
        names.sort_unstable();
        names.dedup();
        let mut exact = Vec::with_capacity(names.len());
        let mut dels = Vec::new();
        for (i, n) in names.iter().enumerate() {
            let id = i as u32;
            exact.push((n.to_ascii_lowercase(), id));
            deletions(&lower_chars(n), MAX_ALLOWANCE, &mut |h| dels.push((h, id)));
        }
        exact.sort_unstable();
        dels.sort_unstable_by_key(|&(h, id)| (bucket(h), h, id));
        dels.dedup();
        let mut buckets = vec![0u32; (1 << BUCKET_BITS) + 1];
        for (h, _) in &dels {
            buckets[bucket(*h) + 1] += 1;
        }
        for i in 1..buckets.len() {
            buckets[i] += buckets[i - 1];
        }
        Index { names, exact, deletions: dels, buckets }
    }

    /// How many candidates the index holds.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the index holds no candidate.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    fn lookup_exact(&self, lower: &str) -> Option<&str> {
        let at = self.exact.partition_point(|(n, _)| n.as_str() < lower);
        // Several candidates may lowercase alike: the first (names are
        // sorted, so the alphabetically first) wins.
        self.exact.get(at).filter(|(n, _)| n == lower).map(|(_, id)| self.names[*id as usize].as_str())
    }

    /// The candidate closest to `word` by the rule of the module doc, and
    /// how many candidates were compared to find it.
    pub fn suggest_counting(&self, word: &str) -> (Option<&str>, usize) {
        if let Some(c) = self.lookup_exact(&word.to_ascii_lowercase()) {
            return (Some(c), 0);
        }
        if let Some(c) = suffix_match(word, |s| self.lookup_exact(s)) {
            return (Some(c), 0);
        }
        let max = allowance(word);
        if max == 0 {
            return (None, 0);
        }
        let w = lower_chars(word);
        let mut found: Vec<u32> = Vec::new();
        deletions(&w, max, &mut |h| {
            let b = bucket(h);
            let (from, to) = (self.buckets[b] as usize, self.buckets[b + 1] as usize);
            found.extend(self.deletions[from..to].iter().filter(|(x, _)| *x == h).map(|(_, id)| *id));
        });
        found.sort_unstable();
        found.dedup();
        let mut best = None;
        for id in &found {
            let cand = self.names[*id as usize].as_str();
            if let Some(d) = distance(&w, &lower_chars(cand), max) {
                best = better(best, d, cand);
            }
        }
        (best.map(|(_, c)| c), found.len())
    }

    /// The candidate closest to `word` by the rule of the module doc.
    pub fn suggest(&self, word: &str) -> Option<&str> {
        self.suggest_counting(word).0
    }
}

/// Suggestions from a set of candidates that pays for an [`Index`] only
/// when asked often: the first [`Lazy::SCANNED`] words are answered by a
/// scan (a file with one typo should not index a policy's thousands of
/// types), later ones through an index built then. Either way n words
/// cost O(n) for a given set.
#[derive(Debug, Clone, Default)]
pub struct Lazy<'a> {
    names: Vec<&'a str>,
    asked: usize,
    index: Option<Index>,
}

impl<'a> Lazy<'a> {
    /// Words answered by scanning before the index is built.
    pub const SCANNED: usize = 16;

    /// Suggestions among `names`.
    pub fn new(names: impl IntoIterator<Item = &'a str>) -> Lazy<'a> {
        Lazy { names: names.into_iter().collect(), asked: 0, index: None }
    }

    /// The candidate closest to `word`, by the rule of the module doc.
    pub fn suggest(&mut self, word: &str) -> Option<&str> {
        self.asked += 1;
        if self.asked <= Self::SCANNED {
            return did_you_mean(word, self.names.iter().copied());
        }
        let names = &self.names;
        self.index.get_or_insert_with(|| Index::new(names.iter().copied())).suggest(word)
    }
}

/// The syscall name (of any architecture) closest to `word`, through an
/// index built on first use.
pub fn syscall(word: &str) -> Option<&'static str> {
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| Index::new(crate::syscalls::all_names().iter().copied())).suggest(word)
}

#[cfg(test)]
mod tests {
    use super::{did_you_mean, distance, lower_chars, Index};

    #[test]
    fn suggests_close_words_only() {
        let words = ["mkdir", "mkdirat", "rmdir", "read"];
        assert_eq!(did_you_mean("mkdirr", words), Some("mkdir"));
        assert_eq!(did_you_mean("MKDIR", words), Some("mkdir"));
        assert_eq!(did_you_mean("socket", words), None);
    }

    #[test]
    fn ties_do_not_depend_on_candidate_order() {
        let a = did_you_mean("mkdirx", ["mkdirb", "mkdira"]);
        let b = did_you_mean("mkdirx", ["mkdira", "mkdirb"]);
        assert_eq!(a, b);
        assert_eq!(a, Some("mkdira"));
    }

    /// A deletion's hash, computed from prefix and suffix hashes, is the
    /// hash of the string with those characters deleted.
    #[test]
    fn deletion_hashes_are_hashes_of_the_deleted_strings() {
        let hash = |t: &[char]| {
            let mut h = Vec::new();
            super::deletions(t, 0, &mut |x| h.push(x));
            h[0]
        };
        let s = lower_chars("mkdirat");
        let mut got = Vec::new();
        super::deletions(&s, 2, &mut |x| got.push(x));
        let mut want = vec![hash(&s)];
        for i in 0..s.len() {
            let mut one = s.clone();
            one.remove(i);
            want.push(hash(&one));
            for j in i + 1..s.len() {
                let mut two = s.clone();
                two.remove(j);
                two.remove(i);
                want.push(hash(&two));
            }
        }
        assert_eq!(got, want);
        assert_ne!(hash(&lower_chars("ab")), hash(&lower_chars("ba")));
    }

    #[test]
    fn distances_count_swaps_as_one_edit() {
        let d = |a: &str, b: &str| distance(&lower_chars(a), &lower_chars(b), 9);
        assert_eq!(d("opne", "open"), Some(1));
        assert_eq!(d("recieve", "receive"), Some(1));
        assert_eq!(d("kitten", "sitting"), Some(3));
        assert_eq!(d("", "abc"), Some(3));
        assert_eq!(distance(&lower_chars("kitten"), &lower_chars("sitting"), 2), None);
    }

    /// The real-profile misses that the similarity score got wrong.
    #[test]
    fn syscall_names_from_libraries_and_traces() {
        let names: Vec<&str> = crate::syscalls::all_names().to_vec();
        let index = Index::new(names.iter().copied());
        for (word, want) in [
            ("procexit", None),
            ("posix_fallocate", Some("fallocate")),
            ("sys_openat", Some("openat")),
            ("__x64_sys_read", Some("read")),
            ("mkdirr", Some("mkdir")),
            ("clone4", Some("clone")),
            ("EXIT_GROUP", Some("exit_group")),
            ("getdents65", Some("getdents64")),
        ] {
            assert_eq!(index.suggest(word), want, "{word}");
            assert_eq!(did_you_mean(word, names.iter().copied()), want, "{word} (scan)");
        }
    }

    /// The index answers exactly what a scan of every candidate answers.
    #[test]
    fn index_agrees_with_the_scan() {
        let names: Vec<&str> = crate::syscalls::all_names().to_vec();
        let index = Index::new(names.iter().copied());
        let mut words: Vec<String> = Vec::new();
        for n in names.iter().step_by(5) {
            let b = n.as_bytes();
            words.push(format!("{n}x"));
            words.push(n.chars().rev().collect());
            words.push(String::from_utf8_lossy(&b[1..]).into_owned());
            if b.len() > 3 {
                let mut s = b.to_vec();
                s.swap(1, 2);
                s[0] = b'q';
                words.push(String::from_utf8_lossy(&s).into_owned());
            }
        }
        for w in &words {
            assert_eq!(index.suggest(w), did_you_mean(w, names.iter().copied()), "{w}");
        }
    }

    /// A query compares only the few candidates sharing a deletion with the
    /// word, however many candidates there are.
    #[test]
    fn queries_compare_a_few_candidates_not_all() {
        // Names like a policy's types: words of 6 to 14 letters.
        let mut seed = 7u64;
        let mut letter = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            char::from(b'a' + ((seed >> 33) % 26) as u8)
        };
        let many: Vec<String> = (0..20_000).map(|i| (0..6 + i % 9).map(|_| letter()).collect()).collect();
        let index = Index::new(many.iter().map(String::as_str));
        let typo = format!("{}x", many[1234]);
        let (s, compared) = index.suggest_counting(&typo);
        assert_eq!(s, Some(many[1234].as_str()));
        assert!(compared < 200, "{compared} of {} compared", index.len());
        let (none, compared) = index.suggest_counting("completely_different");
        assert_eq!(none, None);
        assert!(compared < 200, "{compared}");
    }
}
