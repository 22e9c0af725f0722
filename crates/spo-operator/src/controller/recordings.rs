//! From `ProfileRecording` results to profiles: whenever a recording's
//! `status.recorded` changes (a node agent reports a container that
//! ended), the profiles [`crate::recording::wanted_profiles`] derives from
//! it are server-side applied in the recording's namespace, labelled with
//! the recording's name.
//!
//! A profile already applied with the same spec is not written again
//! (remembered in memory; after a restart each is applied once more,
//! which changes nothing). Profiles outlive their recording, as in SPO:
//! deleting a recording never deletes what it produced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use tracing::{info, warn};

use crate::crds::{ProfileRecording, SeccompProfileSpec, GROUP, VERSION};
use crate::recording::{wanted_profiles, RECORDED_BY_LABEL};
use crate::OperatorError;

/// Field manager of the profiles made from recordings.
pub const RECORDING_MANAGER: &str = "spo-operator-recording";

struct Ctx {
    client: Client,
    /// `(namespace, profile)` -> the spec last applied.
    applied: Mutex<HashMap<(String, String), SeccompProfileSpec>>,
}

/// Run the recordings controller until the watch ends.
pub async fn run(client: Client) {
    let ctx = Arc::new(Ctx { client: client.clone(), applied: Mutex::default() });
    Controller::new(Api::<ProfileRecording>::all(client), watcher::Config::default())
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

async fn reconcile(rec: Arc<ProfileRecording>, ctx: Arc<Ctx>) -> Result<Action, OperatorError> {
    let ns = rec.namespace().unwrap_or_default();
    let recording = rec.name_any();
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(
        ctx.client.clone(),
        &ns,
        &kube::api::ApiResource::erase::<crate::crds::SeccompProfile>(&()),
    );
    for (name, spec) in wanted_profiles(&rec) {
        let key = (ns.clone(), name.clone());
        if ctx.applied.lock().unwrap_or_else(|e| e.into_inner()).get(&key) == Some(&spec) {
            continue;
        }
        let body = serde_json::json!({
            "apiVersion": format!("{GROUP}/{VERSION}"),
            "kind": "SeccompProfile",
            "metadata": {"name": name, "namespace": ns, "labels": {RECORDED_BY_LABEL: recording}},
            "spec": spec,
        });
        api.patch(&name, &PatchParams::apply(RECORDING_MANAGER).force(), &Patch::Apply(&body)).await.map_err(
            |source| OperatorError::Kube {
                action: format!("applying SeccompProfile {ns}/{name} from recording {recording}"),
                source,
            },
        )?;
        info!("SeccompProfile {ns}/{name} written from ProfileRecording {recording}");
        ctx.applied.lock().unwrap_or_else(|e| e.into_inner()).insert(key, spec);
    }
    Ok(Action::await_change())
}

fn error_policy(rec: Arc<ProfileRecording>, err: &OperatorError, _: Arc<Ctx>) -> Action {
    warn!("ProfileRecording {}/{}: {}", rec.namespace().unwrap_or_default(), rec.name_any(), super::chain(err));
    Action::requeue(Duration::from_secs(5))
}
