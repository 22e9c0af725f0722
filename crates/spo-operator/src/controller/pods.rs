//! Which pods use which profile: an index kept from one watch on pods.
//!
//! The operator needs, for every profile reconcile, the pods referencing
//! it. Scanning every pod for every profile costs pods x profiles; instead
//! the pod watch keeps this index (profile reference -> pods), and keeps
//! nothing else of a pod, so a cluster's worth of pods costs a few strings
//! each. The index is rebuilt from scratch whenever the watch relists, like
//! any reflector's store.

use std::collections::{BTreeSet, HashMap};

use super::references::RefKey;

/// Profile references -> pods (`namespace/name`) and back.
#[derive(Debug, Default)]
pub struct PodIndex {
    by_key: HashMap<RefKey, BTreeSet<String>>,
    by_pod: HashMap<String, Vec<RefKey>>,
}

impl PodIndex {
    /// Record what `pod` references now (an empty list for a finished pod)
    /// and return every key whose users changed.
    pub fn set(&mut self, pod: &str, keys: Vec<RefKey>) -> Vec<RefKey> {
        let old =
            if keys.is_empty() { self.by_pod.remove(pod) } else { self.by_pod.insert(pod.to_owned(), keys.clone()) };
        let old = old.unwrap_or_default();
        if old == keys {
            return Vec::new();
        }
        for k in &old {
            if let Some(users) = self.by_key.get_mut(k) {
                users.remove(pod);
                if users.is_empty() {
                    self.by_key.remove(k);
                }
            }
        }
        for k in &keys {
            self.by_key.entry(k.clone()).or_default().insert(pod.to_owned());
        }
        let mut touched = old;
        touched.extend(keys);
        touched.sort();
        touched.dedup();
        touched
    }

    /// Forget a deleted pod; returns the keys it referenced.
    pub fn remove(&mut self, pod: &str) -> Vec<RefKey> {
        self.set(pod, Vec::new())
    }

    /// Pods using `key`, sorted.
    pub fn users(&self, key: &RefKey) -> Vec<String> {
        self.by_key.get(key).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    /// Every key some pod references.
    pub fn keys(&self) -> impl Iterator<Item = &RefKey> {
        self.by_key.keys()
    }

    /// Number of pods that reference at least one profile.
    pub fn pods(&self) -> usize {
        self.by_pod.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::references::RefKind;
    use super::*;

    fn k(name: &str) -> RefKey {
        RefKey::for_profile(RefKind::Seccomp, name)
    }

    #[test]
    fn users_follow_pods_in_and_out() {
        let mut idx = PodIndex::default();
        assert_eq!(idx.set("ns/a", vec![k("web")]), vec![k("web")]);
        assert_eq!(idx.set("ns/b", vec![k("web"), k("db")]), vec![k("db"), k("web")]);
        assert_eq!(idx.users(&k("web")), ["ns/a", "ns/b"]);
        // The same references again change nothing.
        assert!(idx.set("ns/a", vec![k("web")]).is_empty());
        // A pod that finishes is set to nothing.
        assert_eq!(idx.set("ns/b", vec![]), vec![k("db"), k("web")]);
        assert_eq!(idx.users(&k("web")), ["ns/a"]);
        assert!(idx.users(&k("db")).is_empty());
        assert_eq!(idx.keys().count(), 1);
        assert_eq!(idx.remove("ns/a"), vec![k("web")]);
        assert!(idx.users(&k("web")).is_empty());
        assert_eq!((idx.pods(), idx.keys().count()), (0, 0));
        // Removing an unknown pod is harmless.
        assert!(idx.remove("ns/zzz").is_empty());
    }
}
