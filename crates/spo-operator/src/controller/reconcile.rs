//! One reconcile of one profile: finalizer, status, release.
//!
//! Everything is recomputed from the caches of the API server's objects
//! (pods, nodes, node statuses) on every call, and every write is either a
//! server-side apply of the full wanted state or a guarded patch, so a
//! reconcile can run any number of times, in any order, on any replica, or
//! after a crash half-way, and converge to the same result.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use tracing::{debug, info};

use super::aggregate::{aggregate, NodeReport, ProfileFacts};
use super::events::Events;
use super::finalizer::{self, Outcome};
use super::kinds::Profile;
use super::metrics::Metrics;
use super::pods::PodIndex;
use super::references::RefKey;
use super::status::{self, FIELD_MANAGER};
use crate::OperatorError;
use spo_api::crds::{ProfileState, SecurityProfileNodeStatus};

/// How often a profile is looked at again when nothing happens: a safety
/// net only, every change of an input triggers a reconcile at once.
pub const RESYNC: Duration = Duration::from_secs(600);

/// When to look again at a profile whose guarded patch found the cache
/// behind, should the change's own event not come first.
const STALE_RETRY: Duration = Duration::from_secs(1);

/// How long a new profile waits for its first node report before the
/// operator writes `Pending`: nodes normally report within a second, and
/// writing `Pending` just before `Installed` would double the status
/// writes when many profiles arrive at once.
const FIRST_REPORT_GRACE: Duration = Duration::from_secs(2);

/// What every reconcile reads: the client and the caches.
#[derive(Clone)]
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Profile references -> pods.
    pub pods: Arc<RwLock<PodIndex>>,
    /// Every node status in the cluster.
    pub node_statuses: Store<SecurityProfileNodeStatus>,
    /// Every node (metadata only).
    pub nodes: Store<PartialObjectMeta<Node>>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The kubelet's seccomp directory on the nodes, for SPO's
    /// `status.path` (`/var/lib/kubelet/seccomp`); not written when unknown.
    pub kubelet_seccomp_dir: Option<String>,
    /// Events on profiles for the nodes' errors.
    pub events: Events,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("nodes", &self.nodes.len())
            .field("node_statuses", &self.node_statuses.len())
            .finish()
    }
}

/// Reconcile one profile.
pub async fn reconcile<K: Profile>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action, OperatorError> {
    Metrics::inc(&ctx.metrics.reconciles);
    let name = obj.name_any();
    let what = || format!("{} {name}", K::KIND.as_str());
    let api: Api<K> = Api::all(ctx.client.clone());
    let deleting = obj.meta().deletion_timestamp.is_some();

    if !finalizer::has(&*obj) {
        if deleting {
            // Deleted before the operator ever held it: not ours to hold.
            return Ok(Action::await_change());
        }
        if let Some(action) = unless_done(finalizer::add(&api, &*obj).await?, &what) {
            return Ok(action);
        }
        Metrics::inc(&ctx.metrics.finalizers_added);
        debug!("added finalizer to {}", what());
    }

    let workloads = {
        let index = ctx.pods.read().unwrap_or_else(|e| e.into_inner());
        index.users(&RefKey::for_profile(K::KIND.ref_kind(), &name))
    };
    let nodes: BTreeSet<String> = ctx.nodes.state().iter().map(|n| n.name_any()).collect();
    let statuses =
        ctx.node_statuses.state_filter(|s| s.spec.profile_name == name && s.spec.profile_kind == K::KIND.as_str());
    let (live, orphans): (Vec<_>, Vec<_>) = statuses.into_iter().partition(|s| nodes.contains(&s.spec.node_name));

    let reports: Vec<NodeReport<'_>> = nodes
        .iter()
        .map(|node| match live.iter().find(|s| &s.spec.node_name == node).and_then(|s| s.status.as_ref()) {
            Some(st) => NodeReport {
                node,
                state: st.status,
                message: st.message.as_deref(),
                digest: st.content_digest.as_deref(),
            },
            None => NodeReport::missing(node),
        })
        .collect();
    ctx.events.node_errors(&*obj, &reports);
    let facts = ProfileFacts { disabled: obj.disabled(), deleting, workloads: workloads.len() };
    let agg = aggregate(&reports, &facts);
    let refs = status::References {
        reference: K::KIND.reference(&name),
        pinned: K::KIND.pinned(&name, agg.digest.as_deref()),
        path: ctx
            .kubelet_seccomp_dir
            .as_ref()
            .filter(|_| K::KIND == super::kinds::ProfileKind::Seccomp)
            .map(|d| format!("{}/{}", d.trim_end_matches('/'), super::references::seccomp_current(&name))),
    };
    let current = obj.owned_status();
    let desired = status::desired(&agg, refs, workloads, obj.meta().generation, &current, now());
    let unreported = current.state.is_none() && desired.state == ProfileState::Pending && live.is_empty();
    if unreported && !deleting {
        if let Some(wait) = grace_left(obj.meta().creation_timestamp.as_ref()) {
            // A node status's event brings the reconcile that writes the
            // real state; this one is only the fallback to `Pending`.
            return Ok(Action::requeue(wait));
        }
    }
    if !status::up_to_date(&current, &desired) {
        let body = status::apply_body(K::KIND, &desired);
        match api.patch_status(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await {
            Ok(_) => Metrics::inc(&ctx.metrics.status_writes),
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Action::await_change()),
            Err(source) => {
                return Err(OperatorError::Kube { action: format!("writing the status of {}", what()), source })
            }
        }
        debug!("{}: {} ({})", what(), desired.state.as_str(), desired.ready.message);
    }

    for orphan in &orphans {
        delete_orphan(&ctx, orphan).await?;
    }

    if deleting && desired.workloads.is_empty() && live.is_empty() {
        // Gone: released by an earlier reconcile of this cached copy, and
        // counted then.
        if let Some(action) = unless_done(finalizer::remove(&api, &*obj).await?, &what) {
            return Ok(action);
        }
        Metrics::inc(&ctx.metrics.finalizers_removed);
        ctx.events.forget(K::KIND, &name);
        info!("released {}: no pod uses it and no node holds it", what());
        return Ok(Action::await_change());
    }
    Ok(Action::requeue(RESYNC))
}

/// What a reconcile returns when a guarded finalizer patch wrote nothing
/// (`None` when it was applied and the reconcile goes on): look again soon
/// if the cached copy was stale, wait for a change if the object is gone.
fn unless_done(outcome: Outcome, what: &impl Fn() -> String) -> Option<Action> {
    match outcome {
        Outcome::Done => None,
        Outcome::Stale => {
            debug!("{}: changed since cached; the next event reconciles it", what());
            Some(Action::requeue(STALE_RETRY))
        }
        Outcome::Gone => Some(Action::await_change()),
    }
}

/// Delete the node status of a node that is gone, once the API server
/// confirms the node is gone (the node cache may lag behind a new node).
async fn delete_orphan(ctx: &Context, status: &SecurityProfileNodeStatus) -> Result<(), OperatorError> {
    let node = &status.spec.node_name;
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    match nodes.get_metadata_opt(node).await {
        Ok(Some(_)) => return Ok(()),
        Ok(None) => {}
        Err(source) => return Err(OperatorError::Kube { action: format!("looking up node {node}"), source }),
    }
    let name = status.name_any();
    let api: Api<SecurityProfileNodeStatus> = Api::all(ctx.client.clone());
    // Only the object that was looked at: a node status recreated under the
    // same name meanwhile is left alone.
    let dp = DeleteParams {
        preconditions: status.uid().map(|uid| kube::api::Preconditions { uid: Some(uid), resource_version: None }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &dp).await {
        Ok(_) => {
            Metrics::inc(&ctx.metrics.orphans_deleted);
            info!("deleted node status {name}: node {node} no longer exists");
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(source) => Err(OperatorError::Kube { action: format!("deleting node status {name}"), source }),
    }
}

/// What is left of [`FIRST_REPORT_GRACE`] for an object created at
/// `created`; `None` once it has passed.
fn grace_left(created: Option<&Time>) -> Option<Duration> {
    let age = Duration::try_from(Timestamp::now().duration_since(created?.0)).unwrap_or_default();
    FIRST_REPORT_GRACE.checked_sub(age).filter(|d| !d.is_zero())
}

/// The current time, at the second precision the API server stores.
fn now() -> Time {
    let now = Timestamp::now();
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_profiles_wait_for_a_report_only_briefly() {
        let at = |secs_ago: i64| Time(Timestamp::from_second(Timestamp::now().as_second() - secs_ago).unwrap());
        let left = grace_left(Some(&at(0))).expect("just created: waits");
        assert!(left <= FIRST_REPORT_GRACE, "{left:?}");
        assert_eq!(grace_left(Some(&at(10))), None, "old enough: Pending is written");
        assert_eq!(grace_left(None), None, "no creation time: no wait");
    }
}
