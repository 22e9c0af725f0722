//! Wiring: one watch per input kind, shared by the four profile
//! controllers, and what each change triggers.
//!
//! Pods, nodes and node statuses are watched once each (not once per
//! profile kind) and their changes are turned into reconcile requests of
//! exactly the profiles they concern: a pod's references, a node status's
//! profile, or every profile when the set of nodes changes. No reconcile
//! starts before every cache has its first full list: a profile judged
//! unused on an empty pod cache would be released while pods run under it.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::{stream, Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Action};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{reflector as reflect, watcher as watch, WatchStreamExt};
use kube::{Client, ResourceExt};
use tokio::sync::watch as signal;
use tracing::{info, warn};

use super::events::Events;
use super::kinds::{Profile, ProfileKind};
use super::metrics::Metrics;
use super::pods::PodIndex;
use super::reconcile::{reconcile, Context};
use super::references::{pod_references, RefKey, RefKind};
use crate::OperatorError;
use spo_api::crds::{AppArmorProfile, RawSelinuxProfile, SeccompProfile, SecurityProfileNodeStatus, SelinuxProfile};

/// Knobs of the controllers.
#[derive(Debug, Clone)]
pub struct ControllerOptions {
    /// Reconciles running at once per profile kind.
    pub concurrency: u16,
    /// Counters, shared with whoever exports them.
    pub metrics: Arc<Metrics>,
    /// When set, nothing is reconciled until it turns `true`: the
    /// operator's own writes pass its fail-closed webhooks, so they wait
    /// until the API server calls them (see [`crate::webhook::probe`]).
    pub writes_after: Option<signal::Receiver<bool>>,
    /// The kubelet's seccomp directory on the nodes, for `status.path`.
    pub kubelet_seccomp_dir: Option<String>,
    /// The operator's namespace, where the daemon configuration lives;
    /// `None` leaves the configuration alone.
    pub namespace: Option<String>,
    /// Told the daemon configuration's `verbosity` whenever it changes
    /// (the binary sets its log level with it).
    pub on_verbosity: Option<super::daemon::VerbositySink>,
    /// This replica's name in the Events it reports (its leader identity).
    pub instance: Option<String>,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        ControllerOptions {
            concurrency: 16,
            metrics: Arc::default(),
            writes_after: None,
            kubelet_seccomp_dir: Some("/var/lib/kubelet/seccomp".into()),
            namespace: None,
            on_verbosity: None,
            instance: None,
        }
    }
}

/// Where the reconcile requests of one kind go, and its cache.
struct KindQueue<K: Profile> {
    tx: UnboundedSender<ObjectRef<K>>,
    store: Store<K>,
}

impl<K: Profile> Clone for KindQueue<K> {
    fn clone(&self) -> Self {
        KindQueue { tx: self.tx.clone(), store: self.store.clone() }
    }
}

impl<K: Profile> KindQueue<K> {
    fn one(&self, name: &str) {
        let _ = self.tx.unbounded_send(ObjectRef::new(name));
    }

    fn all(&self) {
        for obj in self.store.state() {
            let _ = self.tx.unbounded_send(ObjectRef::from_obj(&*obj));
        }
    }
}

/// The reconcile queues of all four kinds.
#[derive(Clone)]
struct Triggers {
    seccomp: KindQueue<SeccompProfile>,
    selinux: KindQueue<SelinuxProfile>,
    raw_selinux: KindQueue<RawSelinuxProfile>,
    apparmor: KindQueue<AppArmorProfile>,
}

impl Triggers {
    fn profile(&self, kind: ProfileKind, name: &str) {
        match kind {
            ProfileKind::Seccomp => self.seccomp.one(name),
            ProfileKind::Selinux => self.selinux.one(name),
            ProfileKind::RawSelinux => self.raw_selinux.one(name),
            ProfileKind::AppArmor => self.apparmor.one(name),
        }
    }

    fn reference(&self, key: &RefKey) {
        match key.kind {
            RefKind::Seccomp => self.seccomp.one(&key.name),
            RefKind::Selinux => {
                self.selinux.one(&key.name);
                self.raw_selinux.one(&key.name);
            }
            RefKind::AppArmor => self.apparmor.one(&key.name),
        }
    }

    fn all(&self) {
        self.seccomp.all();
        self.selinux.all();
        self.raw_selinux.all();
        self.apparmor.all();
    }
}

/// Run the profile controllers until the watches end (they do not, short
/// of the process stopping). Returns once, with an error, only when the
/// caches can never become ready.
pub async fn run(client: Client, options: ControllerOptions) -> Result<(), OperatorError> {
    let (seccomp_q, seccomp_rx, seccomp_w) = kind_queue::<SeccompProfile>();
    let (selinux_q, selinux_rx, selinux_w) = kind_queue::<SelinuxProfile>();
    let (raw_q, raw_rx, raw_w) = kind_queue::<RawSelinuxProfile>();
    let (apparmor_q, apparmor_rx, apparmor_w) = kind_queue::<AppArmorProfile>();
    let triggers = Triggers { seccomp: seccomp_q, selinux: selinux_q, raw_selinux: raw_q, apparmor: apparmor_q };

    let pods = Arc::new(RwLock::new(PodIndex::default()));
    let (pods_ready_tx, mut pods_ready) = signal::channel(false);
    tokio::spawn(watch_pods(client.clone(), pods.clone(), triggers.clone(), pods_ready_tx));

    let (statuses, statuses_w) = reflector::store::<SecurityProfileNodeStatus>();
    tokio::spawn(watch_node_statuses(client.clone(), statuses_w, triggers.clone()));

    let (nodes, nodes_w) = reflector::store::<PartialObjectMeta<Node>>();
    tokio::spawn(watch_nodes(client.clone(), nodes_w, triggers.clone()));

    let not_ready = |what: &'static str| OperatorError::CacheNeverReady { what };
    statuses.wait_until_ready().await.map_err(|_| not_ready("node status"))?;
    nodes.wait_until_ready().await.map_err(|_| not_ready("node"))?;
    pods_ready.wait_for(|r| *r).await.map_err(|_| not_ready("pod"))?;
    info!(
        pods = pods.read().map(|p| p.pods()).unwrap_or_default(),
        nodes = nodes.len(),
        node_statuses = statuses.len(),
        "controller caches synced"
    );
    if let Some(mut gate) = options.writes_after {
        if !*gate.borrow() {
            info!("waiting for the webhooks before the first write");
        }
        gate.wait_for(|open| *open).await.map_err(|_| OperatorError::WebhookStopped {
            reason: "it stopped before the API server called it".to_owned(),
        })?;
    }

    let events = Events::new(client.clone(), options.instance.clone(), options.metrics.clone());
    let ctx = Arc::new(Context {
        client: client.clone(),
        pods,
        node_statuses: statuses,
        nodes,
        metrics: options.metrics,
        kubelet_seccomp_dir: options.kubelet_seccomp_dir,
        events,
    });
    let config = controller::Config::default().concurrency(options.concurrency);
    tokio::join!(
        drive(profile_controller(&client, seccomp_w, seccomp_rx, ctx.clone(), config.clone())),
        drive(profile_controller(&client, selinux_w, selinux_rx, ctx.clone(), config.clone())),
        drive(profile_controller(&client, raw_w, raw_rx, ctx.clone(), config.clone())),
        drive(profile_controller(&client, apparmor_w, apparmor_rx, ctx.clone(), config)),
        super::recordings::run(client.clone()),
        async {
            if let Some(ns) = options.namespace.clone() {
                super::daemon::run(client.clone(), ns, options.on_verbosity.clone()).await
            }
        },
    );
    Ok(())
}

fn kind_queue<K: Profile>() -> (KindQueue<K>, UnboundedReceiver<ObjectRef<K>>, reflector::store::Writer<K>) {
    let (tx, rx) = unbounded();
    let (store, writer) = reflector::store::<K>();
    (KindQueue { tx, store }, rx, writer)
}

/// The applier of one kind: fed by its own watch (every change of a
/// profile) and by the triggers of the shared watches.
fn profile_controller<K: Profile>(
    client: &Client,
    writer: reflector::store::Writer<K>,
    triggers: UnboundedReceiver<ObjectRef<K>>,
    ctx: Arc<Context>,
    config: controller::Config,
) -> impl Stream<Item = ()> {
    let store = writer.as_reader();
    let own = reflect(writer, watch(Api::<K>::all(client.clone()), watcher::Config::default()))
        .modify(|p| p.slim())
        .default_backoff()
        .applied_objects()
        .map_ok(|p| ObjectRef::from_obj(&p));
    let queue = stream::select(own, triggers.map(Ok));
    controller::applier(
        |obj, ctx| Box::pin(reconcile::<K>(obj, ctx)),
        |obj: Arc<K>, err: &OperatorError, ctx: Arc<Context>| {
            Metrics::inc(&ctx.metrics.reconcile_errors);
            warn!("{} {}: {}", K::KIND.as_str(), obj.name_any(), chain(err));
            Action::requeue(Duration::from_secs(2))
        },
        ctx,
        store,
        queue,
        config,
    )
    .map(|res| {
        if let Err(e) = res {
            match e {
                // A trigger for a profile that is gone or not yet cached.
                controller::Error::ObjectNotFound(_) => {}
                other => warn!("{} controller: {}", K::KIND.as_str(), chain(&other)),
            }
        }
    })
}

async fn drive(s: impl Stream<Item = ()>) {
    s.for_each(|()| async {}).await;
}

/// An error and its sources on one line.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Keep the pod index and trigger the profiles whose users change.
async fn watch_pods(client: Client, index: Arc<RwLock<PodIndex>>, triggers: Triggers, ready: signal::Sender<bool>) {
    let key = |p: &Pod| format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any());
    let mut relist: Option<PodIndex> = None;
    let mut events =
        watch(Api::<Pod>::all(client), watcher::Config::default().any_semantic()).default_backoff().boxed();
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                warn!("pod watch: {}", chain(&e));
                continue;
            }
        };
        let touched = match event {
            Event::Apply(p) => write(&index).set(&key(&p), pod_references(&p)),
            Event::Delete(p) => write(&index).remove(&key(&p)),
            Event::Init => {
                relist = Some(PodIndex::default());
                Vec::new()
            }
            Event::InitApply(p) => {
                if let Some(r) = relist.as_mut() {
                    r.set(&key(&p), pod_references(&p));
                }
                Vec::new()
            }
            Event::InitDone => {
                let fresh = relist.take().unwrap_or_default();
                let mut guard = write(&index);
                let mut keys: BTreeSet<RefKey> = guard.keys().cloned().collect();
                keys.extend(fresh.keys().cloned());
                *guard = fresh;
                drop(guard);
                let _ = ready.send(true);
                keys.into_iter().collect()
            }
        };
        for k in &touched {
            triggers.reference(k);
        }
    }
}

fn write(index: &RwLock<PodIndex>) -> std::sync::RwLockWriteGuard<'_, PodIndex> {
    index.write().unwrap_or_else(|e| e.into_inner())
}

/// Cache node statuses and trigger the profile each one reports on.
async fn watch_node_statuses(
    client: Client,
    writer: reflector::store::Writer<SecurityProfileNodeStatus>,
    triggers: Triggers,
) {
    let api = Api::<SecurityProfileNodeStatus>::all(client);
    let mut events = reflect(writer, watch(api, watcher::Config::default().any_semantic()))
        .modify(|s| {
            s.metadata.managed_fields = None;
            s.metadata.annotations = None;
            s.metadata.labels = None;
        })
        .default_backoff()
        .boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Apply(s) | Event::Delete(s) | Event::InitApply(s)) => {
                if let Some(kind) = ProfileKind::from_kind(&s.spec.profile_kind) {
                    triggers.profile(kind, &s.spec.profile_name);
                }
            }
            // A relist may have dropped statuses without a delete event.
            Ok(Event::InitDone) => triggers.all(),
            Ok(Event::Init) => {}
            Err(e) => warn!("node status watch: {}", chain(&e)),
        }
    }
}

/// Cache node names and re-aggregate every profile when the set changes.
async fn watch_nodes(client: Client, writer: reflector::store::Writer<PartialObjectMeta<Node>>, triggers: Triggers) {
    let store = writer.as_reader();
    let mut known: BTreeSet<String> = BTreeSet::new();
    let mut events = reflect(writer, watch(Api::<PartialObjectMeta<Node>>::all(client), watcher::Config::default()))
        .default_backoff()
        .boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Apply(_) | Event::Delete(_) | Event::InitDone) => {
                let now: BTreeSet<String> = store.state().iter().map(|n| n.name_any()).collect();
                if now != known {
                    info!(nodes = now.len(), "the set of nodes changed");
                    known = now;
                    triggers.all();
                }
            }
            Ok(Event::Init | Event::InitApply(_)) => {}
            Err(e) => warn!("node watch: {}", chain(&e)),
        }
    }
}
