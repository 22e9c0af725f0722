//! The `in-use` finalizer: while it is on a profile, the API server keeps
//! the object (in Terminating) after a delete, which is what lets the
//! operator hold a profile a pod still runs under.
//!
//! Both edits are JSON patches guarded by a `test` of the very list they
//! change, so a concurrent edit by someone else (another finalizer, a
//! second operator replica) makes the patch fail instead of overwriting
//! it; the next reconcile sees the new list. Never a server-side apply:
//! applying to an object that was just deleted would create it again.

use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;

use super::kinds::Profile;
use crate::OperatorError;

pub use spo_api::names::FINALIZER;

/// Whether the object carries the finalizer.
pub fn has(obj: &impl ResourceExt) -> bool {
    obj.finalizers().iter().any(|f| f == FINALIZER)
}

/// The patch adding the finalizer to an object whose list is `current`.
/// Without a list there is nothing to `test`, so the object's
/// `resourceVersion` is tested instead: any change since it was read
/// fails the patch.
pub fn add_patch(current: &[String], resource_version: Option<&str>) -> serde_json::Value {
    if current.is_empty() {
        json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
        ])
    } else {
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": current},
            {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER},
        ])
    }
}

/// The patch removing the finalizer, or `None` when it is not there.
pub fn remove_patch(current: &[String]) -> Option<serde_json::Value> {
    let i = current.iter().position(|f| f == FINALIZER)?;
    let path = format!("/metadata/finalizers/{i}");
    Some(json!([
        {"op": "test", "path": path, "value": FINALIZER},
        {"op": "remove", "path": path},
    ]))
}

/// What a guarded patch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Applied (or nothing was left to do).
    Done,
    /// The object changed since it was cached; nothing was written. The
    /// change's own watch event brings the next reconcile.
    Stale,
    /// The object is gone (a reconcile of a cached copy after its
    /// release): nothing was written, nothing is left to do.
    Gone,
}

/// Add the finalizer.
pub async fn add<K: Profile>(api: &Api<K>, obj: &K) -> Result<Outcome, OperatorError> {
    patch(api, obj, add_patch(obj.finalizers(), obj.meta().resource_version.as_deref()), "adding the finalizer to")
        .await
}

/// Remove the finalizer (nothing to do when it is gone already).
pub async fn remove<K: Profile>(api: &Api<K>, obj: &K) -> Result<Outcome, OperatorError> {
    match remove_patch(obj.finalizers()) {
        Some(p) => patch(api, obj, p, "removing the finalizer from").await,
        None => Ok(Outcome::Done),
    }
}

async fn patch<K: Profile>(
    api: &Api<K>,
    obj: &K,
    ops: serde_json::Value,
    doing: &str,
) -> Result<Outcome, OperatorError> {
    let name = obj.name_any();
    let action = || format!("{doing} {} {}/{}", K::KIND.as_str(), obj.namespace().unwrap_or_default(), name);
    let ops: json_patch::Patch = serde_json::from_value(ops)
        .map_err(|e| OperatorError::Kube { action: action(), source: kube::Error::SerdeError(e) })?;
    match api.patch(&name, &PatchParams::default(), &Patch::<()>::Json(ops)).await {
        Ok(_) => Ok(Outcome::Done),
        // Deleted meanwhile: nothing left to hold.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Outcome::Gone),
        // A `test` operation failed (the API server answers 422 Invalid,
        // without saying which operation): the cached object is behind.
        // The patches are well-formed and name a valid finalizer, so
        // nothing else makes them invalid.
        Err(kube::Error::Api(s)) if s.code == 409 || s.code == 422 => {
            tracing::debug!("{}: {}", action(), s.message);
            Ok(Outcome::Stale)
        }
        Err(source) => Err(OperatorError::Kube { action: action(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(doc: serde_json::Value, ops: serde_json::Value) -> Result<serde_json::Value, String> {
        let mut doc = doc;
        let ops: json_patch::Patch = serde_json::from_value(ops).map_err(|e| e.to_string())?;
        json_patch::patch(&mut doc, &ops).map_err(|e| e.to_string())?;
        Ok(doc)
    }

    #[test]
    fn add_to_an_object_without_finalizers() {
        let got = apply(json!({"metadata": {"name": "x", "resourceVersion": "7"}}), add_patch(&[], Some("7")))
            .expect("patch");
        assert_eq!(got["metadata"]["finalizers"], json!([FINALIZER]));
        let raced = apply(json!({"metadata": {"name": "x", "resourceVersion": "8"}}), add_patch(&[], Some("7")));
        assert!(raced.is_err(), "an object changed since it was read is not patched");
    }

    #[test]
    fn add_keeps_other_finalizers_and_fails_if_they_changed() {
        let current = vec!["other/one".to_owned()];
        let got = apply(json!({"metadata": {"finalizers": ["other/one"]}}), add_patch(&current, None)).expect("patch");
        assert_eq!(got["metadata"]["finalizers"], json!(["other/one", FINALIZER]));
        let raced = apply(json!({"metadata": {"finalizers": ["other/one", "other/two"]}}), add_patch(&current, None));
        assert!(raced.is_err(), "a list changed by someone else is not overwritten");
    }

    #[test]
    fn remove_takes_only_ours() {
        let current = vec!["a".to_owned(), FINALIZER.to_owned(), "b".to_owned()];
        let patch = remove_patch(&current).expect("present");
        let got = apply(json!({"metadata": {"finalizers": current}}), patch.clone()).expect("patch");
        assert_eq!(got["metadata"]["finalizers"], json!(["a", "b"]));
        // Someone removed "a" meanwhile: index 1 is no longer ours.
        assert!(apply(json!({"metadata": {"finalizers": [FINALIZER, "b"]}}), patch).is_err());
        assert_eq!(remove_patch(&["a".to_owned()]), None);
    }
}
