//! Recording in the cluster: the contract between the three parts that
//! take part, each in its own process.
//!
//! 1. The webhook marks a new pod that a `ProfileRecording` of its
//!    namespace selects (namespace labelled [`ENABLE_RECORDING_LABEL`]) with
//!    annotations naming the recording, the recorder and the containers.
//! 2. The agent of the pod's node records the marked containers and, when
//!    each ends, server-side applies what it saw into the recording's
//!    `status.recorded` (one entry per pod and container).
//! 3. The operator turns `status.recorded` into cluster-wide
//!    `SeccompProfile`s ([`wanted_profiles`]): one per container
//!    instance, or one per container name, the union over replicas, with
//!    `mergeStrategy: Containers`.
//!
//! Everything here is pure, so the naming and merging rules are tested
//! without a cluster.

use std::collections::{BTreeMap, BTreeSet};

use crate::crds::{MergeStrategy, ProfileRecording, RecordedContainer, SeccompProfileSpec};

/// Namespace label that turns recording on.
pub const ENABLE_RECORDING_LABEL: &str = "spo.x-k8s.io/enable-recording";
/// Pod annotation: the `ProfileRecording` that selected it.
pub const RECORDING_ANNOTATION: &str = "spo.x-k8s.io/recording";
/// Pod annotation: the recorder (`bpf`, `logs`).
pub const RECORDER_ANNOTATION: &str = "spo.x-k8s.io/recorder";
/// Pod annotation: the containers to record, comma-separated.
pub const CONTAINERS_ANNOTATION: &str = "spo.x-k8s.io/record-containers";
/// The localhost seccomp profile (below the kubelet's `seccomp/`) a
/// container recorded with `recorder: logs` runs under: every call allowed
/// and logged. spod writes it on every node, outside `operator/`, which
/// holds only profiles of the API.
pub const LOG_PROFILE: &str = "spo-rs/record-log.json";
/// Label on a profile made from a recording: the recording's name.
pub const RECORDED_BY_LABEL: &str = "spo.x-k8s.io/recording";
/// Label on a profile made from a recording: the recording's namespace
/// (profiles are cluster-wide, recordings are not).
pub const RECORDED_NAMESPACE_LABEL: &str = "spo.x-k8s.io/recording-namespace";

/// Annotation on a profile made from a recording: [`spec_digest`] of the
/// spec last written from the recording, so an edit by the user is kept
/// until the recording's result changes.
pub const RECORDED_SPEC_ANNOTATION: &str = "spo.x-k8s.io/recorded-spec";

/// A short, stable digest of `spec` as the recording would write it.
pub fn spec_digest(spec: &SeccompProfileSpec) -> String {
    let bytes = serde_json::to_vec(spec).unwrap_or_default();
    format!("{:016x}", fnv1a(&bytes))
}

/// Longest object name.
const MAX_NAME: usize = 253;

/// The name of a profile made by `recording` for `container`, of one pod
/// (`mergeStrategy: None`) or of every pod (`Containers`). Names that
/// would pass 253 characters keep a prefix and end in a hash of the whole,
/// so distinct inputs keep distinct names.
pub fn profile_name(recording: &str, container: &str, pod: Option<&str>) -> String {
    let full = match pod {
        Some(pod) => format!("{recording}-{container}-{pod}"),
        None => format!("{recording}-{container}"),
    };
    if full.len() <= MAX_NAME {
        return full;
    }
    let hash = format!("{:016x}", fnv1a(full.as_bytes()));
    let prefix = full[..MAX_NAME - hash.len() - 1].trim_end_matches(['-', '.']);
    format!("{prefix}-{hash}")
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The profiles a recording's results make, by name, sorted.
pub fn wanted_profiles(recording: &ProfileRecording) -> BTreeMap<String, SeccompProfileSpec> {
    let name = recording.metadata.name.as_deref().unwrap_or_default();
    let results = recording.status.as_ref().map(|s| s.recorded.as_slice()).unwrap_or_default();
    let mut groups: BTreeMap<String, Vec<&RecordedContainer>> = BTreeMap::new();
    for r in results.iter().filter(|r| r.error.is_none() && !r.syscalls.is_empty()) {
        let pod = match recording.spec.merge_strategy {
            MergeStrategy::None => Some(r.pod.as_str()),
            MergeStrategy::Containers => None,
        };
        groups.entry(profile_name(name, &r.container, pod)).or_default().push(r);
    }
    groups
        .into_iter()
        .filter_map(|(profile, members)| {
            Some((profile, spec_of(&members, recording.spec.disable_profile_after_recording)?))
        })
        .collect()
}

/// One profile allowing the union of `members`' syscalls, every other call
/// refused with `EPERM`.
fn spec_of(members: &[&RecordedContainer], disabled: bool) -> Option<SeccompProfileSpec> {
    let mut by_arch: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for m in members {
        for s in &m.syscalls {
            by_arch.entry(s.architecture.as_str()).or_default().extend(s.names.iter().map(String::as_str));
        }
    }
    let names: BTreeSet<&str> = by_arch.values().flatten().copied().collect();
    let spec = serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": by_arch.keys().collect::<Vec<_>>(),
        "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": names}],
        "state": if disabled { "Disabled" } else { "Enabled" },
    });
    serde_json::from_value(spec).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crds::{ProfileRecordingSpec, ProfileRecordingStatus, RecordedSyscalls};

    fn result(pod: &str, container: &str, names: &[&str]) -> RecordedContainer {
        RecordedContainer {
            pod: pod.into(),
            container: container.into(),
            node: "n".into(),
            recorder: "bpf".into(),
            syscalls: vec![RecordedSyscalls {
                architecture: "SCMP_ARCH_X86_64".into(),
                names: names.iter().map(|s| (*s).to_owned()).collect(),
            }],
            error: None,
        }
    }

    fn recording(merge: &str, results: Vec<RecordedContainer>) -> ProfileRecording {
        let spec: ProfileRecordingSpec = serde_json::from_value(serde_json::json!({
            "kind": "SeccompProfile", "recorder": "Bpf", "podSelector": {}, "mergeStrategy": merge,
        }))
        .expect("spec");
        let mut r = ProfileRecording::new("rec", spec);
        r.status = Some(ProfileRecordingStatus { recorded: results, ..Default::default() });
        r
    }

    #[test]
    fn one_profile_per_instance_or_per_container() {
        let results = vec![
            result("web-1", "app", &["read", "write"]),
            result("web-2", "app", &["read", "openat"]),
            result("web-1", "sidecar", &["nanosleep"]),
            RecordedContainer { error: Some("no eBPF".into()), syscalls: vec![], ..result("web-3", "app", &[]) },
        ];
        let none = wanted_profiles(&recording("None", results.clone()));
        assert_eq!(none.keys().collect::<Vec<_>>(), ["rec-app-web-1", "rec-app-web-2", "rec-sidecar-web-1"]);
        let merged = wanted_profiles(&recording("Containers", results));
        assert_eq!(merged.keys().collect::<Vec<_>>(), ["rec-app", "rec-sidecar"]);
        let app = serde_json::to_value(&merged["rec-app"]).expect("json");
        assert_eq!(app["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(app["syscalls"][0]["names"], serde_json::json!(["openat", "read", "write"]));
        assert_eq!(app["architectures"], serde_json::json!(["SCMP_ARCH_X86_64"]));
    }

    #[test]
    fn long_names_stay_valid_and_distinct() {
        let long = "p".repeat(240);
        let a = profile_name("rec", "app", Some(&format!("{long}-a")));
        let b = profile_name("rec", "app", Some(&format!("{long}-b")));
        assert_ne!(a, b);
        for n in [&a, &b] {
            assert!(n.len() <= 253, "{}", n.len());
            spo_model::objname::check_object_name(n).expect("valid name");
        }
        assert_eq!(profile_name("rec", "app", None), "rec-app");
    }

    #[test]
    fn the_digest_follows_the_result() {
        let one = wanted_profiles(&recording("Containers", vec![result("p1", "c", &["read"])]));
        let same = wanted_profiles(&recording("Containers", vec![result("p2", "c", &["read"])]));
        let more = wanted_profiles(&recording("Containers", vec![result("p1", "c", &["read", "write"])]));
        let digest = |m: &BTreeMap<String, SeccompProfileSpec>| spec_digest(&m["rec-c"]);
        assert_eq!(digest(&one), digest(&same), "the same calls from another replica");
        assert_ne!(digest(&one), digest(&more));
        assert_eq!(digest(&one).len(), 16);
    }
}
