//! `SecurityProfilesOperatorDaemon` (`spod`): the configuration of the
//! node agents and the webhooks, SPO v1's resource field for field.
//!
//! One object, named `spod`, in the operator's namespace; the operator
//! creates it with the defaults when it is missing. What spo-rs obeys is
//! listed in `docs/operator.md` ("The spod configuration"); the fields
//! that only make sense for SPO's own images (signature verification of
//! `oci://` profiles, profiling, memory optimisation) are accepted and
//! reported as not supported in the object's status condition.

use k8s_openapi::api::core::v1::{
    Affinity, ConfigMapKeySelector, LocalObjectReference, ResourceRequirements, SecretKeySelector, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema;

/// The one name the object may have.
pub const SPOD_NAME: &str = "spod";

/// Settings of the node agents (`spod`) and of the webhooks.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "security-profiles-operator.x-k8s.io",
    version = "v1",
    kind = "SecurityProfilesOperatorDaemon",
    plural = "securityprofilesoperatordaemons",
    namespaced,
    shortname = "spod",
    status = "SpodStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "The configuration of the spo-rs node agents and webhooks (one object, `spod`).",
    printcolumn = r#"{"name":"State","type":"string","jsonPath":".status.state"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SpodSpec {
    /// Resources of the spod containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon_resource_requirements: Option<ResourceRequirements>,
    /// How the spod DaemonSet rolls out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon_update_strategy: Option<DaemonUpdateStrategy>,
    /// Load AppArmorProfiles on the nodes (off by default, as in SPO).
    #[serde(default)]
    pub enable_app_armor: bool,
    /// Serve metrics without authentication.
    #[serde(default)]
    pub enable_insecure_metrics_access: bool,
    /// SPO: cache only pods labelled for recording (accepted, not needed).
    #[serde(default)]
    pub enable_memory_optimization: bool,
    /// SPO: a profiling endpoint (accepted, not supported).
    #[serde(default)]
    pub enable_profiling: bool,
    /// Audit enrichment and recorders.
    #[serde(default)]
    #[schemars(extend("default" = {}))]
    pub enricher: EnricherOptions,
    /// Where the node's `/proc` is mounted in the spod container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^/proc(/.*)?$"))]
    pub host_proc_volume_path: Option<String>,
    /// Pull secrets of the spod image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Scheduling of the spod pods.
    #[serde(default)]
    #[schemars(extend("default" = {}))]
    pub scheduling: Scheduling,
    /// What profiles may contain.
    #[serde(default)]
    #[schemars(extend("default" = {}))]
    pub security: SecurityOptions,
    /// SELinux on the nodes.
    #[serde(default)]
    #[schemars(extend("default" = {}))]
    pub selinux: SelinuxOptions,
    /// Log verbosity, 0 (default) to 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10))]
    pub verbosity: Option<i32>,
    /// The webhooks.
    #[serde(default)]
    #[schemars(extend("default" = {}))]
    pub webhook: WebhookSettings,
}

/// How the DaemonSet replaces its pods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1))]
pub struct DaemonUpdateStrategy {
    /// Nodes updated at once: a count of at least 1 or 1% to 100%.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
}

/// Audit enrichment and recorders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnricherOptions {
    /// Allow `ProfileRecording`s with `recorder: Bpf`.
    #[serde(default)]
    pub enable_bpf_recorder: bool,
    /// SPO: exec metadata in audit lines.
    #[serde(default = "yes")]
    pub enable_exec_metadata: bool,
    /// SPO: the JSON enricher (spo-rs writes JSON lines either way).
    #[serde(default)]
    pub enable_json_enricher: bool,
    /// Attribute audit records (complain mode, `recorder: Logs`) to pods.
    #[serde(default)]
    pub enable_log_enricher: bool,
    /// SPO: a filter of the JSON enricher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 65536))]
    pub json_enricher_filters: Option<String>,
    /// SPO: options of the JSON enricher's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_enricher_options: Option<JsonEnricherOptions>,
    /// SPO: a filter of the log enricher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 65536))]
    pub log_enricher_filters: Option<String>,
    /// Where audit records come from.
    #[serde(default)]
    pub log_enricher_source: LogEnricherSource,
}

fn yes() -> bool {
    true
}

impl Default for EnricherOptions {
    fn default() -> Self {
        EnricherOptions {
            enable_bpf_recorder: false,
            enable_exec_metadata: true,
            enable_json_enricher: false,
            enable_log_enricher: false,
            json_enricher_filters: None,
            json_enricher_options: None,
            log_enricher_filters: None,
            log_enricher_source: LogEnricherSource::Auditd,
        }
    }
}

/// SPO's JSON enricher log settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JsonEnricherOptions {
    /// Seconds between flushes.
    #[serde(default = "sixty")]
    #[schemars(range(min = 1))]
    pub audit_log_interval_seconds: i32,
    /// Days to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub audit_log_max_age: Option<i32>,
    /// Files to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub audit_log_max_backups: Option<i32>,
    /// Megabytes per file.
    #[serde(default = "hundred")]
    #[schemars(range(min = 1))]
    pub audit_log_max_size: i32,
    /// The log file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_log_path: Option<String>,
}

fn sixty() -> i32 {
    60
}

fn hundred() -> i32 {
    100
}

/// Where the log enricher reads audit records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum LogEnricherSource {
    /// The audit subsystem (spo-rs: the audit netlink socket, else
    /// auditd's log, else `/dev/kmsg`).
    #[default]
    Auditd,
    /// SPO's eBPF source; spo-rs reads the audit socket instead.
    Bpf,
}

/// Scheduling of the spod pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Scheduling {
    /// Node affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Priority class of the spod pods.
    #[serde(default = "node_critical")]
    pub priority_class_name: String,
    /// Tolerations of the spod pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub tolerations: Vec<Toleration>,
}

fn node_critical() -> String {
    "system-node-critical".into()
}

impl Default for Scheduling {
    fn default() -> Self {
        Scheduling { affinity: None, priority_class_name: node_critical(), tolerations: Vec::new() }
    }
}

/// What profiles may contain, checked at admission and on every node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityOptions {
    /// SPO: signer identities accepted for `oci://` profiles.
    #[serde(default = "any")]
    pub allowed_identity_regexp: String,
    /// SPO: OIDC issuers accepted for `oci://` profiles.
    #[serde(default = "any")]
    pub allowed_oidc_issuer_regexp: String,
    /// Actions whose syscalls must be in `allowedSyscalls` (`SCMP_ACT_ALLOW`,
    /// `SCMP_ACT_LOG`, `SCMP_ACT_TRACE`, `SCMP_ACT_NOTIFY`; all four when
    /// empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::allowed_seccomp_actions")]
    pub allowed_seccomp_actions: Vec<String>,
    /// The syscalls a SeccompProfile may let through; any when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub allowed_syscalls: Vec<String>,
    /// SPO: skip signature checks of `oci://` profiles.
    #[serde(default)]
    pub disable_oci_artifact_signature_verification: bool,
    /// SPO: how `oci://` profiles are verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_verification: Option<SignatureVerification>,
}

impl SecurityOptions {
    /// `allowedSyscalls` and `allowedSeccompActions` as the limit the
    /// webhook and the node agents check profiles against (names that are
    /// not actions are left out; the schema refuses them).
    pub fn limit(&self) -> spo_model::seccomp::policy::SyscallLimit {
        spo_model::seccomp::policy::SyscallLimit {
            allowed_syscalls: self.allowed_syscalls.clone(),
            checked_actions: self.allowed_seccomp_actions.iter().filter_map(|a| a.parse().ok()).collect(),
        }
    }
}

fn any() -> String {
    ".*".into()
}

impl Default for SecurityOptions {
    fn default() -> Self {
        SecurityOptions {
            allowed_identity_regexp: any(),
            allowed_oidc_issuer_regexp: any(),
            allowed_seccomp_actions: Vec::new(),
            allowed_syscalls: Vec::new(),
            disable_oci_artifact_signature_verification: false,
            signature_verification: None,
        }
    }
}

/// SPO's signature verification of `oci://` profiles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1))]
pub struct SignatureVerification {
    /// The signer identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub allowed_identity: Option<String>,
    /// The OIDC issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub allowed_oidc_issuer: Option<String>,
    /// Verify without network access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline: Option<bool>,
    /// A public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub public_key_secret_ref: Option<SecretKeySelector>,
    /// A trusted root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub trusted_root_config_map_ref: Option<ConfigMapKeySelector>,
}

/// SELinux on the nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelinuxOptions {
    /// SPO: a ConfigMap of extra templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253), pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"))]
    pub custom_templates_config_map: Option<String>,
    /// Install SelinuxProfiles on the nodes (unset: off, as SPO outside
    /// OpenShift).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// Install RawSelinuxProfiles too.
    #[serde(default = "yes")]
    pub enable_raw_selinux_profiles: bool,
    /// What SelinuxProfiles may inherit and allow.
    #[serde(default)]
    #[schemars(extend("default" = {}))]
    pub options: SelinuxPolicyOptions,
    /// SELinux type of the spod pods.
    #[serde(default = "spc_t")]
    pub type_tag: String,
}

fn spc_t() -> String {
    "spc_t".into()
}

impl Default for SelinuxOptions {
    fn default() -> Self {
        SelinuxOptions {
            custom_templates_config_map: None,
            enable: None,
            enable_raw_selinux_profiles: true,
            options: SelinuxPolicyOptions::default(),
            type_tag: spc_t(),
        }
    }
}

impl SelinuxOptions {
    /// Whether SelinuxProfiles are installed.
    pub fn enabled(&self) -> bool {
        self.enable == Some(true)
    }
}

/// Allow and deny lists for SelinuxProfiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelinuxPolicyOptions {
    /// Object classes removed from the built-in deny list (relaxes it for
    /// every SelinuxProfile).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(pattern(r"^[-a-zA-Z0-9._]+$")))]
    pub allowed_classes: Vec<String>,
    /// Permissions removed from the built-in deny list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(pattern(r"^[-a-zA-Z0-9._]+$")))]
    pub allowed_permissions: Vec<String>,
    /// The system templates a SelinuxProfile may inherit.
    #[serde(default = "container_only")]
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(pattern(r"^[-a-zA-Z0-9._]+$")))]
    pub allowed_system_profiles: Vec<String>,
    /// Types removed from the built-in deny list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(pattern(r"^([-a-zA-Z0-9._]+|@self)$")))]
    pub allowed_types: Vec<String>,
    /// Object classes added to the deny list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(pattern(r"^[-a-zA-Z0-9._]+$")))]
    pub denied_classes: Vec<String>,
    /// Permissions added to the deny list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(pattern(r"^[-a-zA-Z0-9._]+$")))]
    pub denied_permissions: Vec<String>,
    /// Types added to the deny list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(pattern(r"^([-a-zA-Z0-9._]+|@self)$")))]
    pub denied_types: Vec<String>,
}

fn container_only() -> Vec<String> {
    vec!["container".into()]
}

impl Default for SelinuxPolicyOptions {
    fn default() -> Self {
        SelinuxPolicyOptions {
            allowed_classes: Vec::new(),
            allowed_permissions: Vec::new(),
            allowed_system_profiles: container_only(),
            allowed_types: Vec::new(),
            denied_classes: Vec::new(),
            denied_permissions: Vec::new(),
            denied_types: Vec::new(),
        }
    }
}

/// The webhooks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSettings {
    /// Per webhook: failure policy and selectors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 4),
        extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"])
    )]
    pub options: Vec<WebhookOption>,
    /// Do not manage the webhook configurations (the user does).
    #[serde(default)]
    pub static_config: bool,
    /// SPO: tolerations of the webhook pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub tolerations: Vec<Toleration>,
}

/// One webhook's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookOption {
    /// Which webhook (SPO's names).
    pub name: WebhookName,
    /// `Fail` (refuse the request when the webhook cannot be called) or
    /// `Ignore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_policy: Option<FailurePolicy>,
    /// Namespaces the webhook applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub namespace_selector: Option<LabelSelector>,
    /// Objects the webhook applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub object_selector: Option<LabelSelector>,
}

/// SPO's webhook names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum WebhookName {
    /// The binding webhook (pods get their bound profiles).
    #[serde(rename = "binding.spo.io")]
    Binding,
    /// The recording webhook (pods a ProfileRecording selects are marked).
    #[serde(rename = "recording.spo.io")]
    Recording,
    /// SPO's exec metadata webhook (spo-rs has none).
    #[serde(rename = "execmetadata.spo.io")]
    ExecMetadata,
    /// SPO's node debugging pod webhook (spo-rs has none).
    #[serde(rename = "nodedebuggingpod.spo.io")]
    NodeDebuggingPod,
}

/// A webhook's failure policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum FailurePolicy {
    /// Let the request through.
    Ignore,
    /// Refuse it.
    Fail,
}

/// What the operator made of the object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpodStatus {
    /// Conditions, one per type (`Ready`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The generation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
    /// Where the configuration is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<SpodState>,
}

/// SPO's states of the daemon configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SpodState {
    /// Not acted on yet.
    Pending,
    /// The agents are being created.
    Creating,
    /// A change is being rolled out.
    Updating,
    /// In force.
    Running,
    /// Could not be applied; the Ready condition says why.
    Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_spec_has_spo_defaults() {
        let spec: SpodSpec = serde_json::from_value(serde_json::json!({})).expect("empty spec");
        assert!(!spec.enable_app_armor);
        assert!(!spec.enricher.enable_log_enricher);
        assert!(spec.enricher.enable_exec_metadata);
        assert_eq!(spec.scheduling.priority_class_name, "system-node-critical");
        assert_eq!(spec.selinux.options.allowed_system_profiles, ["container"]);
        assert!(!spec.selinux.enabled());
        assert_eq!(spec.selinux.type_tag, "spc_t");
        assert_eq!(spec, SpodSpec::default());
    }

    #[test]
    fn spo_v1_fields_deserialise() {
        let spec: SpodSpec = serde_json::from_value(serde_json::json!({
            "selinux": {"enable": true, "options": {"allowedSystemProfiles": ["container", "net_container"]}},
            "enableAppArmor": true,
            "enricher": {"enableLogEnricher": true, "logEnricherSource": "Auditd"},
            "security": {"allowedSyscalls": ["exit", "exit_group", "futex", "nanosleep"]},
            "webhook": {"options": [{"name": "binding.spo.io", "failurePolicy": "Ignore",
                                      "namespaceSelector": {"matchLabels": {"a": "b"}}}]},
            "verbosity": 1,
        }))
        .expect("SPO SPOD");
        assert!(spec.selinux.enabled());
        assert_eq!(spec.security.allowed_syscalls.len(), 4);
        assert_eq!(spec.webhook.options[0].name, WebhookName::Binding);
        assert_eq!(spec.webhook.options[0].failure_policy, Some(FailurePolicy::Ignore));
    }
}
