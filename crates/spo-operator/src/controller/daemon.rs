//! The daemon configuration `spod` (SPO's `SecurityProfilesOperatorDaemon`)
//! in the operator's namespace: created with SPO's defaults when missing,
//! its scheduling and resources applied to the spod DaemonSet, and its
//! `status.state` saying what happened.
//!
//! The node agents and the webhooks read the object themselves (the
//! syscall limit, the kinds switched off, the recorders, the webhook
//! options); this controller owns only the object's existence, the
//! DaemonSet fields and the status.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Client;
use serde_json::{json, Value};
use tracing::{info, warn};

use super::status::FIELD_MANAGER;
use spo_api::crds::{
    LogEnricherSource, SecurityProfilesOperatorDaemon, SpodSpec, SpodState, GROUP, SPOD_NAME, VERSION,
};

/// Name of the node agents' DaemonSet in the operator's namespace.
pub const DAEMONSET: &str = "spod";

/// Field manager of the DaemonSet fields taken from the configuration.
const DAEMONSET_MANAGER: &str = "spo-operator-spod";

/// Fields spo-rs accepts but does not act on, with why: named in the
/// `Ready` condition when set, so nothing is silently ignored.
pub fn not_acted_on(spec: &SpodSpec) -> Vec<&'static str> {
    let mut out = Vec::new();
    if spec.enable_profiling {
        out.push("enableProfiling (spo-rs serves no profiling endpoint)");
    }
    if spec.enable_memory_optimization {
        out.push("enableMemoryOptimization (spo-rs caches only what it needs)");
    }
    if spec.enricher.enable_json_enricher || spec.enricher.json_enricher_options.is_some() {
        out.push("enricher.enableJsonEnricher and its options (spo-rs writes JSON lines in any case)");
    }
    if spec.security.signature_verification.is_some() {
        out.push("security.signatureVerification (spo-rs pulls no oci:// profiles)");
    }
    if spec.webhook.static_config {
        out.push("webhook.staticConfig (spo-rs makes its own CA and must manage its webhook configurations)");
    }
    let e = &spec.enricher;
    if e.log_enricher_source == LogEnricherSource::Bpf {
        out.push("enricher.logEnricherSource Bpf (spo-rs reads the audit socket, else auditd's log, else /dev/kmsg)");
    }
    if e.log_enricher_filters.is_some() {
        out.push("enricher.logEnricherFilters (spo-rs keeps every record of a known container)");
    }
    if spec.enable_insecure_metrics_access {
        out.push("enableInsecureMetricsAccess (spod serves plain HTTP on its listen address in any case)");
    }
    if spec.selinux.custom_templates_config_map.is_some() {
        out.push("selinux.customTemplatesConfigMap (spo-rs compiles against its shipped templates)");
    }
    if !spec.webhook.tolerations.is_empty() {
        out.push("webhook.tolerations (the webhook runs in the operator's Deployment)");
    }
    let s = &spec.security;
    if s.allowed_identity_regexp != ".*" || s.allowed_oidc_issuer_regexp != ".*" {
        out.push("security.allowedIdentityRegexp, allowedOidcIssuerRegexp (spo-rs pulls no oci:// profiles)");
    }
    out
}

/// The server-side apply document of the DaemonSet fields the
/// configuration decides, `None` when it decides none.
pub fn daemonset_patch(spec: &SpodSpec) -> Value {
    let mut pod = json!({
        "priorityClassName": spec.scheduling.priority_class_name,
        "tolerations": spec.scheduling.tolerations,
        "imagePullSecrets": spec.image_pull_secrets,
    });
    if let Some(a) = &spec.scheduling.affinity {
        pod["affinity"] = json!(a);
    }
    let mut container = json!({"name": "spod"});
    // SPO: the daemon runs with the type tag, except while AppArmor is on
    // (the pod keeps its default SELinux types then).
    if !spec.enable_app_armor {
        container["securityContext"] = json!({"seLinuxOptions": {"type": spec.selinux.type_tag}});
    }
    if let Some(r) = &spec.daemon_resource_requirements {
        container["resources"] = json!(r);
    }
    if let Some(p) = &spec.host_proc_volume_path {
        container["env"] = json!([{"name": "SPO_HOST_PROC", "value": p}]);
    }
    pod["containers"] = json!([container]);
    let mut body = json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": DAEMONSET},
        "spec": {"template": {"spec": pod}},
    });
    if let Some(m) = spec.daemon_update_strategy.as_ref().and_then(|s| s.max_unavailable.as_ref()) {
        body["spec"]["updateStrategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": m}});
    }
    body
}

/// Where the daemon configuration's `verbosity` goes: SPO's 0 (the
/// default) is informational logging, 1 and more add debug messages.
#[derive(Clone)]
pub struct VerbositySink(pub std::sync::Arc<dyn Fn(i32) + Send + Sync>);

impl std::fmt::Debug for VerbositySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerbositySink")
    }
}

/// Keep `spod` in `namespace` existing, applied and reported, until the
/// watch ends.
pub async fn run(client: Client, namespace: String, on_verbosity: Option<VerbositySink>) {
    let api: Api<SecurityProfilesOperatorDaemon> = Api::namespaced(client.clone(), &namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={SPOD_NAME}"));
    let mut events = watcher::watcher(api.clone(), config).default_backoff().boxed();
    let mut seen = false;
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init) => seen = false,
            Ok(Event::InitApply(d) | Event::Apply(d)) => {
                seen = true;
                if let Some(sink) = &on_verbosity {
                    sink.0(d.spec.verbosity.unwrap_or(0));
                }
                reconcile(&client, &namespace, &d).await;
            }
            Ok(Event::InitDone) if !seen => create_default(&api, &namespace).await,
            Ok(Event::Delete(_)) => create_default(&api, &namespace).await,
            Ok(Event::InitDone) => {}
            Err(e) => warn!("daemon configuration watch: {}", super::chain(&e)),
        }
    }
}

async fn create_default(api: &Api<SecurityProfilesOperatorDaemon>, namespace: &str) {
    let mut d = SecurityProfilesOperatorDaemon::new(SPOD_NAME, SpodSpec::default());
    d.metadata.namespace = Some(namespace.to_owned());
    match api.create(&PostParams::default(), &d).await {
        Ok(_) => info!("created the daemon configuration {namespace}/{SPOD_NAME} with SPO's defaults"),
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => warn!("cannot create the daemon configuration: {}", super::chain(&e)),
    }
}

async fn reconcile(client: &Client, namespace: &str, d: &SecurityProfilesOperatorDaemon) {
    let generation = d.metadata.generation;
    if d.status.as_ref().and_then(|s| s.observed_generation) == generation
        && d.status.as_ref().and_then(|s| s.state) == Some(SpodState::Running)
    {
        return;
    }
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), namespace);
    // Server-side apply would create a DaemonSet that is missing, from a
    // partial document the API server then refuses; node agents started
    // some other way (the e2e harness, a standalone install) read the
    // configuration themselves, so a missing DaemonSet is left missing.
    let applied = match daemonsets.get_opt(DAEMONSET).await {
        Ok(None) => Ok(format!("no DaemonSet {namespace}/{DAEMONSET} to update")),
        Ok(Some(_)) => match daemonsets
            .patch(DAEMONSET, &PatchParams::apply(DAEMONSET_MANAGER).force(), &Patch::Apply(&daemonset_patch(&d.spec)))
            .await
        {
            Ok(_) => Ok("the spod DaemonSet follows its scheduling and resources".to_owned()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(format!("no DaemonSet {namespace}/{DAEMONSET} to update")),
            Err(e) => Err(format!("cannot update the spod DaemonSet: {}", super::chain(&e))),
        },
        Err(e) => Err(format!("cannot read the spod DaemonSet: {}", super::chain(&e))),
    };
    let ignored = not_acted_on(&d.spec);
    let (state, status, reason, mut message) = match applied {
        Ok(m) => (SpodState::Running, "True", "Running", m),
        Err(m) => (SpodState::Error, "False", "Error", m),
    };
    if !ignored.is_empty() {
        message.push_str(&format!("; accepted but not acted on: {}", ignored.join(", ")));
    }
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let condition = Condition {
        type_: "Ready".into(),
        status: status.into(),
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time: now,
    };
    let body = json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": "SecurityProfilesOperatorDaemon",
        "status": {"state": state, "observedGeneration": generation, "conditions": [condition]},
    });
    let api: Api<SecurityProfilesOperatorDaemon> = Api::namespaced(client.clone(), namespace);
    if let Err(e) = api.patch_status(SPOD_NAME, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await
    {
        warn!("cannot write the daemon configuration's status: {}", super::chain(&e));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemonset_gets_scheduling_resources_and_rollout() {
        let spec: SpodSpec = serde_json::from_value(json!({
            "scheduling": {"priorityClassName": "high", "tolerations": [{"operator": "Exists"}]},
            "daemonResourceRequirements": {"requests": {"memory": "64Mi"}},
            "daemonUpdateStrategy": {"maxUnavailable": "25%"},
        }))
        .expect("spec");
        let p = daemonset_patch(&spec);
        let pod = &p["spec"]["template"]["spec"];
        assert_eq!(pod["priorityClassName"], "high");
        assert_eq!(pod["tolerations"][0]["operator"], "Exists");
        assert_eq!(pod["containers"][0]["resources"]["requests"]["memory"], "64Mi");
        assert_eq!(p["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"], "25%");
        let default = daemonset_patch(&SpodSpec::default());
        assert_eq!(default["spec"]["template"]["spec"]["priorityClassName"], "system-node-critical");
        assert!(default["spec"].get("updateStrategy").is_none());
        // SPO's type tag, except while AppArmor is on.
        let container = |p: &Value| p["spec"]["template"]["spec"]["containers"][0].clone();
        assert_eq!(container(&default)["securityContext"]["seLinuxOptions"]["type"], "spc_t");
        let apparmor: SpodSpec = serde_json::from_value(json!({"enableAppArmor": true})).expect("spec");
        assert!(container(&daemonset_patch(&apparmor)).get("securityContext").is_none());
    }

    #[test]
    fn fields_not_acted_on_are_named() {
        assert!(not_acted_on(&SpodSpec::default()).is_empty());
        let spec: SpodSpec = serde_json::from_value(json!({
            "enableProfiling": true,
            "verbosity": 2,
            "selinux": {"typeTag": "container_t", "customTemplatesConfigMap": "mine"},
            "enricher": {"logEnricherSource": "Bpf"},
        }))
        .expect("spec");
        let named = not_acted_on(&spec);
        // verbosity and typeTag are acted on; the other three are not.
        assert_eq!(named.len(), 3, "{named:?}");
        assert!(named.iter().any(|n| n.starts_with("selinux.customTemplatesConfigMap")), "{named:?}");
    }
}
