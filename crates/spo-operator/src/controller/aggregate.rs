//! From per-node reports to one profile state: a pure function, so the
//! rules users see in `kubectl get` are tested by tables, not by clusters.
//!
//! The rules are SPO's: the worst state wins in the order
//! Error < Terminating < Partial < Disabled < Pending < InProgress < Installed,
//! a node without a report counts as Pending, and a profile installed on
//! some nodes while others are still on their way is Partial. The content
//! digest is kept only when every node reports the same one: only then may
//! a pod be pinned to that exact version everywhere.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use spo_api::crds::ProfileState;

/// What one existing node reports about a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeReport<'a> {
    /// The node's name.
    pub node: &'a str,
    /// Its state, `None` when the node has not reported yet.
    pub state: Option<ProfileState>,
    /// The node's message (the installer's error for `Error`).
    pub message: Option<&'a str>,
    /// SHA-256 of the content installed there.
    pub digest: Option<&'a str>,
}

impl<'a> NodeReport<'a> {
    /// A node that has not reported.
    pub fn missing(node: &'a str) -> NodeReport<'a> {
        NodeReport { node, state: None, message: None, digest: None }
    }
}

/// The profile-level facts that change the outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileFacts {
    /// `spec.disabled`.
    pub disabled: bool,
    /// The profile has a deletion timestamp.
    pub deleting: bool,
    /// Pods using it (`namespace/name`).
    pub workloads: usize,
}

/// The aggregated view written into the profile's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    /// `status.status`.
    pub state: ProfileState,
    /// The `Ready` condition's message.
    pub message: String,
    /// The digest every node reports, when they agree (lowercase hex).
    pub digest: Option<String>,
}

impl Aggregate {
    /// The `Ready` condition's status.
    pub fn ready(&self) -> bool {
        self.state == ProfileState::Installed
    }
}

/// How bad a state is: lower is worse (SPO's order).
pub fn severity(state: ProfileState) -> u8 {
    match state {
        ProfileState::Error => 0,
        ProfileState::Terminating => 1,
        ProfileState::Partial => 2,
        ProfileState::Disabled => 3,
        ProfileState::Pending => 4,
        ProfileState::InProgress => 5,
        ProfileState::Installed => 6,
    }
}

/// Fold the reports of every existing node into one state.
///
/// `reports` holds exactly one entry per node of the cluster (use
/// [`NodeReport::missing`] for a node without a status); reports of nodes
/// that no longer exist must be left out by the caller.
pub fn aggregate(reports: &[NodeReport<'_>], facts: &ProfileFacts) -> Aggregate {
    let node_state = |r: &NodeReport<'_>| {
        let s = r.state.unwrap_or(ProfileState::Pending);
        match s {
            ProfileState::Error | ProfileState::Terminating => s,
            _ if facts.disabled => ProfileState::Disabled,
            _ => s,
        }
    };
    let mut state = if facts.disabled { ProfileState::Disabled } else { ProfileState::Pending };
    if !reports.is_empty() {
        state = reports.iter().map(node_state).min_by_key(|s| severity(*s)).unwrap_or(state);
    }
    if facts.deleting && severity(ProfileState::Terminating) < severity(state) {
        state = ProfileState::Terminating;
    }
    let installed = reports.iter().filter(|r| node_state(r) == ProfileState::Installed).count();
    if matches!(state, ProfileState::Pending | ProfileState::InProgress) && installed > 0 {
        state = ProfileState::Partial;
    }
    Aggregate { state, message: message(state, reports, facts, installed), digest: common_digest(reports) }
}

fn message(state: ProfileState, reports: &[NodeReport<'_>], facts: &ProfileFacts, installed: usize) -> String {
    let total = reports.len();
    let nodes = |n: usize| if n == 1 { "1 node".to_owned() } else { format!("{n} nodes") };
    match state {
        ProfileState::Error => {
            let mut out = String::new();
            for r in reports.iter().filter(|r| r.state == Some(ProfileState::Error)) {
                if !out.is_empty() {
                    out.push('\n');
                }
                let _ = write!(out, "{}: {}", r.node, r.message.unwrap_or("failed without a message"));
            }
            out
        }
        ProfileState::Terminating => {
            let holding: Vec<&str> = reports.iter().filter(|r| r.state.is_some()).map(|r| r.node).collect();
            match (facts.workloads, holding.is_empty()) {
                (0, true) => "deleted; nothing holds it".to_owned(),
                (0, false) => format!("deleted; waiting for {} to remove it", holding.join(", ")),
                (1, _) => "deleted; in use by 1 pod".to_owned(),
                (n, _) => format!("deleted; in use by {n} pods"),
            }
        }
        ProfileState::Partial => {
            let missing: Vec<&str> =
                reports.iter().filter(|r| r.state != Some(ProfileState::Installed)).map(|r| r.node).collect();
            format!("installed on {installed} of {total} nodes; waiting for {}", missing.join(", "))
        }
        ProfileState::Disabled => "disabled: installed nowhere".to_owned(),
        ProfileState::Pending if total == 0 => "no nodes".to_owned(),
        ProfileState::Pending | ProfileState::InProgress => {
            let waiting = reports.iter().filter(|r| r.state != Some(ProfileState::Installed)).count();
            format!("waiting for {}", nodes(waiting))
        }
        ProfileState::Installed => format!("installed on {}", nodes(total)),
    }
}

/// The digest all nodes agree on, when there are nodes and each reports a
/// well-formed SHA-256 (64 hex digits, optionally prefixed `sha256:`).
/// Anything else yields `None`: the digest becomes part of a file path, so
/// a malformed one must never reach a pod.
pub fn common_digest(reports: &[NodeReport<'_>]) -> Option<String> {
    let mut digests = BTreeSet::new();
    for r in reports {
        let d = r.digest?;
        let d = d.strip_prefix("sha256:").unwrap_or(d);
        if d.len() != 64 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        digests.insert(d.to_ascii_lowercase());
    }
    if digests.len() == 1 {
        digests.pop_first()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProfileState::*;

    const D1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    fn r(node: &'static str, state: Option<ProfileState>) -> NodeReport<'static> {
        NodeReport { node, state, message: None, digest: None }
    }

    #[test]
    fn states_follow_spo_order() {
        let live = ProfileFacts::default();
        let disabled = ProfileFacts { disabled: true, ..ProfileFacts::default() };
        let deleting = ProfileFacts { deleting: true, ..ProfileFacts::default() };
        #[rustfmt::skip]
        let table: Vec<(&str, Vec<NodeReport<'static>>, &ProfileFacts, ProfileState)> = vec![
            ("no nodes", vec![], &live, Pending),
            ("no nodes, disabled", vec![], &disabled, Disabled),
            ("no nodes, deleting", vec![], &deleting, Terminating),
            ("one node not reported", vec![r("a", None)], &live, Pending),
            ("all installed", vec![r("a", Some(Installed)), r("b", Some(Installed))], &live, Installed),
            ("installing", vec![r("a", Some(InProgress)), r("b", Some(InProgress))], &live, InProgress),
            ("pending beats in progress", vec![r("a", Some(InProgress)), r("b", Some(Pending))], &live, Pending),
            ("some installed, one pending", vec![r("a", Some(Installed)), r("b", None)], &live, Partial),
            ("some installed, one in progress", vec![r("a", Some(Installed)), r("b", Some(InProgress))], &live, Partial),
            ("error wins over installed", vec![r("a", Some(Installed)), r("b", Some(Error))], &live, Error),
            ("error wins over terminating", vec![r("a", Some(Error))], &deleting, Error),
            ("node terminating", vec![r("a", Some(Installed)), r("b", Some(Terminating))], &live, Terminating),
            ("deleting while installed", vec![r("a", Some(Installed))], &deleting, Terminating),
            ("deleting while partial", vec![r("a", Some(Installed)), r("b", None)], &deleting, Terminating),
            ("disabled hides installed", vec![r("a", Some(Installed))], &disabled, Disabled),
            ("disabled keeps errors", vec![r("a", Some(Installed)), r("b", Some(Error))], &disabled, Error),
            ("node reports disabled", vec![r("a", Some(Installed)), r("b", Some(Disabled))], &live, Disabled),
        ];
        for (what, reports, facts, want) in table {
            assert_eq!(aggregate(&reports, facts).state, want, "{what}");
        }
    }

    #[test]
    fn ready_only_when_installed() {
        let installed = aggregate(&[r("a", Some(Installed))], &ProfileFacts::default());
        assert!(installed.ready());
        let partial = aggregate(&[r("a", Some(Installed)), r("b", None)], &ProfileFacts::default());
        assert!(!partial.ready());
    }

    #[test]
    fn messages_name_the_nodes_and_errors() {
        let reports = [
            NodeReport { node: "b", state: Some(Error), message: Some("semodule: exit 1"), digest: None },
            r("a", Some(Installed)),
            NodeReport { node: "c", state: Some(Error), message: None, digest: None },
        ];
        let agg = aggregate(&reports, &ProfileFacts::default());
        assert_eq!(agg.message, "b: semodule: exit 1\nc: failed without a message");

        let partial = aggregate(&[r("a", Some(Installed)), r("b", None)], &ProfileFacts::default());
        assert_eq!(partial.message, "installed on 1 of 2 nodes; waiting for b");
        let done = aggregate(&[r("a", Some(Installed))], &ProfileFacts::default());
        assert_eq!(done.message, "installed on 1 node");

        let in_use = ProfileFacts { deleting: true, workloads: 2, ..ProfileFacts::default() };
        assert_eq!(aggregate(&[r("a", Some(Installed))], &in_use).message, "deleted; in use by 2 pods");
        let unused = ProfileFacts { deleting: true, ..ProfileFacts::default() };
        assert_eq!(aggregate(&[r("a", Some(Installed))], &unused).message, "deleted; waiting for a to remove it");
        assert_eq!(aggregate(&[r("a", None)], &unused).message, "deleted; nothing holds it");
    }

    #[test]
    fn digest_only_when_every_node_agrees() {
        let with = |node, d| NodeReport { node, state: Some(Installed), message: None, digest: Some(d) };
        let prefixed = format!("sha256:{D1}");
        #[rustfmt::skip]
        let table: Vec<(&str, Vec<NodeReport<'_>>, Option<&str>)> = vec![
            ("no nodes", vec![], None),
            ("one node", vec![with("a", D1)], Some(D1)),
            ("two agree", vec![with("a", D1), with("b", D1)], Some(D1)),
            ("prefix accepted", vec![with("a", D1), with("b", &prefixed)], Some(D1)),
            ("two differ", vec![with("a", D1), with("b", D2)], None),
            ("one has none", vec![with("a", D1), r("b", Some(Installed))], None),
            ("not hex", vec![with("a", "../../etc/passwd")], None),
            ("too short", vec![with("a", "abc")], None),
        ];
        for (what, reports, want) in table {
            assert_eq!(aggregate(&reports, &ProfileFacts::default()).digest.as_deref(), want, "{what}");
        }
        let upper = D1.replace('1', "A");
        assert_eq!(common_digest(&[with("a", &upper)]), Some(upper.to_ascii_lowercase()));
    }
}
