//! The agent: from a directory of manifests to profiles in force, with a
//! status that tells the truth.
//!
//! One loop, one thread: every scan interval the [`manifests::Scanner`]
//! reports changed files; the agent rebuilds the catalog of documents
//! (first definition of a kind/name wins, later ones are reported), and
//! for each document whose text changed asks its [`Installer`] to compile
//! and install it. Installs happen before removals, so renaming a profile
//! never leaves a gap. What can go wrong leaves the previous version in
//! force and says so:
//!
//! - a file with a syntax error: every profile it defined keeps its
//!   installed version and shows `Error` with the location;
//! - an invalid profile: `Error` with every diagnostic; the version in
//!   force (if any) is still reported as `version`;
//! - an install that fails: `Error`, retried on the next scan.
//!
//! A deleted profile is `Terminating`: its current file goes at once (no
//! new container can reference it) and its versions stay while a running
//! process uses them (the verifier says which).

pub mod installer;
pub mod lsm;
pub mod manifests;
mod memory;
pub mod policy;
pub mod seccomp;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use installer::{Catalog, Installed, Installer, ManifestDoc, Rejected};
use manifests::{report, ParsedFile, Scanner};

use crate::enrich::{Attributor, EventRing, StreamCounters};
use crate::metrics::Metrics;
use crate::status::{EnricherStatus, Mode, NodeStatus, Phase, ProblemReport, ProfileKind, ProfileStatus};
use crate::store::sha256_hex;
use crate::verify::{self, ProfileIndex};
use crate::NodeError;

/// Agent settings.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The manifests directory.
    pub manifests: PathBuf,
    /// The kubelet root (`/var/lib/kubelet`).
    pub kubelet_root: PathBuf,
    /// The agent's own state (SELinux policy store, event log).
    pub state: PathBuf,
    /// Node name for status and metrics.
    pub node: String,
    /// How often the manifests are scanned.
    pub interval: Duration,
    /// How often running processes are verified.
    pub verify_interval: Duration,
    /// Where `/proc` is.
    pub proc_root: PathBuf,
    /// The manifests are only ever replaced atomically (the Kubernetes
    /// mirror): read changes at once instead of waiting for them to settle.
    pub atomic_writer: bool,
    /// Keep every version of a profile until the profile is deleted, not
    /// only those running processes use: in a cluster, pods are pinned to a
    /// version (`operator/NAME/SHA256.json`) and a container restarting
    /// on this node needs its file even while no process of it runs.
    pub keep_versions: bool,
    /// What a manifest may cost (size, nesting, rules...): the limits
    /// `spoc` and the admission webhook apply too.
    pub limits: spo_parse::Limits,
}

impl AgentConfig {
    /// Settings with the defaults for everything but the directories.
    pub fn new(manifests: PathBuf, kubelet_root: PathBuf, state: PathBuf) -> AgentConfig {
        AgentConfig {
            manifests,
            kubelet_root,
            state,
            node: hostname(),
            interval: Duration::from_millis(250),
            verify_interval: Duration::from_secs(1),
            proc_root: PathBuf::from("/proc"),
            atomic_writer: false,
            keep_versions: false,
            limits: spo_parse::Limits::default(),
        }
    }
}

/// This machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// State shared between the agent loop, the enricher and the HTTP server.
#[derive(Debug)]
pub struct Shared {
    /// The last published status.
    pub status: RwLock<NodeStatus>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Recent audit events.
    pub ring: Arc<EventRing>,
    /// Audit stream counters.
    pub counters: Arc<StreamCounters>,
    /// Process attribution.
    pub attributor: Arc<Attributor>,
    /// The audit source's name and, when there is none, why.
    pub source: RwLock<(String, Option<String>)>,
    /// Containers recorded from the audit log.
    pub log_recordings: Arc<crate::enrich::recordings::LogRecordings>,
    /// What the cluster lets this node install ([`policy`]).
    pub policy: RwLock<policy::NodePolicy>,
    /// Bumped at every change of `policy`.
    pub policy_generation: std::sync::atomic::AtomicU64,
    /// Whether audit records are attributed and logged (the daemon
    /// configuration's `enricher.enableLogEnricher`; on when standalone).
    pub enrich_logs: std::sync::atomic::AtomicBool,
    /// Whether `recorder: Bpf` recordings run (the daemon configuration's
    /// `enricher.enableBpfRecorder`; on when standalone).
    pub bpf_recorder: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Shared state with bundles looked up through `bundle_patterns`.
    pub fn new(bundle_patterns: Vec<String>) -> Shared {
        Shared {
            status: RwLock::new(NodeStatus::default()),
            metrics: Arc::new(Metrics::default()),
            ring: Arc::new(EventRing::default()),
            counters: Arc::new(StreamCounters::default()),
            attributor: Arc::new(Attributor::new(bundle_patterns)),
            source: RwLock::new(("none".into(), None)),
            log_recordings: Arc::default(),
            policy: RwLock::default(),
            policy_generation: Default::default(),
            enrich_logs: std::sync::atomic::AtomicBool::new(true),
            bpf_recorder: std::sync::atomic::AtomicBool::new(true),
        }
    }

    /// The status now, with live enricher counters.
    pub fn snapshot(&self) -> NodeStatus {
        let mut s = self.status.read().map(|g| g.clone()).unwrap_or_default();
        let (source, error) = self.source.read().map(|g| g.clone()).unwrap_or_default();
        s.enricher = EnricherStatus {
            source,
            records: self.counters.records.load(Ordering::Relaxed),
            events: self.counters.events.load(Ordering::Relaxed),
            lost: self.counters.lost.load(Ordering::Relaxed),
            error,
        };
        s
    }
}

type Key = (ProfileKind, String);

#[derive(Debug)]
struct Entry {
    status: ProfileStatus,
    /// Fingerprint of the document last acted on.
    doc_key: Option<String>,
    installed: Option<Installed>,
    retry: bool,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The node agent.
pub struct Agent {
    cfg: AgentConfig,
    scanner: Scanner,
    files: BTreeMap<PathBuf, ParsedFile>,
    last_names: BTreeMap<PathBuf, Vec<Key>>,
    installers: Vec<Box<dyn Installer>>,
    entries: BTreeMap<Key, Entry>,
    shared: Arc<Shared>,
    in_use: BTreeMap<Key, (BTreeSet<String>, usize)>,
    file_errors: Vec<ProblemReport>,
    ready: bool,
    missing: BTreeMap<ProfileKind, String>,
    dir_unreadable: bool,
    last_verify: Option<Instant>,
    processes: Vec<crate::status::ProcessCheck>,
    /// The policy generation last acted on.
    policy_seen: u64,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("manifests", &self.cfg.manifests).field("profiles", &self.entries.len()).finish()
    }
}

impl Agent {
    /// An agent with the built-in seccomp installer.
    pub fn new(cfg: AgentConfig, shared: Arc<Shared>) -> Result<Agent, NodeError> {
        let seccomp = seccomp::SeccompInstaller::new(&cfg.kubelet_root)?;
        crate::store::atomic::ensure_dir(&cfg.state)?;
        let mut a = Agent {
            scanner: Scanner::new(&cfg.manifests, cfg.interval).immediate(cfg.atomic_writer).limits(cfg.limits),
            cfg,
            files: BTreeMap::new(),
            last_names: BTreeMap::new(),
            installers: Vec::new(),
            entries: BTreeMap::new(),
            shared,
            in_use: BTreeMap::new(),
            file_errors: Vec::new(),
            ready: false,
            missing: BTreeMap::new(),
            dir_unreadable: false,
            last_verify: None,
            processes: Vec::new(),
            policy_seen: 0,
        };
        a.add_installer(Box::new(seccomp));
        Ok(a)
    }

    /// Add an installer; it takes over its kinds from any earlier one.
    pub fn add_installer(&mut self, mut installer: Box<dyn Installer>) {
        installer.follow_policy(self.shared.clone());
        let kinds = installer.kinds().to_vec();
        self.installers.retain(|i| !i.kinds().iter().any(|k| kinds.contains(k)));
        self.installers.push(installer);
    }

    /// Say why `kind` has no installer on this node; profiles of that kind
    /// stay `Pending` with this message.
    pub fn explain_missing(&mut self, kind: ProfileKind, why: &str) {
        self.missing.insert(kind, why.to_owned());
    }

    /// The shared state.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Whether the first full scan is done.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    fn installer_index(&self, kind: ProfileKind) -> Option<usize> {
        self.installers.iter().position(|i| i.kinds().contains(&kind))
    }

    /// Run until `stop` is set.
    pub fn run(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            self.tick();
            if self.last_verify.is_none_or(|t| t.elapsed() >= self.cfg.verify_interval) {
                self.verify();
            }
            let spent = started.elapsed();
            std::thread::sleep(self.cfg.interval.saturating_sub(spent));
        }
    }

    /// One scan and reconcile. Returns whether anything changed.
    pub fn tick(&mut self) -> bool {
        let changes = self.scanner.scan();
        if let Some(why) = &changes.unreadable {
            self.dir_unreadable = true;
            let message = format!("cannot read the manifests directory {}: {why}", self.cfg.manifests.display());
            if self.file_errors.first().map(|e| &e.message) != Some(&message) {
                self.file_errors = vec![ProblemReport { location: None, message, help: None }];
                self.publish();
            }
            return false;
        }
        let retry = self.entries.values().any(|e| e.retry || e.status.status == Phase::Terminating);
        let became_ready = !self.ready && self.scanner.settled();
        let recovered = std::mem::take(&mut self.dir_unreadable);
        let generation = self.shared.policy_generation.load(Ordering::Relaxed);
        let policy_changed = std::mem::replace(&mut self.policy_seen, generation) != generation;
        if changes.is_empty() && !retry && !became_ready && !recovered && !policy_changed {
            return false;
        }
        let mut changed_files: BTreeSet<PathBuf> = BTreeSet::new();
        for p in changes.removed {
            self.files.remove(&p);
            self.last_names.remove(&p);
            changed_files.insert(p);
        }
        for f in changes.changed {
            changed_files.insert(f.path.clone());
            self.files.insert(f.path.clone(), f);
        }
        self.reconcile(&changed_files);
        if changed_files.len() > 16 {
            memory::release_free_memory();
        }
        if became_ready {
            self.ready = true;
            self.adopt_orphans();
            self.reconcile(&BTreeSet::new());
        }
        self.publish();
        true
    }

    /// Profiles installed on disk that no manifest defines (deleted while
    /// the agent was down): terminate them.
    fn adopt_orphans(&mut self) {
        for inst in &self.installers {
            for &kind in inst.kinds() {
                for name in inst.installed_names(kind) {
                    let key = (kind, name.clone());
                    // An installer of several kinds (SELinux) stores them
                    // under one name space: a name a sibling kind defines
                    // is not an orphan of this one.
                    if inst.kinds().iter().any(|k| self.entries.contains_key(&(*k, name.clone()))) {
                        continue;
                    }
                    let installed = inst.current(kind, &name);
                    self.entries.insert(
                        key,
                        Entry {
                            status: new_status(kind, &name, Phase::Terminating),
                            doc_key: None,
                            installed,
                            retry: true,
                        },
                    );
                }
            }
        }
    }

    fn reconcile(&mut self, changed_files: &BTreeSet<PathBuf>) {
        let policy = self.shared.policy();
        let mut catalog: Catalog = BTreeMap::new();
        let mut texts: BTreeMap<Key, (PathBuf, usize)> = BTreeMap::new();
        let mut protected: BTreeMap<Key, Vec<ProblemReport>> = BTreeMap::new();
        let mut file_errors = Vec::new();
        let mut duplicates: BTreeMap<Key, Vec<ProblemReport>> = BTreeMap::new();
        for (path, pf) in &self.files {
            file_errors.extend(pf.problems.iter().cloned());
            if pf.docs.is_empty() && !pf.problems.is_empty() {
                for k in self.last_names.get(path).into_iter().flatten() {
                    protected.insert(k.clone(), pf.problems.clone());
                }
                continue;
            }
            let mut names = Vec::new();
            for (i, d) in pf.docs.iter().enumerate() {
                let key = (d.kind, d.name.clone());
                if let Some(first) = catalog.get(&key) {
                    let msg = format!(
                        "{} `{}` is also defined at {}:{}; this definition is ignored",
                        d.kind.as_str(),
                        d.name,
                        first.location.file.display(),
                        first.location.line
                    );
                    let r = ProblemReport { location: Some(d.location.clone()), message: msg, help: None };
                    file_errors.push(r.clone());
                    duplicates.entry(key).or_default().push(r);
                    continue;
                }
                names.push(key.clone());
                texts.insert(key.clone(), (path.clone(), i));
                catalog.insert(key, d);
            }
            self.last_names.insert(path.clone(), names);
        }
        self.file_errors = file_errors;
        let any_change = !changed_files.is_empty();
        // A SelinuxProfile and a RawSelinuxProfile of one name make the
        // same SELinux module (and type NAME.process): the raw one is
        // refused rather than overwrite the other.
        let collisions: BTreeSet<Key> = catalog
            .keys()
            .filter(|(k, n)| {
                *k == ProfileKind::RawSelinuxProfile && catalog.contains_key(&(ProfileKind::SelinuxProfile, n.clone()))
            })
            .cloned()
            .collect();

        // Installs and updates first, compiled one by one and written in
        // one batch per installer.
        let mut to_install: Vec<(usize, Key, installer::Compiled)> = Vec::new();
        let keys: Vec<Key> = catalog.keys().cloned().collect();
        // Compiling is pure and dominates a cold start: spread the
        // documents that need it over the machine's cores.
        let mut prints: BTreeMap<Key, String> = BTreeMap::new();
        let mut work: Vec<(usize, Key)> = Vec::new();
        for key in &keys {
            let doc = catalog[key];
            let pf = &self.files[&texts[key].0];
            let mut print = fingerprint(doc, &pf.text, &policy);
            if collisions.contains(key) {
                print.push_str("|collides");
            }
            let has_base = doc.base.is_some();
            let stale = self.entries.get(key).is_none_or(|e| {
                e.doc_key.as_deref() != Some(print.as_str())
                    || e.status.status == Phase::Terminating
                    || e.retry
                    || (has_base && any_change)
            });
            let off = policy.off.contains_key(&key.0) || collisions.contains(key);
            if let Some(ii) = self.installer_index(key.0).filter(|_| stale && !doc.disabled && !off) {
                work.push((ii, key.clone()));
            }
            prints.insert(key.clone(), print);
        }
        // Trees were dropped after parsing; bring back those of the base
        // profiles the work needs (rare), the rest are reparsed per file
        // by the compiling threads.
        let mut restored: BTreeMap<Key, ManifestDoc> = BTreeMap::new();
        let mut wanted: Vec<String> = work.iter().filter_map(|(_, k)| catalog[k].base.clone()).collect();
        while let Some(base) = wanted.pop() {
            let key = (ProfileKind::SeccompProfile, base);
            if restored.contains_key(&key) {
                continue;
            }
            let (Some(doc), Some((path, i))) = (catalog.get(&key), texts.get(&key)) else {
                continue;
            };
            wanted.extend(doc.base.clone());
            if let Some(fresh) = self.files[path].reparse().into_iter().nth(*i) {
                restored.insert(key, fresh);
            }
        }
        let mut full: Catalog<'_> = catalog.clone();
        for (k, d) in &restored {
            full.insert(k.clone(), d);
        }
        let mut compiled = compile_parallel(&self.installers, &full, &self.files, &texts, &work);

        for key in keys {
            let doc = catalog[&key];
            let pf = &self.files[&texts[&key].0];
            let fingerprint = prints.remove(&key).unwrap_or_default();
            let has_base = doc.base.is_some();
            let ii = self.installer_index(key.0);
            let entry = self.entries.entry(key.clone()).or_insert_with(|| {
                let installed = ii.and_then(|i| self.installers[i].current(key.0, &key.1));
                Entry { status: new_status(key.0, &key.1, Phase::Pending), doc_key: None, installed, retry: false }
            });
            entry.status.source = Some(doc.location.clone());
            entry.status.mode = doc.mode;
            let dup = duplicates.remove(&key);
            let same = entry.doc_key.as_deref() == Some(fingerprint.as_str())
                && entry.status.status != Phase::Terminating
                && !entry.retry
                && !(has_base && any_change);
            if same && dup.is_none() {
                continue;
            }
            entry.doc_key = Some(fingerprint);
            entry.retry = false;
            entry.status.errors = dup.unwrap_or_default();
            entry.status.message = None;
            let Some(ii) = ii else {
                set_phase(entry, Phase::Pending);
                entry.status.message = Some(match self.missing.get(&key.0) {
                    Some(why) => format!("no installer for {} on this node: {why}", key.0.as_str()),
                    None => format!("no installer for {} on this node", key.0.as_str()),
                });
                continue;
            };
            let inst = &mut self.installers[ii];
            let metrics = &self.shared.metrics;
            let off = policy.off.get(&key.0);
            if doc.disabled || off.is_some() {
                if entry.installed.is_some() {
                    match inst.remove(key.0, &key.1) {
                        Ok(()) => {
                            entry.installed = None;
                            metrics.profile_op(key.0, "delete");
                        }
                        Err(e) => {
                            metrics.profile_error(key.0, "cannot-remove");
                            entry.retry = true;
                            entry.status.errors.push(plain(&e));
                        }
                    }
                }
                let keep = self.in_use.get(&key).map(|u| u.0.clone()).unwrap_or_default();
                if !self.cfg.keep_versions {
                    let _ = inst.prune(key.0, &key.1, &keep);
                }
                set_phase(entry, Phase::Disabled);
                entry.status.message = Some(match off {
                    Some(why) => format!("{why}: not installed"),
                    None => "disabled in the manifest: not installed".into(),
                });
                sync_installed(entry);
                continue;
            }
            if collisions.contains(&key) {
                entry.status.message = Some(format!(
                    "SelinuxProfile {} makes the same SELinux module and type ({}.process): not installed; \
                     rename one of them",
                    key.1, key.1
                ));
                set_phase(entry, Phase::Error);
                sync_installed(entry);
                continue;
            }
            let result = compiled
                .remove(&key)
                .unwrap_or_else(|| Err(Rejected::Waiting("compilation did not finish; retrying".into())));
            entry.retry |= matches!(result, Err(Rejected::Waiting(_)));
            match result {
                Ok(c) => {
                    entry.status.errors.extend(c.warnings.iter().map(|d| report(&pf.path, &pf.text, d)));
                    let hash = sha256_hex(&c.bytes);
                    if entry.installed.as_ref().map(|i| &i.hash) == Some(&hash) {
                        set_phase(entry, installed_phase(entry));
                        // Versions left by an earlier run that stopped
                        // before pruning.
                        let mut keep = self.in_use.get(&key).map(|u| u.0.clone()).unwrap_or_default();
                        keep.insert(hash);
                        if !self.cfg.keep_versions {
                            let _ = inst.prune(key.0, &key.1, &keep);
                        }
                    } else {
                        set_phase(entry, Phase::InProgress);
                        to_install.push((ii, key.clone(), c));
                    }
                }
                Err(Rejected::Invalid(diags)) => {
                    metrics.profile_error(key.0, "invalid-profile");
                    entry
                        .status
                        .errors
                        .extend(diags.iter().filter(|d| d.is_error()).map(|d| report(&pf.path, &pf.text, d)));
                    entry.status.message = Some(if entry.installed.is_some() {
                        "invalid; the previous version stays in force".into()
                    } else {
                        "invalid; not installed".into()
                    });
                    set_phase(entry, Phase::Error);
                }
                Err(Rejected::Waiting(why)) => {
                    entry.retry = false;
                    entry.status.message = Some(why);
                    set_phase(entry, Phase::Pending);
                }
                Err(Rejected::Forbidden(diags)) => {
                    metrics.profile_error(key.0, "forbidden-by-policy");
                    entry.status.errors.extend(diags.iter().map(|d| report(&pf.path, &pf.text, d)));
                    let users = self.in_use.get(&key).map_or(0, |u| u.1);
                    if users > 0 {
                        // A container restarting reads the file again:
                        // held, as SPO holds a profile in use, and judged
                        // again at every tick until the last user is gone.
                        entry.retry = true;
                        entry.status.message = Some(format!(
                            "not allowed by the SecurityProfilesOperatorDaemon (spec.security.allowedSyscalls): \
                             kept while {users} process(es) use it, then removed"
                        ));
                        set_phase(entry, Phase::Error);
                        sync_installed(entry);
                        continue;
                    }
                    if entry.installed.is_some() {
                        match inst.remove(key.0, &key.1) {
                            Ok(()) => {
                                entry.installed = None;
                                metrics.profile_op(key.0, "delete");
                            }
                            Err(e) => {
                                entry.retry = true;
                                entry.status.errors.push(plain(&e));
                            }
                        }
                    }
                    entry.status.message = Some(
                        "not allowed by the SecurityProfilesOperatorDaemon (spec.security.allowedSyscalls): \
                         not installed"
                            .into(),
                    );
                    set_phase(entry, Phase::Error);
                }
            }
            sync_installed(entry);
        }

        for ii in 0..self.installers.len() {
            let items: Vec<(ProfileKind, &str, &installer::Compiled)> =
                to_install.iter().filter(|(i, _, _)| *i == ii).map(|(_, k, c)| (k.0, k.1.as_str(), c)).collect();
            if items.is_empty() {
                continue;
            }
            let results = self.installers[ii].install_many(&items);
            // A slow tool (semodule) must not hide what faster installers
            // already did: publish per installer.
            let keys: Vec<Key> = items.iter().map(|(k, n, _)| (*k, (*n).to_owned())).collect();
            for (key, r) in keys.into_iter().zip(results) {
                let Some(entry) = self.entries.get_mut(&key) else {
                    continue;
                };
                match r {
                    Ok(i) => {
                        if i.written {
                            self.shared.metrics.profile_op(key.0, "update");
                        }
                        entry.installed = Some(i);
                        set_phase(entry, installed_phase(entry));
                    }
                    Err(e) => {
                        self.shared.metrics.profile_error(key.0, "cannot-install");
                        entry.retry = true;
                        entry.status.errors.push(plain(&e));
                        entry.status.message = Some("install failed; the previous version stays in force".into());
                        set_phase(entry, Phase::Error);
                    }
                }
                sync_installed(entry);
                let mut keep = self.in_use.get(&key).map(|u| u.0.clone()).unwrap_or_default();
                keep.extend(entry.installed.as_ref().map(|i| i.hash.clone()));
                if !self.cfg.keep_versions {
                    let _ = self.installers[ii].prune(key.0, &key.1, &keep);
                }
            }
            self.publish();
        }

        // Profiles of files that no longer parse keep their version.
        for (key, problems) in &protected {
            if let Some(entry) = self.entries.get_mut(key) {
                entry.status.errors = problems.clone();
                entry.status.message = Some(if entry.installed.is_some() {
                    "the manifest no longer parses; the previous version stays in force".into()
                } else {
                    "the manifest does not parse".into()
                });
                entry.doc_key = None;
                set_phase(entry, Phase::Error);
            }
        }

        // Then removals.
        if !self.ready {
            return;
        }
        let gone: Vec<Key> =
            self.entries.keys().filter(|k| !catalog.contains_key(*k) && !protected.contains_key(*k)).cloned().collect();
        for key in gone {
            let Some(ii) = self.installer_index(key.0) else {
                self.entries.remove(&key);
                continue;
            };
            let Some(entry) = self.entries.get_mut(&key) else {
                continue;
            };
            let inst = &mut self.installers[ii];
            if entry.status.status != Phase::Terminating {
                set_phase(entry, Phase::Terminating);
                entry.doc_key = None;
            }
            if entry.installed.is_some() || inst.current(key.0, &key.1).is_some() {
                match inst.remove(key.0, &key.1) {
                    Ok(()) => {
                        entry.installed = None;
                        self.shared.metrics.profile_op(key.0, "delete");
                    }
                    Err(e) => {
                        self.shared.metrics.profile_error(key.0, "cannot-remove");
                        entry.status.errors = vec![plain(&e)];
                        entry.retry = true;
                        continue;
                    }
                }
            }
            let keep = self.in_use.get(&key).map(|u| u.0.clone()).unwrap_or_default();
            if keep.is_empty() {
                let _ = inst.prune(key.0, &key.1, &keep);
                self.entries.remove(&key);
            } else {
                let _ = inst.prune(key.0, &key.1, &keep);
                entry.status.message = Some(format!("deleted; kept while {} process(es) use it", self.in_use[&key].1));
                sync_installed(entry);
            }
        }
    }

    /// Check running processes and refresh what is in use.
    pub fn verify(&mut self) {
        self.last_verify = Some(Instant::now());
        let mut versions = HashMap::new();
        let mut index = ProfileIndex::new();
        for ((kind, name), e) in &self.entries {
            if *kind != ProfileKind::SeccompProfile {
                continue;
            }
            index.insert(name.clone(), (e.status.status, e.installed.as_ref().map(|i| i.hash.clone())));
            if let Some(i) = &e.installed {
                versions.insert(i.hash.clone(), name.clone());
            }
        }
        let seccomp_dir = self.cfg.kubelet_root.join(seccomp::OPERATOR_DIR);
        for name in index.keys() {
            for h in version_hashes(&seccomp_dir.join(name)) {
                versions.entry(h).or_insert_with(|| name.clone());
            }
        }
        let attributor = self.shared.attributor.clone();
        attributor.set_versions(versions);
        let (checks, live) = verify::scan(&self.cfg.proc_root, &attributor, &index);
        attributor.retain_containers(&live);
        let mut in_use: BTreeMap<Key, (BTreeSet<String>, usize)> = BTreeMap::new();
        for c in &checks {
            if let Some(name) = &c.profile {
                let u = in_use.entry((ProfileKind::SeccompProfile, name.clone())).or_default();
                u.0.extend(c.profile_version.clone());
                u.1 += 1;
            }
        }
        let changed = in_use != self.in_use || checks != self.processes;
        let released: Vec<Key> = self
            .in_use
            .iter()
            .filter(|(k, (versions, _))| in_use.get(*k).is_none_or(|(now, _)| !versions.is_subset(now)))
            .map(|(k, _)| k.clone())
            .collect();
        self.in_use = in_use;
        self.processes = checks;
        // Versions no running process holds any more can go now.
        for key in released {
            let Some(ii) = self.installer_index(key.0) else {
                continue;
            };
            let live = self.entries.get(&key).is_some_and(|e| e.status.status != Phase::Terminating);
            if self.cfg.keep_versions && live {
                continue;
            }
            let mut keep = self.in_use.get(&key).map(|u| u.0.clone()).unwrap_or_default();
            if let Some(i) = self.entries.get(&key).and_then(|e| e.installed.as_ref()) {
                keep.insert(i.hash.clone());
            }
            let _ = self.installers[ii].prune(key.0, &key.1, &keep);
        }
        if changed {
            self.publish();
        }
    }

    fn publish(&self) {
        publish(&Published {
            cfg: &self.cfg,
            ready: self.ready,
            entries: &self.entries,
            in_use: &self.in_use,
            file_errors: &self.file_errors,
            processes: &self.processes,
            shared: &self.shared,
        });
    }
}

/// What [`publish`] reads: the agent's fields other than its files, so a
/// reconcile can publish while it borrows them.
struct Published<'a> {
    cfg: &'a AgentConfig,
    ready: bool,
    entries: &'a BTreeMap<Key, Entry>,
    in_use: &'a BTreeMap<Key, (BTreeSet<String>, usize)>,
    file_errors: &'a [ProblemReport],
    processes: &'a [crate::status::ProcessCheck],
    shared: &'a Shared,
}

fn publish(p: &Published<'_>) {
    let mut profiles: Vec<ProfileStatus> = p
        .entries
        .iter()
        .map(|(k, e)| {
            let mut s = e.status.clone();
            s.in_use_by = p.in_use.get(k).map_or(0, |u| u.1);
            s
        })
        .collect();
    profiles.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    let status = NodeStatus {
        node: p.cfg.node.clone(),
        ready: p.ready,
        manifests: p.cfg.manifests.clone(),
        profiles,
        file_errors: p.file_errors.to_vec(),
        processes: p.processes.to_vec(),
        enricher: EnricherStatus::default(),
    };
    if let Ok(mut g) = p.shared.status.write() {
        *g = status;
    }
}

/// Compile `work` (installer index, key) on up to as many threads as
/// there are cores. Each thread takes whole files, parses each once more
/// (the scan kept only metadata), compiles the documents it needs from it
/// and drops the trees, so memory stays bounded by one file per thread.
fn compile_parallel(
    installers: &[Box<dyn Installer>],
    catalog: &Catalog<'_>,
    files: &BTreeMap<PathBuf, ParsedFile>,
    texts: &BTreeMap<Key, (PathBuf, usize)>,
    work: &[(usize, Key)],
) -> HashMap<Key, Result<installer::Compiled, Rejected>> {
    let mut by_file: BTreeMap<&Path, Vec<(usize, &Key)>> = BTreeMap::new();
    for (ii, key) in work {
        if let Some((path, _)) = texts.get(key) {
            by_file.entry(path.as_path()).or_default().push((*ii, key));
        }
    }
    let groups: Vec<(&Path, Vec<(usize, &Key)>)> = by_file.into_iter().collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(work.len() / 32 + 1).max(1);
    let chunk = groups.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for (path, items) in part {
                        let fresh = files[*path].reparse();
                        for (ii, key) in items {
                            let Some((_, i)) = texts.get(*key) else {
                                continue;
                            };
                            if let Some(doc) = fresh.get(*i) {
                                out.push(((*key).clone(), installers[*ii].compile(doc, catalog)));
                            }
                        }
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

fn version_hashes(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten().filter_map(|e| e.file_name().to_str()?.strip_suffix(".json").map(str::to_owned)).collect()
}

fn new_status(kind: ProfileKind, name: &str, phase: Phase) -> ProfileStatus {
    ProfileStatus {
        kind,
        name: name.to_owned(),
        status: phase,
        mode: Mode::Enforce,
        source: None,
        version: None,
        path: None,
        localhost_profile: None,
        errors: Vec::new(),
        message: None,
        in_use_by: 0,
        updated: now_secs(),
    }
}

fn set_phase(entry: &mut Entry, phase: Phase) {
    if entry.status.status != phase {
        entry.status.status = phase;
        entry.status.updated = now_secs();
    }
}

/// `Installed`, or `Unsupported` when the kernel does not enforce what
/// was installed.
fn installed_phase(entry: &Entry) -> Phase {
    match &entry.installed {
        Some(i) if !i.enforced => Phase::Unsupported,
        _ => Phase::Installed,
    }
}

fn sync_installed(entry: &mut Entry) {
    entry.status.version = entry.installed.as_ref().map(|i| i.hash.clone());
    entry.status.path = entry.installed.as_ref().map(|i| i.path.clone());
    entry.status.localhost_profile = entry.installed.as_ref().and_then(|i| i.reference.clone());
    if let Some(note) = entry.installed.as_ref().and_then(|i| i.note.clone()) {
        if matches!(entry.status.status, Phase::Installed | Phase::Unsupported) {
            entry.status.message = Some(note);
        }
    }
}

fn plain(e: &NodeError) -> ProblemReport {
    let mut message = e.to_string();
    if let NodeError::ToolFailed { output, .. } = e {
        let out: Vec<&str> = output.lines().map(str::trim).filter(|l| !l.is_empty()).take(8).collect();
        if !out.is_empty() {
            message.push_str(": ");
            message.push_str(&out.join(" | "));
        }
    }
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        message.push_str(": ");
        message.push_str(&s.to_string());
        src = s.source();
    }
    ProblemReport { location: None, message, help: None }
}

/// What identifies a document's effect: its text, mode and state.
///
/// The whole file's text is hashed, not the document's span: a YAML
/// parser may end a mapping's span before a trailing block scalar (a
/// `policy: |` body), and an edit there must not go unnoticed. An edit to
/// one document of a file recompiles its siblings too, which is cheap.
fn fingerprint(doc: &ManifestDoc, text: &str, policy: &policy::NodePolicy) -> String {
    let p = policy.digest(doc.kind);
    sha256_hex(format!("{:?}|{:?}|{}|{}|{p}|{text}", doc.mode, doc.kind, doc.disabled, doc.node.span.start).as_bytes())
}
