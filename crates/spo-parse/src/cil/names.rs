//! Tables keyed by names, hashed once per lookup.
//!
//! Checking a large policy looks names up hundreds of thousands of times,
//! each first in the file's own table and then in the base's. A general
//! `HashMap<String, _>` hashes the name again for every table and compares
//! keys through a call to `memcmp`. Here the caller hashes a name once
//! ([`hash_name`]) and probes as many tables as it needs with that hash;
//! entries keep their hash, so most mismatches are rejected without
//! touching the key, and keys are compared a word at a time, inline.

use hashbrown::hash_table::{Entry, HashTable};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

#[inline]
fn mix(h: u64, word: u64) -> u64 {
    (h.rotate_left(5) ^ word).wrapping_mul(SEED)
}

/// The eight bytes at `at` (the caller checks `at + 8 <= b.len()`).
#[inline]
fn word(b: &[u8], at: usize) -> u64 {
    match b.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        Some(w) => u64::from_le_bytes(w),
        None => 0,
    }
}

/// A name of fewer than eight bytes as one word.
#[inline]
fn short(b: &[u8]) -> u64 {
    let mut v = 0u64;
    for (i, &c) in b.iter().enumerate().take(8) {
        v |= u64::from(c) << (8 * i);
    }
    v
}

/// The hash of a name, for [`NameMap::get_hashed`]: multiply-rotate over
/// its words (the last word overlaps the one before it when the length is
/// not a multiple of eight), seeded with the length.
#[inline]
pub(crate) fn hash_name(b: &[u8]) -> u64 {
    let n = b.len();
    let mut h = mix(0, n as u64);
    if n < 8 {
        h = mix(h, short(b));
    } else {
        let mut at = 0;
        while at + 8 < n {
            h = mix(h, word(b, at));
            at += 8;
        }
        h = mix(h, word(b, n - 8));
    }
    // The table takes its bucket from the low bits and its tag from the
    // top seven: bring the well-mixed high bits down.
    h.rotate_left(26)
}

/// Whether two names are equal, compared a word at a time.
#[inline]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return short(a) == short(b);
    }
    let mut at = 0;
    while at + 8 < n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    word(a, n - 8) == word(b, n - 8)
}

/// A map from names to values, probed with a hash computed once.
#[derive(Debug, Clone)]
pub(crate) struct NameMap<K, V> {
    table: HashTable<(u64, K, V)>,
}

impl<K, V> Default for NameMap<K, V> {
    fn default() -> Self {
        NameMap { table: HashTable::new() }
    }
}

/// A set of names.
pub(crate) type NameSet<K> = NameMap<K, ()>;

impl<K: AsRef<str>, V> NameMap<K, V> {
    /// Number of names.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// The value of `name`, whose [`hash_name`] is `hash`.
    #[inline]
    pub(crate) fn get_hashed(&self, hash: u64, name: &[u8]) -> Option<&V> {
        self.table.find(hash, |(h, k, _)| *h == hash && same(k.as_ref().as_bytes(), name)).map(|e| &e.2)
    }

    /// The value of `name`.
    #[inline]
    pub(crate) fn get(&self, name: &str) -> Option<&V> {
        self.get_hashed(hash_name(name.as_bytes()), name.as_bytes())
    }

    /// Whether `name` is in the map.
    #[inline]
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The value of `name`, for changing it.
    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        let hash = hash_name(name.as_bytes());
        self.table
            .find_mut(hash, |(h, k, _)| *h == hash && same(k.as_ref().as_bytes(), name.as_bytes()))
            .map(|e| &mut e.2)
    }

    /// The value of `name`, made by `make` and inserted when missing; and
    /// whether it was inserted now.
    pub(crate) fn get_or_insert_with(&mut self, name: K, make: impl FnOnce() -> V) -> (&mut V, bool) {
        let hash = hash_name(name.as_ref().as_bytes());
        let key = name.as_ref().as_bytes();
        match self.table.entry(hash, |(h, k, _)| *h == hash && same(k.as_ref().as_bytes(), key), |e| e.0) {
            Entry::Occupied(o) => (&mut o.into_mut().2, false),
            Entry::Vacant(v) => (&mut v.insert((hash, name, make())).into_mut().2, true),
        }
    }

    /// Insert `name` with `value` unless it is there already (the first
    /// value stays). Returns whether it was inserted.
    pub(crate) fn insert(&mut self, name: K, value: V) -> bool {
        self.get_or_insert_with(name, || value).1
    }

    /// Every name with its value, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.table.iter().map(|(_, k, v)| (k.as_ref(), v))
    }

    /// Every name, in no particular order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.table.iter().map(|(_, k, _)| k.as_ref())
    }
}

impl<K: AsRef<str>> NameSet<K> {
    /// Add `name`; whether it was new.
    pub(crate) fn add(&mut self, name: K) -> bool {
        self.insert(name, ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_hash_alike_and_different_ones_compare_unequal() {
        let names = ["", "a", "ab", "abcdefg", "abcdefgh", "abcdefghi", "abcdefghabcdefgh", "abcdefghabcdefgX", "x_t"];
        for a in names {
            assert_eq!(hash_name(a.as_bytes()), hash_name(a.to_owned().as_bytes()));
            for b in names {
                assert_eq!(same(a.as_bytes(), b.as_bytes()), a == b, "{a} {b}");
            }
        }
        assert_ne!(hash_name(b"abcdefghi"), hash_name(b"abcdefghj"));
    }

    #[test]
    fn map_keeps_the_first_value_and_finds_every_name() {
        let mut m: NameMap<String, usize> = NameMap::default();
        for i in 0..2000 {
            assert!(m.insert(format!("type_{i}_t"), i));
        }
        assert!(!m.insert("type_7_t".into(), 99));
        assert_eq!(m.len(), 2000);
        for i in 0..2000 {
            assert_eq!(m.get(&format!("type_{i}_t")), Some(&i));
        }
        assert_eq!(m.get("type_2000_t"), None);
        *m.get_mut("type_3_t").unwrap_or(&mut 0) = 7;
        assert_eq!(m.get("type_3_t"), Some(&7));
        assert_eq!(m.keys().count(), 2000);
    }
}
