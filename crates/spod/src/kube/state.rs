//! What spod knows of the cluster, and what it still has to tell it.
//!
//! Pure bookkeeping, no I/O but the mirror: watch events go in
//! ([`State::observe`], [`State::forget`], the `Init` family), the agent's
//! status snapshot goes in ([`State::plan`]) and requests to the API server
//! come out ([`Action`]); their outcomes go back in ([`State::settle`]).
//! Only differences are sent: a thousand installed profiles cost one status
//! write each, once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use spo_api::crds::ProfileState;

use super::mirror::{Mirror, ProfileKey};
use super::report::{self, Desired};
use crate::SpodError;
use spo_node::status::{NodeStatus, ProblemReport, ProfileKind, ProfileStatus};

/// A profile object as a watch event shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Kind, namespace and name.
    pub key: ProfileKey,
    /// `metadata.uid`.
    pub uid: String,
    /// `apiVersion`, for the owner reference.
    pub api_version: String,
    /// Whether `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// How many entries `status.activeWorkloads` has.
    pub active_workloads: usize,
    /// The manifest to mirror ([`super::mirror::manifest`]).
    pub manifest: Vec<u8>,
}

/// Where a profile is in its life on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    /// To be installed.
    Live,
    /// Deleted, but workloads still use it: stays, reported `Terminating`.
    InUse(usize),
    /// Deleted and unused: taken out of the mirror; its node status goes
    /// once the agent has removed it.
    Releasing,
}

#[derive(Debug)]
struct Tracked {
    uid: String,
    api_version: String,
    life: Life,
    /// Whether the node status object exists (as far as spod knows).
    applied: bool,
    /// What its status says.
    reported: Option<Desired>,
    /// The agent status last turned into a [`Desired`], and what it gave.
    rendered: Option<(ProfileStatus, Desired)>,
    /// Requests that failed in a row, and when to try again: a namespace
    /// being deleted or a missing permission must not turn into a request
    /// (and a log line) every round.
    failures: u32,
    next_try: Option<Instant>,
}

impl Tracked {
    /// After a failed request wait 100 ms, doubling up to [`MAX_BACKOFF`];
    /// after a good one, not at all.
    fn back_off(&mut self, failed: bool) {
        if failed {
            self.failures = self.failures.saturating_add(1);
            let wait = Duration::from_millis(100).saturating_mul(1 << self.failures.min(16)).min(MAX_BACKOFF);
            self.next_try = Some(Instant::now() + wait);
        } else {
            self.failures = 0;
            self.next_try = None;
        }
    }

    fn new(uid: String, api_version: String, life: Life) -> Tracked {
        Tracked { uid, api_version, life, applied: false, reported: None, rendered: None, failures: 0, next_try: None }
    }
}

/// The longest wait before a failed request is tried again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A request to the API server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Apply the node status object with its status: one request, which
    /// creates the object the first time.
    Apply {
        /// The profile.
        key: ProfileKey,
        /// Its uid (owner reference).
        uid: String,
        /// Its `apiVersion` (owner reference).
        api_version: String,
        /// The status to apply.
        status: Desired,
    },
    /// Delete the node status.
    Delete {
        /// The profile.
        key: ProfileKey,
        /// Its uid when it was released.
        uid: String,
    },
}

/// How an [`Action`] went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Done,
    /// The node status object does not exist (deleted behind spod's back).
    NotFound,
    /// Failed; retried at the next round.
    Failed(String),
}

/// spod's view of the profiles in the cluster.
#[derive(Debug)]
pub struct State {
    mirror: Mirror,
    profiles: BTreeMap<ProfileKey, Tracked>,
    /// Node statuses found at start, by profile: uid of the owner and
    /// what the status said ([`State::known_status`]).
    known: HashMap<ProfileKey, (String, Option<Desired>)>,
    listing: BTreeMap<ProfileKind, BTreeSet<ProfileKey>>,
    synced: BTreeSet<ProfileKind>,
}

impl State {
    /// An empty state mirroring into `mirror`.
    pub fn new(mirror: Mirror) -> State {
        State {
            mirror,
            profiles: BTreeMap::new(),
            known: HashMap::new(),
            listing: BTreeMap::new(),
            synced: BTreeSet::new(),
        }
    }

    /// A node status of this node that exists already (spod restarted):
    /// owned by the profile with `uid`, saying `reported`. A profile seen
    /// later with that uid is not applied again, and its status only when
    /// the agent says something else.
    pub fn known_status(&mut self, key: ProfileKey, uid: String, reported: Option<Desired>) {
        self.known.insert(key, (uid, reported));
    }

    /// How many profiles are tracked.
    pub fn len(&self) -> usize {
        self.profiles.len()
    }

    /// Whether no profile is tracked.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    /// An object was added or changed.
    pub fn observe(&mut self, o: Observed) -> Result<(), SpodError> {
        if let Some(seen) = self.listing.get_mut(&o.key.kind) {
            seen.insert(o.key.clone());
        }
        let life = match (o.deleting, o.active_workloads) {
            (false, _) => Life::Live,
            (true, 0) => Life::Releasing,
            (true, n) => Life::InUse(n),
        };
        if life == Life::Releasing {
            self.mirror.remove(&o.key)?;
        } else {
            self.mirror.write(&o.key, &o.manifest)?;
        }
        let known = self.known.remove(&o.key);
        let t = self.profiles.entry(o.key).or_insert_with(|| {
            let mut t = Tracked::new(o.uid.clone(), o.api_version.clone(), life);
            if let Some((uid, reported)) = known.filter(|(uid, _)| *uid == o.uid) {
                t.uid = uid;
                t.applied = true;
                t.reported = reported;
            }
            t
        });
        if t.uid != o.uid {
            // Deleted and created again under the same name.
            *t = Tracked::new(o.uid, o.api_version, life);
        }
        t.life = life;
        Ok(())
    }

    /// An object is gone from the API server.
    pub fn forget(&mut self, key: &ProfileKey) -> Result<(), SpodError> {
        self.mirror.remove(key)?;
        if let Some(t) = self.profiles.get_mut(key) {
            t.life = Life::Releasing;
        }
        Ok(())
    }

    /// A watch of `kind` (re)starts listing.
    pub fn init(&mut self, kind: ProfileKind) {
        self.listing.insert(kind, BTreeSet::new());
    }

    /// The listing of `kind` is complete: what it did not show is gone,
    /// including manifests left by an earlier run. Returns whether this
    /// completed the first listing of every kind.
    pub fn init_done(&mut self, kind: ProfileKind) -> Result<bool, SpodError> {
        let seen = self.listing.remove(&kind).unwrap_or_default();
        let gone: Vec<ProfileKey> =
            self.profiles.keys().filter(|k| k.kind == kind && !seen.contains(*k)).cloned().collect();
        for key in gone {
            self.forget(&key)?;
        }
        for key in self.mirror.keys().into_iter().filter(|k| k.kind == kind && !seen.contains(k)) {
            self.mirror.remove(&key)?;
        }
        let first = !self.synced.contains(&kind);
        self.synced.insert(kind);
        Ok(first && ProfileKind::ALL.iter().all(|k| self.synced.contains(k)))
    }

    /// Compare the agent's status with what the node statuses say and list
    /// the requests that would make them agree.
    pub fn plan(&mut self, node: &NodeStatus) -> Vec<Action> {
        let agent: HashMap<(ProfileKind, &str), &ProfileStatus> =
            node.profiles.iter().map(|p| ((p.kind, p.name.as_str()), p)).collect();
        let mut file_problems: HashMap<PathBuf, Vec<ProblemReport>> = HashMap::new();
        for p in &node.file_errors {
            if let Some(l) = &p.location {
                file_problems.entry(l.file.clone()).or_default().push(p.clone());
            }
        }
        let mut actions = Vec::new();
        let now = Instant::now();
        for (key, t) in &mut self.profiles {
            if t.next_try.is_some_and(|at| now < at) {
                continue;
            }
            let name = key.agent_name();
            let seen = agent.get(&(key.kind, name.as_str())).copied();
            if t.life == Life::Releasing {
                if seen.is_none_or(|p| p.version.is_none()) {
                    actions.push(Action::Delete { key: key.clone(), uid: t.uid.clone() });
                }
                continue;
            }
            let mut desired = match seen {
                Some(p) => Some(match &t.rendered {
                    Some((last, d)) if last == p => d.clone(),
                    _ => {
                        let text = (!p.errors.is_empty())
                            .then(|| std::fs::read_to_string(self.mirror.path(key)).ok())
                            .flatten();
                        let d = report::from_agent(p, text.as_deref());
                        t.rendered = Some((p.clone(), d.clone()));
                        d
                    }
                }),
                None => file_problems.get(&self.mirror.path(key)).map(|problems| {
                    let text = std::fs::read_to_string(self.mirror.path(key)).ok();
                    report::from_file_problems(problems, text.as_deref())
                }),
            };
            if let Life::InUse(n) = t.life {
                desired = Some(Desired {
                    state: ProfileState::Terminating,
                    message: Some(format!("deleted; kept while {n} workload(s) use it")),
                    digest: desired.and_then(|d| d.digest),
                });
            }
            // Nothing is written before the agent has something to say: a
            // node status without a state tells the operator no more than
            // a missing one, and would cost a second request.
            if let Some(status) = desired.filter(|d| !t.applied || t.reported.as_ref() != Some(d)) {
                actions.push(Action::Apply {
                    key: key.clone(),
                    uid: t.uid.clone(),
                    api_version: t.api_version.clone(),
                    status,
                });
            }
        }
        actions
    }

    /// Record how the requests of [`State::plan`] went.
    pub fn settle(&mut self, results: Vec<(Action, Outcome)>) {
        for (action, outcome) in results {
            match action {
                Action::Apply { key, uid, status, .. } => {
                    let Some(t) = self.profiles.get_mut(&key).filter(|t| t.uid == uid) else {
                        continue;
                    };
                    t.back_off(matches!(outcome, Outcome::Failed(_)));
                    match outcome {
                        Outcome::Done => {
                            t.applied = true;
                            t.reported = Some(status);
                        }
                        Outcome::NotFound => {
                            t.applied = false;
                            t.reported = None;
                        }
                        Outcome::Failed(_) => {}
                    }
                }
                Action::Delete { key, uid } => {
                    let released = self.profiles.get(&key).is_some_and(|t| t.uid == uid && t.life == Life::Releasing);
                    if released && matches!(outcome, Outcome::Done | Outcome::NotFound) {
                        self.profiles.remove(&key);
                    } else if let Some(t) = self.profiles.get_mut(&key) {
                        t.back_off(matches!(outcome, Outcome::Failed(_)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spo_node::status::{Mode, Phase};

    fn observed(name: &str, uid: &str) -> Observed {
        Observed {
            key: ProfileKey::new(ProfileKind::SeccompProfile, name),
            uid: uid.into(),
            api_version: "security-profiles-operator.x-k8s.io/v1".into(),
            deleting: false,
            active_workloads: 0,
            manifest: format!("{{\"name\":\"{name}\"}}").into_bytes(),
        }
    }

    fn agent(name: &str, phase: Phase, version: Option<&str>) -> ProfileStatus {
        ProfileStatus {
            kind: ProfileKind::SeccompProfile,
            name: name.to_owned(),
            status: phase,
            mode: Mode::Enforce,
            source: None,
            version: version.map(str::to_owned),
            path: None,
            localhost_profile: None,
            errors: Vec::new(),
            message: None,
            in_use_by: 0,
            updated: 0,
        }
    }

    fn node(profiles: Vec<ProfileStatus>) -> NodeStatus {
        NodeStatus { profiles, ..NodeStatus::default() }
    }

    fn done(actions: Vec<Action>) -> Vec<(Action, Outcome)> {
        actions.into_iter().map(|a| (a, Outcome::Done)).collect()
    }

    fn state() -> (tempfile::TempDir, State) {
        let d = tempfile::tempdir().unwrap();
        let m = Mirror::open(d.path().join("mirror")).unwrap();
        (d, State::new(m))
    }

    #[test]
    fn objects_are_created_then_only_changes_are_reported() {
        let (_d, mut s) = state();
        s.observe(observed("a", "u1")).unwrap();
        let key = observed("a", "u1").key;
        assert!(s.mirror.path(&key).is_file());
        // Before the agent has seen it: nothing to write yet.
        assert!(s.plan(&node(vec![])).is_empty());
        // Installed: one write (object and state together), then nothing.
        let n = node(vec![agent("a", Phase::Installed, Some("h1"))]);
        let plan = s.plan(&n);
        let [Action::Apply { status: d, .. }] = &plan[..] else { panic!("{plan:?}") };
        assert_eq!((d.state, d.digest.as_deref()), (ProfileState::Installed, Some("h1")));
        s.settle(done(plan));
        assert!(s.plan(&n).is_empty());
        // A failed write is tried again, after a pause.
        let n2 = node(vec![agent("a", Phase::Installed, Some("h2"))]);
        let plan = s.plan(&n2);
        s.settle(plan.into_iter().map(|a| (a, Outcome::Failed("boom".into()))).collect());
        assert!(s.plan(&n2).is_empty(), "backing off");
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(s.plan(&n2).len(), 1);
        // A node status deleted behind our back is created again.
        let plan = s.plan(&n2);
        s.settle(plan.into_iter().map(|a| (a, Outcome::NotFound)).collect());
        assert!(matches!(&s.plan(&n2)[..], [Action::Apply { .. }]));
    }

    #[test]
    fn deletion_waits_for_workloads_then_for_the_agent() {
        let (_d, mut s) = state();
        s.observe(observed("a", "u1")).unwrap();
        let key = observed("a", "u1").key;
        let installed = node(vec![agent("a", Phase::Installed, Some("h1"))]);
        let plan = s.plan(&installed);
        s.settle(done(plan));
        // Deleted while two workloads use it: stays, Terminating.
        s.observe(Observed { deleting: true, active_workloads: 2, ..observed("a", "u1") }).unwrap();
        assert!(s.mirror.path(&key).is_file());
        let plan = s.plan(&installed);
        let [Action::Apply { status: d, .. }] = &plan[..] else { panic!("{plan:?}") };
        assert_eq!(d.state, ProfileState::Terminating);
        assert_eq!(d.digest.as_deref(), Some("h1"));
        s.settle(done(plan));
        // Released: out of the mirror; the node status waits for the agent.
        s.observe(Observed { deleting: true, active_workloads: 0, ..observed("a", "u1") }).unwrap();
        assert!(!s.mirror.path(&key).exists());
        assert!(s.plan(&installed).is_empty());
        let removed = node(vec![agent("a", Phase::Terminating, None)]);
        let plan = s.plan(&removed);
        assert!(matches!(&plan[..], [Action::Delete { .. }]), "{plan:?}");
        s.settle(done(plan));
        assert!(s.is_empty());
        assert!(s.plan(&node(vec![])).is_empty());
    }

    #[test]
    fn a_relist_forgets_what_it_no_longer_shows_and_stale_manifests_go() {
        let (_d, mut s) = state();
        // A manifest left by an earlier run.
        let stale = ProfileKey::new(ProfileKind::SeccompProfile, "x");
        s.mirror.write(&stale, b"{}").unwrap();
        for kind in ProfileKind::ALL {
            s.init(kind);
        }
        s.observe(observed("a", "u1")).unwrap();
        s.observe(observed("b", "u2")).unwrap();
        let mut all = false;
        for kind in ProfileKind::ALL {
            all = s.init_done(kind).unwrap();
        }
        assert!(all, "the last first listing completes the sync");
        assert!(!s.mirror.path(&stale).exists());
        // A restarted watch that no longer shows `b`.
        s.init(ProfileKind::SeccompProfile);
        s.observe(observed("a", "u1")).unwrap();
        assert!(!s.init_done(ProfileKind::SeccompProfile).unwrap(), "only the first sync counts");
        assert!(!s.mirror.path(&observed("b", "u2").key).exists());
        let plan = s.plan(&node(vec![agent("a", Phase::Pending, None)]));
        assert!(plan.iter().any(|a| matches!(a, Action::Delete { key, .. } if key.name == "b")), "{plan:?}");
    }

    #[test]
    fn a_restarted_spod_writes_only_what_changed() {
        let (_d, mut s) = state();
        let installed = Desired { state: ProfileState::Installed, message: None, digest: Some("h1".into()) };
        s.known_status(observed("a", "u1").key, "u1".into(), Some(installed));
        s.known_status(observed("b", "u2").key, "u2".into(), None);
        // `c` was deleted and created again while spod was down.
        s.known_status(observed("c", "old").key, "old".into(), None);
        for (name, uid) in [("a", "u1"), ("b", "u2"), ("c", "u3")] {
            s.observe(observed(name, uid)).unwrap();
        }
        let n = node(vec![
            agent("a", Phase::Installed, Some("h1")),
            agent("b", Phase::Installed, Some("h2")),
            agent("c", Phase::Installed, Some("h3")),
        ]);
        let plan = s.plan(&n);
        let summary: Vec<&str> = plan
            .iter()
            .map(|a| match a {
                Action::Apply { key, .. } | Action::Delete { key, .. } => key.name.as_str(),
            })
            .collect();
        assert_eq!(summary, ["b", "c"]);
    }

    #[test]
    fn a_manifest_the_agent_cannot_take_is_an_error_of_its_profile() {
        let (_d, mut s) = state();
        s.observe(observed("a", "u1")).unwrap();
        let file = s.mirror.path(&observed("a", "u1").key);
        let n = NodeStatus {
            file_errors: vec![ProblemReport {
                location: Some(spo_node::status::Location { file, line: 1, column: 1 }),
                message: "annotation `spo-rs.io/mode` is `loud`".into(),
                help: Some("use `enforce` or `complain`".into()),
            }],
            ..NodeStatus::default()
        };
        let plan = s.plan(&n);
        let [Action::Apply { status: d, .. }] = &plan[..] else { panic!("{plan:?}") };
        assert_eq!(d.state, ProfileState::Error);
        let m = d.message.as_deref().unwrap_or_default();
        assert!(m.contains("`loud` (help: use `enforce` or `complain`)"), "{m}");
    }

    #[test]
    fn a_new_uid_under_the_same_name_starts_over() {
        let (_d, mut s) = state();
        s.observe(observed("a", "u1")).unwrap();
        let n = node(vec![agent("a", Phase::Installed, Some("h1"))]);
        let plan = s.plan(&n);
        s.settle(done(plan));
        s.observe(observed("a", "u2")).unwrap();
        let plan = s.plan(&n);
        let [Action::Apply { uid, .. }] = &plan[..] else { panic!("{plan:?}") };
        assert_eq!(uid, "u2");
    }
}
