//! A small, fast, non-cryptographic hasher for the symbol tables.
//!
//! Name lookups dominate checking a large policy (millions per file), and
//! std's SipHash protects against hash flooding that does not matter for a
//! local file checker. This is the multiply-rotate scheme used by rustc.

use std::hash::{BuildHasherDefault, Hasher};

/// The hasher.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Whole words, then the tail as 4, 2 and 1 bytes: fixed-size copies
        // only (names are short, a variable-length copy costs a call).
        let mut b = bytes;
        while let Some((head, rest)) = b.split_first_chunk::<8>() {
            self.add(u64::from_le_bytes(*head));
            b = rest;
        }
        if let Some((head, rest)) = b.split_first_chunk::<4>() {
            self.add(u64::from(u32::from_le_bytes(*head)));
            b = rest;
        }
        if let Some((head, rest)) = b.split_first_chunk::<2>() {
            self.add(u64::from(u16::from_le_bytes(*head)));
            b = rest;
        }
        if let Some(&last) = b.first() {
            self.add(u64::from(last));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// `HashMap` with [`FxHasher`].
pub type FxHashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;
