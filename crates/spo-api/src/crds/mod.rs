//! Custom resources of spo-rs and the CRD documents generated from them.
//!
//! Every kind keeps SPO's group, kind name, plural and short names, so
//! manifests written for SPO apply unchanged. Each CRD stores `v1` and also
//! serves SPO's last version name for that kind (`v1beta1` for seccomp,
//! `v1alpha2` for SELinux, `v1alpha1` for the rest) with the same schema,
//! marked deprecated: the API server rewrites the `apiVersion` and nothing
//! else, so no conversion webhook is needed.
//!
//! The spec types are the wire format only. They mirror the `spo-model`
//! types, use the model's enums (so the schema's `enum` lists come from the
//! same tables the compiler uses) and convert to and from them; validation
//! beyond what an OpenAPI schema can say stays in `spo-model`.

mod apparmor;
mod binding;
mod daemon;
pub mod legacy;
mod nodestatus;
mod recording;
mod schema;
mod seccomp;
mod selinux;
mod shape;
mod status;
pub mod yaml;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_core::CustomResourceExt;

pub use apparmor::{
    AppArmorAbstract, AppArmorCapabilityRules, AppArmorExecutableRules, AppArmorFilesystemRules, AppArmorMode,
    AppArmorNetworkRules, AppArmorProfile, AppArmorProfileSpec, AppArmorProtocols,
};
pub use binding::{BoundKind, ProfileBinding, ProfileBindingSpec, ProfileBindingStatus, ProfileRef};
pub use daemon::{
    DaemonUpdateStrategy, EnricherOptions, FailurePolicy, JsonEnricherOptions, LogEnricherSource, Scheduling,
    SecurityOptions, SecurityProfilesOperatorDaemon, SelinuxOptions, SelinuxPolicyOptions, SignatureVerification,
    SpodSpec, SpodState, SpodStatus, WebhookName, WebhookOption, WebhookSettings, SPOD_NAME,
};
pub use nodestatus::{
    node_status_name, SecurityProfileNodeStatus, SecurityProfileNodeStatusSpec, SecurityProfileNodeStatusStatus,
};
pub use recording::{
    MergeStrategy, ProfileRecording, ProfileRecordingSpec, ProfileRecordingStatus, RecordedContainer, RecordedKind,
    RecordedSyscalls, Recorder,
};
pub use seccomp::{ArchName, SeccompArg, SeccompProfile, SeccompProfileSpec, SeccompSyscall};
pub use selinux::{
    default_inherit as selinux_default_inherit, InheritKind, PolicyRef, RawSelinuxProfile, RawSelinuxProfileSpec,
    SelinuxMode, SelinuxProfile, SelinuxProfileSpec, SelinuxProfileStatus,
};
pub use status::{ProfileState, ProfileStatus, SpecState};

/// The API group of every spo-rs custom resource (SPO's).
pub const GROUP: &str = "security-profiles-operator.x-k8s.io";

/// The version every CRD stores.
pub const VERSION: &str = "v1";

/// Every CRD, in a stable order: SPO v1's shape (CEL rules, printer columns), `v1`
/// stored, and SPO's older version of each profile kind served through the
/// operator's conversion webhook ([`legacy`]).
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    use shape::{spo_shape, Cel, SELECTOR_MESSAGE, SELECTOR_RULE, SELINUX_NAME_MESSAGE, SELINUX_NAME_RULE};
    let selinux_name = Cel::new_objects_only("", SELINUX_NAME_RULE, SELINUX_NAME_MESSAGE);
    vec![
        legacy::with_legacy_version(
            spo_shape(
                SeccompProfile::crd(),
                &[
                    Cel::new(
                        ".spec.baseProfileName",
                        "self == '' || self.startsWith('oci://') || self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",
                        "baseProfileName must be an oci:// reference or the name of a SeccompProfile",
                    ),
                    Cel::new(
                        ".spec.defaultAction",
                        "self != 'SCMP_ACT_NOTIFY'",
                        "SCMP_ACT_NOTIFY cannot be used as the default action",
                    ),
                ],
                false,
            ),
            "v1beta1",
        ),
        legacy::with_legacy_version(spo_shape(SelinuxProfile::crd(), &[selinux_name], true), "v1alpha2"),
        legacy::with_legacy_version(spo_shape(RawSelinuxProfile::crd(), &[selinux_name], true), "v1alpha2"),
        legacy::with_legacy_version(spo_shape(AppArmorProfile::crd(), &[], true), "v1alpha1"),
        legacy::with_legacy_version(
            spo_shape(ProfileBinding::crd(), &[Cel::new(".spec.podSelector", SELECTOR_RULE, SELECTOR_MESSAGE)], false),
            "v1alpha1",
        ),
        legacy::with_legacy_version(
            spo_shape(
                ProfileRecording::crd(),
                &[
                    Cel::new_objects_only("", "oldSelf.hasValue() || size(self.metadata.name) <= 63", "name must be no more than 63 characters"),
                    Cel::new(
                        ".spec",
                        "self.kind != 'SelinuxProfile' || self.recorder == 'Logs'",
                        "SelinuxProfile recordings only support the Logs recorder",
                    ),
                    Cel::new(
                        ".spec",
                        "self.kind != 'AppArmorProfile' || self.recorder == 'Bpf'",
                        "AppArmorProfile recordings only support the Bpf recorder",
                    ),
                    Cel::new(".spec.podSelector", SELECTOR_RULE, SELECTOR_MESSAGE),
                ],
                false,
            ),
            "v1alpha1",
        ),
        // The node agent is the only writer of node statuses and creates
        // each with its state in one request: no status subresource.
        without_status_subresource(spo_shape(
            SecurityProfileNodeStatus::crd(),
            &[
                Cel::new("", "self.spec == oldSelf.spec", "spec is immutable: the object names one profile on one node"),
                Cel::new(".spec.nodeName", "self == oldSelf", "nodeName is immutable"),
            ],
            false,
        )),
        spo_shape(
            SecurityProfilesOperatorDaemon::crd(),
            &[
                Cel::new_objects_only(
                    "",
                    "oldSelf.hasValue() || self.metadata.name == 'spod'",
                    "the SecurityProfilesOperatorDaemon must be named spod",
                ),
                Cel::new(
                    ".spec.daemonUpdateStrategy.maxUnavailable",
                    "type(self) == int ? self >= 1 : self.matches('^([1-9][0-9]?|100)%$')",
                    "maxUnavailable must be an integer of at least 1 or a percentage between 1% and 100%",
                ),
                Cel::new(
                    ".spec.security.signatureVerification",
                    "!has(self.offline) || !self.offline || has(self.trustedRootConfigMapRef)",
                    "offline requires trustedRootConfigMapRef",
                ),
                Cel::new(".spec.webhook.options[].namespaceSelector", SELECTOR_RULE, SELECTOR_MESSAGE),
                Cel::new(".spec.webhook.options[].objectSelector", SELECTOR_RULE, SELECTOR_MESSAGE),
            ],
            true,
        ),
    ]
}

/// Serve `status` as an ordinary field: its one writer then creates the
/// object with its status in a single request instead of two (with the
/// subresource, the API server drops `status` from a create).
fn without_status_subresource(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for v in &mut crd.spec.versions {
        if let Some(sub) = &mut v.subresources {
            sub.status = None;
            if sub.scale.is_none() {
                v.subresources = None;
            }
        }
    }
    crd
}

/// Every CRD as one multi-document YAML stream, for `kubectl apply -f -`.
pub fn all_crds_yaml() -> String {
    crd_files().into_iter().map(|(_, text)| text).collect::<Vec<_>>().join("---\n")
}

/// Every CRD as `(file name, YAML document)`, one file per kind, named after
/// the singular resource name (`seccompprofile.yaml`): the layout of
/// `deploy/crds/`.
pub fn crd_files() -> Vec<(String, String)> {
    all_crds()
        .into_iter()
        .map(|crd| {
            let file =
                format!("{}.yaml", crd.spec.names.singular.clone().unwrap_or_else(|| crd.spec.names.plural.clone()));
            (file, yaml::to_yaml(&crd))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crd_is_in_the_group_and_stores_v1_once() {
        let crds = all_crds();
        assert_eq!(crds.len(), 8);
        for crd in &crds {
            assert_eq!(crd.spec.group, GROUP);
            let stored: Vec<_> = crd.spec.versions.iter().filter(|v| v.storage).collect();
            assert_eq!(stored.len(), 1, "{}", crd.spec.names.kind);
            assert_eq!(stored[0].name, VERSION);
            assert_eq!(crd.metadata.name.as_deref(), Some(format!("{}.{GROUP}", crd.spec.names.plural).as_str()));
        }
    }

    #[test]
    fn legacy_versions_are_deprecated_and_converted() {
        for crd in all_crds() {
            let legacy: Vec<_> = crd.spec.versions.iter().filter(|v| !v.storage).collect();
            for old in &legacy {
                assert_eq!(old.deprecated, Some(true), "{} {}", crd.spec.names.kind, old.name);
            }
            let strategy = crd.spec.conversion.as_ref().map(|c| c.strategy.as_str());
            assert_eq!(strategy == Some("Webhook"), !legacy.is_empty(), "{}", crd.spec.names.kind);
        }
    }

    #[test]
    fn spo_names_are_kept() {
        let crds = all_crds();
        let names: Vec<_> = crds
            .iter()
            .map(|c| (c.spec.names.kind.as_str(), c.spec.names.plural.as_str(), c.spec.names.short_names.clone()))
            .collect();
        assert!(names.contains(&("SeccompProfile", "seccompprofiles", Some(vec!["sp".to_owned()]))));
        assert!(names.contains(&("AppArmorProfile", "apparmorprofiles", Some(vec!["aa".to_owned()]))));
        assert!(names.contains(&(
            "SecurityProfileNodeStatus",
            "securityprofilenodestatuses",
            Some(vec!["spns".to_owned()])
        )));
        assert!(names.iter().any(|n| n.0 == "RawSelinuxProfile" && n.1 == "rawselinuxprofiles"));
    }

    #[test]
    fn yaml_stream_has_one_document_per_crd() {
        let text = all_crds_yaml();
        assert_eq!(text.matches("kind: CustomResourceDefinition").count(), all_crds().len());
        assert_eq!(text.matches("\n---\n").count(), all_crds().len() - 1);
    }
}
