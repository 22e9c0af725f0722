//! Marking pods for recording: a pod created in a namespace labelled
//! `spo.x-k8s.io/enable-recording` that a `ProfileRecording` of that
//! namespace selects gets annotations naming the recording, the recorder
//! and the containers to record (see [`spo_api::recording`]); the agent of
//! its node does the rest.
//!
//! With `recorder: logs` the recorded containers also get the
//! log-everything seccomp profile ([`LOG_PROFILE`]) in place of any they
//! had (the user is warned): the audit log only sees calls a filter logs.
//!
//! When several recordings select a pod, the first by name wins and the
//! user is warned: a container recorded twice would make two profiles of
//! one run. A pod that already names a recording is left alone.

use std::sync::Arc;

use serde_json::{json, Value};

use super::cache::Caches;
use super::selector;
use spo_api::crds::{ProfileRecording, Recorder};
use spo_api::recording::{
    CONTAINERS_ANNOTATION, ENABLE_RECORDING_LABEL, LOG_PROFILE, RECORDER_ANNOTATION, RECORDING_ANNOTATION,
};

/// What marking did.
#[derive(Debug, Default)]
pub struct Marked {
    /// The patch (empty when nothing applies).
    pub patch: json_patch::Patch,
    /// Warnings for the user.
    pub warnings: Vec<String>,
}

/// Mark `pod` (JSON as received) in `namespace` for the recording that
/// selects it, if any.
pub fn mark(caches: &Caches, pod: &Value, namespace: &str) -> Marked {
    let mut marked = Marked::default();
    if caches.namespace_labels(namespace).is_some_and(|l| !l.contains_key(ENABLE_RECORDING_LABEL)) {
        return marked;
    }
    let annotations = pod.pointer("/metadata/annotations").and_then(Value::as_object);
    if annotations.is_some_and(|a| a.contains_key(RECORDING_ANNOTATION)) {
        return marked;
    }
    let labels = pod
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default();
    let mut selecting: Vec<Arc<ProfileRecording>> = caches
        .recordings
        .state_filter(|r| r.metadata.namespace.as_deref() == Some(namespace) && r.metadata.deletion_timestamp.is_none())
        .into_iter()
        .filter(|r| r.spec.kind == spo_api::crds::RecordedKind::SeccompProfile)
        .filter(|r| selector::matches(&r.spec.pod_selector, &labels))
        .collect();
    selecting.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let Some(recording) = selecting.first() else {
        return marked;
    };
    let name = recording.metadata.name.clone().unwrap_or_default();
    if selecting.len() > 1 {
        let others: Vec<&str> = selecting[1..].iter().filter_map(|r| r.metadata.name.as_deref()).collect();
        marked
            .warnings
            .push(format!("recorded by ProfileRecording {name} only; {} also select(s) this pod", others.join(", ")));
    }
    let names: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .filter(|c| recording.spec.containers.is_empty() || recording.spec.containers.iter().any(|w| w == c))
        .collect();
    if names.is_empty() {
        marked.warnings.push(format!("ProfileRecording {name} selects this pod but none of its containers"));
        return marked;
    }
    let mut out = pod.clone();
    let meta = &mut out["metadata"];
    if !meta.get("annotations").is_some_and(Value::is_object) {
        meta["annotations"] = json!({});
    }
    meta["annotations"][RECORDING_ANNOTATION] = json!(name);
    meta["annotations"][RECORDER_ANNOTATION] = json!(recording.spec.recorder.as_str());
    meta["annotations"][CONTAINERS_ANNOTATION] = json!(names.join(","));
    if recording.spec.recorder == Recorder::Logs {
        let count = pod.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len);
        for i in 0..count {
            let c = &mut out["spec"]["containers"][i];
            let cname = c.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            if !names.contains(&cname.as_str()) {
                continue;
            }
            if !c.get("securityContext").is_some_and(Value::is_object) {
                c["securityContext"] = json!({});
            }
            if let Some(old) = c["securityContext"].get("seccompProfile").filter(|v| !v.is_null()) {
                marked.warnings.push(format!(
                    "container {cname}: seccomp profile {old} replaced by the log-everything profile while recorded"
                ));
            }
            c["securityContext"]["seccompProfile"] = json!({"type": "Localhost", "localhostProfile": LOG_PROFILE});
        }
    }
    marked.patch = json_patch::diff(pod, &out);
    marked
}
