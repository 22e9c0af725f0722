//! From `ProfileRecording` results to profiles: whenever a recording's
//! `status.recorded` changes (a node agent reports a container that
//! ended), the profiles [`spo_api::recording::wanted_profiles`] derives from
//! it are server-side applied (profiles are cluster-wide, as in SPO v1),
//! labelled with the recording's name and namespace.
//!
//! While its recording exists, a recorded profile follows one rule, the
//! same before and after an operator restart: it exists, and it is written
//! again only when the recording's result changes. Each profile carries
//! [`RECORDED_SPEC_ANNOTATION`], the digest of the spec last written from
//! the recording, read back from a cache of the labelled profiles:
//! - an edit by the user (a syscall added by hand) is kept until the
//!   recording's result changes, then the new result is written;
//! - a deleted profile is written again (its deletion is a change this
//!   controller watches). To drop one for good, delete the recording first:
//!   profiles outlive their recording, as in SPO.

use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc::unbounded;
use futures::{stream, StreamExt, TryStreamExt};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{self, Action};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{reflector as reflect, watcher, WatchStreamExt};
use kube::{Client, ResourceExt};
use tracing::{info, warn};

use crate::OperatorError;
use spo_api::crds::{ProfileRecording, SeccompProfile, GROUP, VERSION};
use spo_api::recording::{
    spec_digest, wanted_profiles, RECORDED_BY_LABEL, RECORDED_NAMESPACE_LABEL, RECORDED_SPEC_ANNOTATION,
};

/// Field manager of the profiles made from recordings.
pub const RECORDING_MANAGER: &str = "spo-operator-recording";

struct Ctx {
    client: Client,
    /// Every profile labelled [`RECORDED_BY_LABEL`].
    recorded: Store<SeccompProfile>,
}

/// Run the recordings controller until the watches end.
pub async fn run(client: Client) {
    // The recorded profiles: a cache to compare with, and a trigger of
    // their recording when one changes or goes.
    let (recorded, recorded_w) = reflector::store::<SeccompProfile>();
    let (tx, triggers) = unbounded();
    let profiles =
        watcher(Api::<SeccompProfile>::all(client.clone()), watcher::Config::default().labels(RECORDED_BY_LABEL));
    tokio::spawn(reflect(recorded_w, profiles).default_backoff().touched_objects().for_each(move |p| {
        if let Ok(p) = p {
            if let (Some(rec), Some(ns)) = (p.labels().get(RECORDED_BY_LABEL), p.labels().get(RECORDED_NAMESPACE_LABEL))
            {
                let _ = tx.unbounded_send(ObjectRef::<ProfileRecording>::new(rec).within(ns));
            }
        }
        async {}
    }));
    // Compare only with a full cache: an empty one would rewrite every
    // profile, undoing the users' edits.
    if recorded.wait_until_ready().await.is_err() {
        warn!("recordings controller: the cache of recorded profiles never filled");
        return;
    }

    let (recordings, recordings_w) = reflector::store::<ProfileRecording>();
    let own = reflect(recordings_w, watcher(Api::<ProfileRecording>::all(client.clone()), watcher::Config::default()))
        .default_backoff()
        .applied_objects()
        .map_ok(|r| ObjectRef::from_obj(&r));
    let ctx = Arc::new(Ctx { client, recorded });
    controller::applier(
        |rec, ctx| Box::pin(reconcile(rec, ctx)),
        error_policy,
        ctx,
        recordings,
        stream::select(own, triggers.map(Ok)),
        controller::Config::default(),
    )
    .for_each(|res| async move {
        if let Err(e) = res {
            match e {
                // A trigger for a recording that is gone.
                controller::Error::ObjectNotFound(_) => {}
                other => warn!("recordings controller: {}", super::chain(&other)),
            }
        }
    })
    .await;
}

async fn reconcile(rec: Arc<ProfileRecording>, ctx: Arc<Ctx>) -> Result<Action, OperatorError> {
    let ns = rec.namespace().unwrap_or_default();
    let recording = rec.name_any();
    let api: Api<SeccompProfile> = Api::all(ctx.client.clone());
    for (name, spec) in wanted_profiles(&rec) {
        let digest = spec_digest(&spec);
        let current = ctx.recorded.get(&ObjectRef::new(&name));
        if current.is_some_and(|p| p.annotations().get(RECORDED_SPEC_ANNOTATION) == Some(&digest)) {
            continue;
        }
        let body = serde_json::json!({
            "apiVersion": format!("{GROUP}/{VERSION}"),
            "kind": "SeccompProfile",
            "metadata": {
                "name": name,
                "labels": {RECORDED_BY_LABEL: recording, RECORDED_NAMESPACE_LABEL: ns},
                "annotations": {RECORDED_SPEC_ANNOTATION: digest},
            },
            "spec": spec,
        });
        api.patch(&name, &PatchParams::apply(RECORDING_MANAGER).force(), &Patch::Apply(&body)).await.map_err(
            |source| OperatorError::Kube {
                action: format!("applying SeccompProfile {name} from recording {ns}/{recording}"),
                source,
            },
        )?;
        info!("SeccompProfile {name} written from ProfileRecording {ns}/{recording}");
    }
    Ok(Action::await_change())
}

fn error_policy(rec: Arc<ProfileRecording>, err: &OperatorError, _: Arc<Ctx>) -> Action {
    warn!("ProfileRecording {}/{}: {}", rec.namespace().unwrap_or_default(), rec.name_any(), super::chain(err));
    Action::requeue(Duration::from_secs(5))
}
