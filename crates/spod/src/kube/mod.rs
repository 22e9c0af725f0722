//! `spod --kubernetes`: the node agent driven by the API server.
//!
//! The agent ([`spo_node::agent`]) already turns a directory of manifests
//! into profiles in force, keeps the versions running processes use, and
//! tells the truth about each profile. Kubernetes mode reuses all of it
//! unchanged and adds two small loops:
//!
//! - **watch**: one watch per profile kind, cluster-wide; every object is
//!   mirrored atomically into `STATE/mirror/KIND.NAME.json` ([`mirror`]),
//!   which the agent scans as it scans manifests (profiles are
//!   cluster-wide, as in SPO v1: seccomp lands in `operator/NAME.json`,
//!   SELinux blocks are `NAME`), and read as soon as written;
//! - **report**: every 100 ms the agent's status snapshot is compared with
//!   what the node statuses say ([`state`]) and only differences are
//!   server-side applied, many requests in flight at once.
//!
//! - **record**: this node's pods that a `ProfileRecording` marked are
//!   recorded with the node-wide eBPF recorder or from the audit log
//!   ([`recording`]).
//!
//! A deleted profile (deletion timestamp, no active workloads) leaves the
//! mirror; the agent removes it as it removes a deleted manifest (current
//! file at once, versions while processes use them), and its node status
//! is deleted once it is off the node. Node statuses are owned by their
//! profile, so the garbage collector removes any that spod misses.

pub mod daemon;
pub mod mirror;
pub mod recording;
pub mod report;
pub mod state;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::chain;
use ::kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use ::kube::core::ApiResource;
use ::kube::runtime::watcher::{self, Event};
use ::kube::runtime::WatchStreamExt;
use ::kube::Client;
use futures::StreamExt;
use spo_api::crds::{
    node_status_name, AppArmorProfile, RawSelinuxProfile, SeccompProfile, SecurityProfileNodeStatus, SelinuxProfile,
};

use crate::SpodError;
use mirror::{Mirror, ProfileKey};
use spo_node::agent::Shared;
use spo_node::status::ProfileKind;
use state::{Action, Observed, Outcome, State};

/// How many requests to the API server are in flight at once.
const IN_FLIGHT: usize = 64;

/// Settings of the Kubernetes mode.
#[derive(Debug, Clone)]
pub struct KubeConfig {
    /// This node's name (`--node-name`).
    pub node: String,
    /// The mirror directory the agent scans.
    pub mirror: PathBuf,
    /// The kubelet's root (`seccomp/` below it holds localhost profiles).
    pub kubelet_root: PathBuf,
    /// How often node statuses are brought up to date.
    pub report_interval: Duration,
    /// The operator's namespace, where the daemon configuration is.
    pub namespace: String,
}

impl KubeConfig {
    /// The field manager of spod's server-side applies.
    pub fn field_manager(&self) -> String {
        format!("spod-{}", self.node)
    }
}

/// The API resource of a profile kind.
pub fn api_resource(kind: ProfileKind) -> ApiResource {
    match kind {
        ProfileKind::SeccompProfile => ApiResource::erase::<SeccompProfile>(&()),
        ProfileKind::SelinuxProfile => ApiResource::erase::<SelinuxProfile>(&()),
        ProfileKind::RawSelinuxProfile => ApiResource::erase::<RawSelinuxProfile>(&()),
        ProfileKind::AppArmorProfile => ApiResource::erase::<AppArmorProfile>(&()),
    }
}

fn kube_error(op: impl Into<String>) -> impl FnOnce(::kube::Error) -> SpodError {
    move |source| SpodError::Kube { op: op.into(), source }
}

/// What a watched object says, for [`State::observe`].
pub fn observed(kind: ProfileKind, object: &DynamicObject) -> Option<Observed> {
    let name = object.metadata.name.clone()?;
    let key = ProfileKey::new(kind, name);
    let value = serde_json::to_value(object).ok()?;
    let api_version = object
        .types
        .as_ref()
        .map(|t| t.api_version.clone())
        .unwrap_or_else(|| format!("{}/{}", spo_api::crds::GROUP, spo_api::crds::VERSION));
    Some(Observed {
        manifest: mirror::manifest(&key, &value),
        uid: object.metadata.uid.clone().unwrap_or_default(),
        api_version,
        deleting: object.metadata.deletion_timestamp.is_some(),
        active_workloads: value.pointer("/status/activeWorkloads").and_then(|v| v.as_array()).map_or(0, Vec::len),
        key,
    })
}

/// Run the Kubernetes mode until the process ends: watch the profiles,
/// call `start_agent` once the first listing of every kind is mirrored
/// (so the agent never sees a half-built mirror), and report.
pub fn run(cfg: KubeConfig, shared: Arc<Shared>, start_agent: Box<dyn FnOnce() + Send>) -> Result<(), SpodError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("spod-kube")
        .enable_all()
        .build()
        .map_err(|source| SpodError::Io { op: "start the async runtime for", path: cfg.mirror.clone(), source })?;
    rt.block_on(async move {
        let client = Client::try_default().await.map_err(kube_error("connect to the Kubernetes API server"))?;
        let mut state = State::new(Mirror::open(&cfg.mirror)?);
        adopt_node_statuses(&client, &cfg.node, &mut state).await;
        let state = Arc::new(Mutex::new(state));
        recording::install_log_profile(&cfg.kubelet_root)?;
        tokio::spawn(daemon::follow(client.clone(), cfg.namespace.clone(), shared.clone()));
        tokio::spawn(recording::run(client.clone(), cfg.node.clone(), shared.clone()));
        let reporter = tokio::spawn(report_loop(client.clone(), cfg.clone(), state.clone(), shared));
        let watching = watch_loop(client, state, start_agent);
        tokio::select! {
            r = watching => r,
            r = reporter => r.map_err(|e| SpodError::Io {
                op: "keep reporting node statuses for",
                path: cfg.mirror.clone(),
                source: std::io::Error::other(e.to_string()),
            }),
        }
    })
}

/// Tell `state` about the node statuses of this node that exist already,
/// so a restarted spod rewrites only what changed. Without them (no
/// permission to list, say) every status is applied again: slower, as
/// correct.
async fn adopt_node_statuses(client: &Client, node: &str, state: &mut State) {
    let api: Api<SecurityProfileNodeStatus> = Api::all(client.clone());
    let lp = ListParams::default().labels(&format!("{}={}", report::LABEL_NODE, report::label_value(node)));
    let list = match api.list(&lp).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("spod: cannot list this node's statuses, every one is written again: {}", chain(&e));
            return;
        }
    };
    for ns in list.items.into_iter().filter(|s| s.spec.node_name == node) {
        let Some(kind) = ProfileKind::from_kind(&ns.spec.profile_kind) else {
            continue;
        };
        let Some(owner) = ns.metadata.owner_references.iter().flatten().find(|o| o.kind == kind.as_str()) else {
            continue;
        };
        let reported = ns.status.as_ref().and_then(|st| {
            Some(report::Desired { state: st.status?, message: st.message.clone(), digest: st.content_digest.clone() })
        });
        state.known_status(ProfileKey::new(kind, ns.spec.profile_name.clone()), owner.uid.clone(), reported);
    }
}

async fn watch_loop(
    client: Client,
    state: Arc<Mutex<State>>,
    start_agent: Box<dyn FnOnce() + Send>,
) -> Result<(), SpodError> {
    let streams = ProfileKind::ALL.map(|kind| {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource(kind));
        watcher::watcher(api, watcher::Config::default()).default_backoff().map(move |e| (kind, e)).boxed()
    });
    let mut events = futures::stream::select_all(streams);
    let mut start_agent = Some(start_agent);
    while let Some((kind, event)) = events.next().await {
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                eprintln!("spod: watching {}s: {}", kind.as_str(), chain(&e));
                continue;
            }
        };
        let mut s = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let r = match event {
            Event::Init => {
                s.init(kind);
                Ok(())
            }
            Event::InitApply(o) | Event::Apply(o) => observed(kind, &o).map_or(Ok(()), |o| s.observe(o)),
            Event::Delete(o) => observed(kind, &o).map_or(Ok(()), |o| s.forget(&o.key)),
            Event::InitDone => match s.init_done(kind) {
                Ok(true) => {
                    eprintln!("spod: watching profiles ({} found)", s.len());
                    if let Some(start) = start_agent.take() {
                        start();
                    }
                    Ok(())
                }
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            },
        };
        if let Err(e) = r {
            eprintln!("spod: mirroring a {}: {}", kind.as_str(), chain(&e));
        }
    }
    Ok(())
}

async fn report_loop(client: Client, cfg: KubeConfig, state: Arc<Mutex<State>>, shared: Arc<Shared>) {
    let pp = PatchParams::apply(&cfg.field_manager()).force();
    let mut tick = tokio::time::interval(cfg.report_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let snapshot = shared.status.read().map(|g| g.clone()).unwrap_or_default();
        let actions = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).plan(&snapshot);
        drop(snapshot);
        if actions.is_empty() {
            continue;
        }
        let results: Vec<(Action, Outcome)> = futures::stream::iter(actions)
            .map(|a| {
                let client = client.clone();
                let (pp, node) = (&pp, cfg.node.as_str());
                async move {
                    let outcome = execute(&client, node, pp, &a).await;
                    if let Outcome::Failed(why) = &outcome {
                        eprintln!("spod: {why}");
                    }
                    (a, outcome)
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).settle(results);
    }
}

fn outcome_of(op: &str, e: ::kube::Error) -> Outcome {
    match &e {
        ::kube::Error::Api(s) if s.is_not_found() => Outcome::NotFound,
        _ => Outcome::Failed(format!("cannot {op}: {}", chain(&e))),
    }
}

async fn execute(client: &Client, node: &str, pp: &PatchParams, action: &Action) -> Outcome {
    match action {
        Action::Apply { key, uid, api_version, status } => {
            let api: Api<SecurityProfileNodeStatus> = Api::all(client.clone());
            let name = node_status_name(key.kind.as_str(), &key.name, node);
            let object = report::node_status_object(key, node, api_version, uid, status);
            match api.patch(&name, pp, &Patch::Apply(&object)).await {
                Ok(_) => Outcome::Done,
                Err(e) => outcome_of(&format!("apply node status {name}"), e),
            }
        }
        Action::Delete { key, .. } => {
            let api: Api<SecurityProfileNodeStatus> = Api::all(client.clone());
            let name = node_status_name(key.kind.as_str(), &key.name, node);
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => Outcome::Done,
                Err(e) => outcome_of(&format!("delete node status {name}"), e),
            }
        }
    }
}
