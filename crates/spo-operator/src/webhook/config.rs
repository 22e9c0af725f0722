//! The two webhook configurations, created or updated by server-side
//! apply at every start with the fresh CA as their `caBundle`:
//!
//! - `spo-rs-validation` (validating): every profile kind and
//!   `ProfileBinding` on CREATE and UPDATE at `/validate`; and pods on
//!   CREATE in every namespace but the operator's own, for the namespace
//!   policy. Validating webhooks run after every mutating one, so the pod
//!   is judged as it will be stored, bindings and other mutators included.
//!   The operator's namespace is left out so the operator can always be
//!   restarted: with `failurePolicy: Fail` and no operator, no pod of that
//!   namespace could otherwise be created, the operator's own included.
//! - `spo-rs-binding` (mutating): pods on CREATE at `/mutate-pods` in
//!   namespaces labelled `spo.x-k8s.io/enable-binding`; and every profile
//!   kind on CREATE at `/mutate-profiles`, which adds the in-use finalizer
//!   so a profile is held from its first version without a second write;
//!   and pods on CREATE at `/mark-recording` in namespaces labelled
//!   `spo.x-k8s.io/enable-recording`, for `ProfileRecording`s.
//!
//! All but the finalizer entry fail closed (`failurePolicy: Fail`): when
//! the operator is down an invalid profile is not admitted, a pod is not
//! let through without its binding, and the namespace policy is not
//! skipped. The finalizer entry is a saving, not a guarantee (the
//! controller adds a missing finalizer), so it is `Ignore`.

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhook, MutatingWebhookConfiguration, RuleWithOperations, ServiceReference, ValidatingWebhook,
    ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement, ObjectMeta};
use k8s_openapi::ByteString;
use kube::api::{Api, Patch, PatchParams};
use kube::Client;

use super::mutate::ENABLE_BINDING_LABEL;
use super::review::Endpoint;
use crate::OperatorError;
use spo_api::crds::{WebhookName, WebhookOption, GROUP};
use spo_api::recording::ENABLE_RECORDING_LABEL;

/// Name of the validating configuration.
pub const VALIDATION_CONFIG: &str = "spo-rs-validation";
/// Name of the mutating configuration.
pub const BINDING_CONFIG: &str = "spo-rs-binding";
/// Field manager of the operator's applies.
const MANAGER: &str = "spo-operator-webhook";

/// Where the API server reaches the webhook.
#[derive(Debug, Clone)]
pub enum Target {
    /// A URL (`https://127.0.0.1:9443`), for an operator outside the
    /// cluster; the path is appended.
    Url(String),
    /// A service in the cluster.
    Service {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Its port.
        port: i32,
    },
}

fn client_config(target: &Target, endpoint: Endpoint, ca_pem: &str) -> WebhookClientConfig {
    let ca_bundle = Some(ByteString(ca_pem.as_bytes().to_vec()));
    match target {
        Target::Url(url) => WebhookClientConfig {
            url: Some(format!("{}{}", url.trim_end_matches('/'), endpoint.path())),
            ca_bundle,
            service: None,
        },
        Target::Service { namespace, name, port } => WebhookClientConfig {
            url: None,
            ca_bundle,
            service: Some(ServiceReference {
                namespace: namespace.clone(),
                name: name.clone(),
                path: Some(endpoint.path().to_owned()),
                port: Some(*port),
            }),
        },
    }
}

/// A rule on namespaced resources (pods and their subresources).
fn rule(groups: &[&str], resources: &[&str], operations: &[&str]) -> RuleWithOperations {
    RuleWithOperations {
        api_groups: Some(groups.iter().map(|s| (*s).to_owned()).collect()),
        api_versions: Some(vec!["v1".to_owned()]),
        resources: Some(resources.iter().map(|s| (*s).to_owned()).collect()),
        operations: Some(operations.iter().map(|s| (*s).to_owned()).collect()),
        scope: Some("Namespaced".to_owned()),
    }
}

/// A rule on spo-rs's own kinds, cluster-wide (profiles) and namespaced
/// (bindings, recordings, the daemon configuration) alike. It names `v1`
/// only: with `matchPolicy: Equivalent` the API server converts a request
/// made in an older version (through `/convert`) before calling the
/// webhook, so the webhooks only ever read `v1`.
fn spo_rule(resources: &[&str], operations: &[&str]) -> RuleWithOperations {
    RuleWithOperations { scope: Some("*".to_owned()), ..rule(&[GROUP], resources, operations) }
}

/// SPO's `webhook.options[]` of the daemon configuration on one of our
/// entries: its failure policy and selectors replace ours when given.
fn with_options(mut hook: MutatingWebhook, option: Option<&WebhookOption>) -> MutatingWebhook {
    if let Some(o) = option {
        if let Some(p) = o.failure_policy {
            hook.failure_policy = Some(format!("{p:?}"));
        }
        if let Some(s) = &o.namespace_selector {
            hook.namespace_selector = Some(s.clone());
        }
        if let Some(s) = &o.object_selector {
            hook.object_selector = Some(s.clone());
        }
    }
    hook
}

/// A validating webhook entry with the settings every spo-rs entry shares:
/// v1 reviews, fail closed, no side effects, 10 s timeout.
fn validating(name: &str, target: &Target, ca_pem: &str, rule: RuleWithOperations) -> ValidatingWebhook {
    ValidatingWebhook {
        name: name.to_owned(),
        admission_review_versions: vec!["v1".to_owned()],
        client_config: client_config(target, Endpoint::Validate, ca_pem),
        failure_policy: Some("Fail".to_owned()),
        match_policy: Some("Equivalent".to_owned()),
        side_effects: "None".to_owned(),
        timeout_seconds: Some(10),
        rules: Some(vec![rule]),
        ..ValidatingWebhook::default()
    }
}

/// A selector on one namespace label.
fn namespaces_where(key: &str, operator: &str, values: Option<Vec<String>>) -> Option<LabelSelector> {
    Some(LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: key.to_owned(),
            operator: operator.to_owned(),
            values,
        }]),
        ..LabelSelector::default()
    })
}

fn managed_metadata(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        labels: Some([("app.kubernetes.io/managed-by".to_owned(), "spo-operator".to_owned())].into()),
        ..ObjectMeta::default()
    }
}

/// The validating configuration.
pub fn validation(target: &Target, ca_pem: &str, operator_namespace: &str) -> ValidatingWebhookConfiguration {
    let profiles = validating(
        "profiles.spo.x-k8s.io",
        target,
        ca_pem,
        spo_rule(
            &[
                "seccompprofiles",
                "selinuxprofiles",
                "rawselinuxprofiles",
                "apparmorprofiles",
                "profilebindings",
                "profilerecordings",
                "securityprofilesoperatordaemons",
            ],
            &["CREATE", "UPDATE"],
        ),
    );
    let pods = ValidatingWebhook {
        namespace_selector: namespaces_where(
            "kubernetes.io/metadata.name",
            "NotIn",
            Some(vec![operator_namespace.to_owned()]),
        ),
        // New pods, and ephemeral containers added to running ones (the
        // only security contexts a pod gains after creation). Plain pod
        // updates are left alone: they cannot change a security context,
        // and failing them closed would block pod finalizers while the
        // operator is away.
        rules: Some(vec![rule(&[""], &["pods"], &["CREATE"]), rule(&[""], &["pods/ephemeralcontainers"], &["UPDATE"])]),
        ..validating("namespace-policy.spo.x-k8s.io", target, ca_pem, rule(&[""], &["pods"], &["CREATE"]))
    };
    ValidatingWebhookConfiguration {
        metadata: managed_metadata(VALIDATION_CONFIG),
        webhooks: Some(vec![profiles, pods]),
    }
}

/// A mutating webhook entry with the settings every spo-rs entry shares:
/// v1 reviews, fail closed, no side effects, 10 s timeout, never invoked
/// twice.
fn mutating(
    name: &str,
    target: &Target,
    endpoint: Endpoint,
    ca_pem: &str,
    rule: RuleWithOperations,
) -> MutatingWebhook {
    MutatingWebhook {
        name: name.to_owned(),
        admission_review_versions: vec!["v1".to_owned()],
        client_config: client_config(target, endpoint, ca_pem),
        failure_policy: Some("Fail".to_owned()),
        match_policy: Some("Equivalent".to_owned()),
        side_effects: "None".to_owned(),
        timeout_seconds: Some(10),
        reinvocation_policy: Some("Never".to_owned()),
        rules: Some(vec![rule]),
        ..MutatingWebhook::default()
    }
}

/// The mutating configuration, with the daemon configuration's
/// `webhook.options` (SPO's `binding.spo.io` and `recording.spo.io`) on
/// the binding and recording entries.
pub fn binding(target: &Target, ca_pem: &str, options: &[WebhookOption]) -> MutatingWebhookConfiguration {
    let option = |name: WebhookName| options.iter().find(|o| o.name == name);
    let pods = with_options(
        MutatingWebhook {
            namespace_selector: namespaces_where(ENABLE_BINDING_LABEL, "Exists", None),
            ..mutating(
                "binding.spo.x-k8s.io",
                target,
                Endpoint::MutatePods,
                ca_pem,
                rule(&[""], &["pods"], &["CREATE"]),
            )
        },
        option(WebhookName::Binding),
    );
    let profiles = MutatingWebhook {
        failure_policy: Some("Ignore".to_owned()),
        ..mutating(
            "finalizer.spo.x-k8s.io",
            target,
            Endpoint::MutateProfiles,
            ca_pem,
            spo_rule(&["seccompprofiles", "selinuxprofiles", "rawselinuxprofiles", "apparmorprofiles"], &["CREATE"]),
        )
    };
    let recording = with_options(
        MutatingWebhook {
            namespace_selector: namespaces_where(ENABLE_RECORDING_LABEL, "Exists", None),
            ..mutating(
                "recording.spo.x-k8s.io",
                target,
                Endpoint::MarkRecording,
                ca_pem,
                rule(&[""], &["pods"], &["CREATE"]),
            )
        },
        option(WebhookName::Recording),
    );
    MutatingWebhookConfiguration {
        metadata: managed_metadata(BINDING_CONFIG),
        webhooks: Some(vec![pods, profiles, recording]),
    }
}

/// Create or update both configurations.
pub async fn apply(
    client: &Client,
    target: &Target,
    ca_pem: &str,
    operator_namespace: &str,
    options: &[WebhookOption],
) -> Result<(), OperatorError> {
    let params = PatchParams::apply(MANAGER).force();
    let mut v = serde_json::to_value(validation(target, ca_pem, operator_namespace)).unwrap_or_default();
    v["apiVersion"] = "admissionregistration.k8s.io/v1".into();
    v["kind"] = "ValidatingWebhookConfiguration".into();
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .patch(VALIDATION_CONFIG, &params, &Patch::Apply(&v))
        .await
        .map_err(|source| OperatorError::Kube { action: format!("applying {VALIDATION_CONFIG}"), source })?;
    let mut m = serde_json::to_value(binding(target, ca_pem, options)).unwrap_or_default();
    m["apiVersion"] = "admissionregistration.k8s.io/v1".into();
    m["kind"] = "MutatingWebhookConfiguration".into();
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .patch(BINDING_CONFIG, &params, &Patch::Apply(&m))
        .await
        .map_err(|source| OperatorError::Kube { action: format!("applying {BINDING_CONFIG}"), source })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_the_path_and_services_the_port() {
        let v = validation(&Target::Url("https://127.0.0.1:9443/".into()), "PEM", "spo");
        let hooks = v.webhooks.expect("webhooks");
        assert_eq!(hooks[0].client_config.url.as_deref(), Some("https://127.0.0.1:9443/validate"));
        assert_eq!(hooks[0].client_config.ca_bundle.as_ref().map(|b| b.0.as_slice()), Some(&b"PEM"[..]));
        assert_eq!(hooks[1].failure_policy.as_deref(), Some("Fail"));
        let sel = hooks[1].namespace_selector.as_ref().and_then(|s| s.match_expressions.as_ref()).expect("selector");
        assert_eq!(sel[0].values.as_deref(), Some(&["spo".to_owned()][..]));
        let target = Target::Service { namespace: "spo".into(), name: "spo-webhook".into(), port: 443 };
        let m = binding(&target, "PEM", &[]);
        let hook = &m.webhooks.expect("webhooks")[0];
        let svc = hook.client_config.service.as_ref().expect("service");
        assert_eq!(svc.path.as_deref(), Some("/mutate-pods"));
        assert_eq!(svc.port, Some(443));
        let expr = &hook.namespace_selector.as_ref().and_then(|s| s.match_expressions.clone()).expect("sel")[0];
        assert_eq!((expr.key.as_str(), expr.operator.as_str()), (ENABLE_BINDING_LABEL, "Exists"));
    }

    #[test]
    fn spod_webhook_options_replace_policy_and_selectors() {
        let target = Target::Url("https://x".into());
        let option: WebhookOption = serde_json::from_value(serde_json::json!({
            "name": "binding.spo.io", "failurePolicy": "Ignore",
            "namespaceSelector": {"matchLabels": {"team": "a"}},
            "objectSelector": {"matchLabels": {"bind": "yes"}},
        }))
        .expect("option");
        let m = binding(&target, "PEM", &[option]);
        let hooks = m.webhooks.expect("webhooks");
        let b = hooks.iter().find(|h| h.name == "binding.spo.x-k8s.io").expect("binding entry");
        assert_eq!(b.failure_policy.as_deref(), Some("Ignore"));
        assert_eq!(b.namespace_selector.as_ref().and_then(|s| s.match_labels.clone()).expect("labels")["team"], "a");
        assert!(b.object_selector.is_some());
        let r = hooks.iter().find(|h| h.name == "recording.spo.x-k8s.io").expect("recording entry");
        assert_eq!(r.failure_policy.as_deref(), Some("Fail"), "the other entry keeps its defaults");
        let v = validation(&target, "PEM", "spo");
        let rule = &v.webhooks.expect("webhooks")[0].rules.clone().expect("rules")[0];
        assert_eq!(rule.scope.as_deref(), Some("*"), "cluster-wide profiles are validated too");
    }
}
