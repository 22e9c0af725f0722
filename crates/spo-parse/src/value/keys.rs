//! Duplicate keys of one object, found in constant time per key: a short
//! object is scanned (no allocation for the common case), a long one gets
//! a hash index, so an object of 100,000 keys costs 100,000 lookups, not
//! five billion comparisons.

use std::collections::HashMap;

use super::Member;

/// Objects up to this many members are scanned.
const SCANNED: usize = 8;

/// The keys of one object being read.
#[derive(Debug, Default)]
pub(super) struct KeyIndex {
    index: Option<HashMap<String, usize>>,
}

impl KeyIndex {
    /// The position in `members` (the members read so far) of an earlier
    /// member named `key`; the caller then appends the new member.
    pub(super) fn insert(&mut self, members: &[Member], key: &str) -> Option<usize> {
        if self.index.is_none() {
            if members.len() < SCANNED {
                return members.iter().position(|m| m.key == key);
            }
            let mut index = HashMap::with_capacity(members.len() * 2);
            for (i, m) in members.iter().enumerate() {
                index.entry(m.key.clone()).or_insert(i);
            }
            self.index = Some(index);
        }
        let index = self.index.as_mut()?;
        match index.get(key) {
            Some(&first) => Some(first),
            None => {
                index.insert(key.to_owned(), members.len());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Kind, Node};
    use crate::Span;

    #[test]
    fn first_definitions_are_found_in_short_and_long_objects() {
        let mut members: Vec<Member> = Vec::new();
        let mut keys = KeyIndex::default();
        let mut dups = Vec::new();
        for (i, k) in (0..40).map(|i| format!("k{}", i % 30)).enumerate() {
            if let Some(first) = keys.insert(&members, &k) {
                dups.push((i, first));
            }
            let value = Node { span: Span::point(i), kind: Kind::Null };
            members.push(Member { key: k, key_span: Span::point(i), value });
        }
        assert_eq!(dups, (30..40).map(|i| (i, i - 30)).collect::<Vec<_>>());
    }
}
