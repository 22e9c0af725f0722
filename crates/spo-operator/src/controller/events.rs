//! Kubernetes Events on profiles: a Warning when a node fails to install
//! a profile or refuses it (the daemon configuration does not allow it),
//! with SPO's reasons, so `kubectl describe` and event-based alerting see
//! what SPO users see. The `Ready` condition holds the current errors;
//! Events keep their history.
//!
//! Node reports are levels, reconciles run many times: an Event is
//! published when a node's error first appears or its message changes,
//! not at every reconcile. What was reported is kept in memory, so a new
//! leader reports the errors standing when it takes over once more (at
//! least once, never silently lost). Published through kube-runtime's
//! `Recorder` (the `events.k8s.io` API; repeated events become a series);
//! profiles are cluster-scoped, so their Events live in `default`, as
//! client-go puts them.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, ResourceExt};

use super::aggregate::NodeReport;
use super::kinds::{Profile, ProfileKind};
use super::metrics::Metrics;
use spo_api::crds::ProfileState;

/// The reporting controller's name in every Event.
pub const CONTROLLER: &str = "spo-operator";

/// What the node agents write when the daemon configuration keeps a
/// profile off the node (`spo_node::agent`): a refusal, not a failure.
const REFUSED: &str = "not allowed by the SecurityProfilesOperatorDaemon";
/// What they write for a profile that does not compile or validate.
const INVALID: &str = "invalid;";

/// The longest note the Events API accepts.
const MAX_NOTE: usize = 1024;

/// SPO's reason for a node's error `message` on a profile of `kind`.
pub fn reason(kind: ProfileKind, message: &str) -> &'static str {
    if message.starts_with(REFUSED) {
        return "ProfileNotAllowed";
    }
    match kind {
        ProfileKind::Seccomp if message.starts_with(INVALID) => "InvalidSeccompProfile",
        ProfileKind::Seccomp => "CannotSaveSeccompProfile",
        ProfileKind::Selinux | ProfileKind::RawSelinux => "CannotSaveSelinuxPolicy",
        ProfileKind::AppArmor => "CannotLoadAppArmorProfile",
    }
}

/// The note of an Event about `node`: `node NODE: MESSAGE`, cut (at a
/// character boundary, marked) to what the API accepts.
pub fn note(node: &str, message: &str) -> String {
    let full = format!("node {node}: {message}");
    if full.len() <= MAX_NOTE {
        return full;
    }
    const MARK: &str = " [...]";
    let mut end = MAX_NOTE - MARK.len();
    while !full.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARK}", &full[..end])
}

type Key = (ProfileKind, String, String);

/// What was reported, per profile and node: the digest of the message.
#[derive(Debug, Default)]
pub struct Reported {
    seen: Mutex<HashMap<Key, u64>>,
}

fn digest(message: &str) -> u64 {
    let mut h = DefaultHasher::new();
    message.hash(&mut h);
    h.finish()
}

impl Reported {
    /// What of `reports` on profile `name` of `kind` is new: `(reason,
    /// note)` for each node whose error appeared or changed since the last
    /// call; nodes without an error are forgotten, so an error coming back
    /// is reported again.
    pub fn news(&self, kind: ProfileKind, name: &str, reports: &[NodeReport<'_>]) -> Vec<(&'static str, String)> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for r in reports {
            let key = (kind, name.to_owned(), r.node.to_owned());
            if r.state != Some(ProfileState::Error) {
                seen.remove(&key);
                continue;
            }
            let message = r.message.unwrap_or("failed without a message");
            let d = digest(message);
            if seen.insert(key, d) != Some(d) {
                out.push((reason(kind, message), note(r.node, message)));
            }
        }
        out
    }

    /// Forget a profile that is gone.
    pub fn forget(&self, kind: ProfileKind, name: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|(k, n, _), _| !(*k == kind && n == name));
    }
}

/// Publishes the Events and remembers what it published.
#[derive(Clone)]
pub struct Events {
    recorder: Recorder,
    reported: Arc<Reported>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").field("reported", &self.reported).finish_non_exhaustive()
    }
}

impl Events {
    /// Events reported as [`CONTROLLER`] from replica `instance`.
    pub fn new(client: Client, instance: Option<String>, metrics: Arc<Metrics>) -> Events {
        let reporter = Reporter { controller: CONTROLLER.to_owned(), instance };
        Events { recorder: Recorder::new(client, reporter), reported: Arc::default(), metrics }
    }

    /// Forget a profile that is gone.
    pub fn forget(&self, kind: ProfileKind, name: &str) {
        self.reported.forget(kind, name);
    }

    /// Publish the new errors of `reports` on `obj`, in the background: an
    /// Event that cannot be written is logged, never a reconcile error.
    pub fn node_errors<K: Profile>(&self, obj: &K, reports: &[NodeReport<'_>]) {
        let news = self.reported.news(K::KIND, &obj.name_any(), reports);
        if news.is_empty() {
            return;
        }
        let reference = obj.object_ref(&());
        let recorder = self.recorder.clone();
        let metrics = self.metrics.clone();
        let what = format!("{} {}", K::KIND.as_str(), obj.name_any());
        tokio::spawn(async move {
            for (reason, note) in news {
                let event = Event {
                    type_: EventType::Warning,
                    reason: reason.to_owned(),
                    note: Some(note),
                    action: "Install".to_owned(),
                    secondary: None,
                };
                match recorder.publish(&event, &reference).await {
                    Ok(()) => Metrics::inc(&metrics.events),
                    Err(e) => tracing::warn!("publishing the {reason} event of {what}: {e}"),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_spos_per_kind() {
        let refused =
            "not allowed by the SecurityProfilesOperatorDaemon (spec.security.allowedSyscalls): not installed";
        assert_eq!(reason(ProfileKind::Seccomp, refused), "ProfileNotAllowed");
        assert_eq!(reason(ProfileKind::Seccomp, "invalid; not installed:\nspec.syscalls[0]"), "InvalidSeccompProfile");
        assert_eq!(reason(ProfileKind::Seccomp, "writing /var/lib/kubelet: read-only"), "CannotSaveSeccompProfile");
        assert_eq!(reason(ProfileKind::Selinux, "semodule failed"), "CannotSaveSelinuxPolicy");
        assert_eq!(reason(ProfileKind::RawSelinux, "invalid; not installed"), "CannotSaveSelinuxPolicy");
        assert_eq!(reason(ProfileKind::AppArmor, "apparmor_parser: syntax error"), "CannotLoadAppArmorProfile");
    }

    #[test]
    fn an_error_is_reported_once_until_it_changes_or_comes_back() {
        let r = Reported::default();
        let err =
            |node, message| NodeReport { node, state: Some(ProfileState::Error), message: Some(message), digest: None };
        let ok = |node| NodeReport { node, state: Some(ProfileState::Installed), message: None, digest: None };
        let first = r.news(ProfileKind::Seccomp, "p", &[err("a", "boom"), ok("b")]);
        assert_eq!(first, vec![("CannotSaveSeccompProfile", "node a: boom".to_owned())]);
        assert!(r.news(ProfileKind::Seccomp, "p", &[err("a", "boom"), ok("b")]).is_empty(), "a reconcile again");
        assert_eq!(r.news(ProfileKind::Seccomp, "p", &[err("a", "bang"), err("b", "boom")]).len(), 2, "changed, new");
        assert!(r.news(ProfileKind::Seccomp, "p", &[ok("a"), err("b", "boom")]).is_empty());
        assert_eq!(r.news(ProfileKind::Seccomp, "p", &[err("a", "bang"), err("b", "boom")]).len(), 1, "came back");
        assert_eq!(r.news(ProfileKind::AppArmor, "p", &[err("a", "bang")]).len(), 1, "another kind, same name");
        r.forget(ProfileKind::Seccomp, "p");
        assert_eq!(r.news(ProfileKind::Seccomp, "p", &[err("a", "bang")]).len(), 1, "forgotten");
    }

    #[test]
    fn notes_name_the_node_and_fit_the_api() {
        assert_eq!(note("n1", "boom"), "node n1: boom");
        let long = "é".repeat(2000);
        let n = note("n1", &long);
        assert!(n.len() <= MAX_NOTE && n.ends_with(" [...]"), "{} bytes", n.len());
    }
}
