//! The status the operator wants on a profile, and the server-side-apply
//! document that sets it.
//!
//! The operator owns these fields (`status`, the `Ready` condition,
//! `activeWorkloads` and SPO's `activeWorkloadsCount`, the reference field,
//! and for seccomp SPO's `path` and spo-rs's `pinnedProfile`) under the
//! field manager
//! `spo-operator`; other writers' conditions are left alone because
//! conditions are a list map keyed by type. A status already equal to the
//! wanted one is not written again, and the `Ready` condition keeps its
//! transition time while its truth does not change: a reconcile that
//! changes nothing writes nothing, so status writes never trigger
//! themselves.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::aggregate::Aggregate;
use super::kinds::{OwnedStatus, ProfileKind};
use spo_api::crds::{ProfileState, GROUP, VERSION};

/// The field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "spo-operator";

/// The status fields the operator wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// `status.status`.
    pub state: ProfileState,
    /// The `Ready` condition.
    pub ready: Condition,
    /// `status.activeWorkloads`, sorted.
    pub workloads: Vec<String>,
    /// What pods write, and where it is.
    pub refs: References,
}

/// What pods write to use a profile, and where the nodes keep it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    /// `status.localhostProfile` or `status.usage`.
    pub reference: String,
    /// `status.pinnedProfile`: the version every node runs (seccomp).
    pub pinned: Option<String>,
    /// `status.path`: the file on every node (seccomp).
    pub path: Option<String>,
}

impl From<&str> for References {
    fn from(reference: &str) -> Self {
        References { reference: reference.to_owned(), pinned: None, path: None }
    }
}

/// What a profile should show.
pub fn desired(
    agg: &Aggregate,
    refs: References,
    workloads: Vec<String>,
    generation: Option<i64>,
    current: &OwnedStatus,
    now: Time,
) -> Desired {
    let status = if agg.ready() { "True" } else { "False" };
    let last_transition_time = match &current.ready {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => now,
    };
    Desired {
        state: agg.state,
        ready: Condition {
            type_: "Ready".to_owned(),
            status: status.to_owned(),
            reason: agg.state.as_str().to_owned(),
            message: agg.message.clone(),
            observed_generation: generation,
            last_transition_time,
        },
        workloads,
        refs,
    }
}

/// Whether the object already shows `desired`.
pub fn up_to_date(current: &OwnedStatus, desired: &Desired) -> bool {
    let mut workloads = current.workloads.clone();
    workloads.sort();
    current.state == Some(desired.state)
        && current.reference.as_deref() == Some(desired.refs.reference.as_str())
        && current.pinned == desired.refs.pinned
        && current.path == desired.refs.path
        && workloads == desired.workloads
        && current.ready.as_ref() == Some(&desired.ready)
}

/// The apply document for the status subresource.
pub fn apply_body(kind: ProfileKind, desired: &Desired) -> serde_json::Value {
    let mut status = serde_json::json!({
        "status": desired.state.as_str(),
        "conditions": [desired.ready],
        kind.reference_field(): desired.refs.reference,
    });
    if !desired.workloads.is_empty() {
        status["activeWorkloads"] = serde_json::json!(desired.workloads);
        status["activeWorkloadsCount"] = serde_json::json!(desired.workloads.len());
    }
    if let Some(p) = &desired.refs.pinned {
        status["pinnedProfile"] = serde_json::json!(p);
    }
    if let Some(p) = &desired.refs.path {
        status["path"] = serde_json::json!(p);
    }
    serde_json::json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": kind.as_str(),
        "status": status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::aggregate::{aggregate, NodeReport, ProfileFacts};
    use k8s_openapi::jiff::Timestamp;

    fn time(s: i64) -> Time {
        Time(Timestamp::from_second(s).expect("time"))
    }

    fn installed() -> Aggregate {
        aggregate(
            &[NodeReport { node: "a", state: Some(ProfileState::Installed), message: None, digest: None }],
            &ProfileFacts::default(),
        )
    }

    #[test]
    fn a_second_reconcile_writes_nothing() {
        let agg = installed();
        let refs = |r: &str| References::from(r);
        let first = desired(&agg, refs("operator/web.json"), vec![], Some(1), &OwnedStatus::default(), time(100));
        let read_back = OwnedStatus {
            state: Some(first.state),
            ready: Some(first.ready.clone()),
            workloads: vec![],
            reference: Some(first.refs.reference.clone()),
            pinned: None,
            path: None,
        };
        let second = desired(&agg, refs("operator/web.json"), vec![], Some(1), &read_back, time(200));
        assert_eq!(second.ready.last_transition_time, time(100), "the transition time is kept");
        assert!(up_to_date(&read_back, &second));
        // A new generation, a new workload, a new reference or a new
        // pinned version is a change.
        assert!(!up_to_date(
            &read_back,
            &desired(&agg, refs("operator/web.json"), vec![], Some(2), &read_back, time(200))
        ));
        assert!(!up_to_date(
            &read_back,
            &desired(&agg, refs("operator/web.json"), vec!["ns/p".into()], Some(1), &read_back, time(200))
        ));
        assert!(!up_to_date(
            &read_back,
            &desired(&agg, refs("operator/x.json"), vec![], Some(1), &read_back, time(200))
        ));
        let pinned = References { pinned: Some("operator/web/d.json".into()), ..refs("operator/web.json") };
        assert!(!up_to_date(&read_back, &desired(&agg, pinned, vec![], Some(1), &read_back, time(200))));
    }

    #[test]
    fn the_transition_time_moves_when_readiness_flips() {
        let ready = desired(&installed(), "r".into(), vec![], None, &OwnedStatus::default(), time(100));
        let was = OwnedStatus { ready: Some(ready.ready), ..OwnedStatus::default() };
        let failing = aggregate(
            &[NodeReport { node: "a", state: Some(ProfileState::Error), message: Some("boom"), digest: None }],
            &ProfileFacts::default(),
        );
        let now = desired(&failing, "r".into(), vec![], None, &was, time(300));
        assert_eq!(now.ready.last_transition_time, time(300));
        assert_eq!(
            (now.ready.status.as_str(), now.ready.reason.as_str(), now.ready.message.as_str()),
            ("False", "Error", "a: boom")
        );
    }

    #[test]
    fn apply_document_names_the_kind_and_its_reference_field() {
        let d =
            desired(&installed(), "web.process".into(), vec!["ns/p".into()], Some(3), &OwnedStatus::default(), time(1));
        let body = apply_body(ProfileKind::Selinux, &d);
        assert_eq!(body["apiVersion"], "security-profiles-operator.x-k8s.io/v1");
        assert_eq!(body["kind"], "SelinuxProfile");
        assert_eq!(body["status"]["usage"], "web.process");
        assert_eq!(body["status"]["status"], "Installed");
        assert_eq!(body["status"]["activeWorkloads"], serde_json::json!(["ns/p"]));
        assert_eq!(body["status"]["activeWorkloadsCount"], 1);
        assert_eq!(body["status"]["conditions"][0]["type"], "Ready");
        assert_eq!(body["status"]["conditions"][0]["observedGeneration"], 3);
        let refs = References {
            reference: "operator/web.json".into(),
            pinned: Some("operator/web/d.json".into()),
            path: Some("/var/lib/kubelet/seccomp/operator/web.json".into()),
        };
        let empty = desired(&installed(), refs, vec![], None, &OwnedStatus::default(), time(1));
        let body = apply_body(ProfileKind::Seccomp, &empty);
        assert_eq!(body["status"]["localhostProfile"], "operator/web.json");
        assert_eq!(body["status"]["pinnedProfile"], "operator/web/d.json");
        assert_eq!(body["status"]["path"], "/var/lib/kubelet/seccomp/operator/web.json");
        assert!(body["status"].get("activeWorkloads").is_none(), "no workloads: the field is given up");
        assert!(body["status"].get("activeWorkloadsCount").is_none());
    }
}
