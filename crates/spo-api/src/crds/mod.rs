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
mod nodestatus;
mod recording;
mod schema;
mod seccomp;
mod selinux;
mod status;
pub mod yaml;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_core::CustomResourceExt;

pub use apparmor::{
    AppArmorAbstract, AppArmorCapabilityRules, AppArmorExecutableRules, AppArmorFilesystemRules, AppArmorMode,
    AppArmorNetworkRules, AppArmorProfile, AppArmorProfileSpec, AppArmorProtocols,
};
pub use binding::{BoundKind, ProfileBinding, ProfileBindingSpec, ProfileBindingStatus, ProfileRef};
pub use nodestatus::{
    node_status_name, SecurityProfileNodeStatus, SecurityProfileNodeStatusSpec, SecurityProfileNodeStatusStatus,
};
pub use recording::{
    MergeStrategy, ProfileRecording, ProfileRecordingSpec, ProfileRecordingStatus, RecordedContainer, RecordedKind,
    RecordedSyscalls, Recorder,
};
pub use seccomp::{SeccompArg, SeccompProfile, SeccompProfileSpec, SeccompSyscall};
pub use selinux::{
    InheritKind, PolicyRef, RawSelinuxProfile, RawSelinuxProfileSpec, SelinuxMode, SelinuxProfile, SelinuxProfileSpec,
    SelinuxProfileStatus,
};
pub use status::{ProfileState, ProfileStatus};

/// The API group of every spo-rs custom resource (SPO's).
pub const GROUP: &str = "security-profiles-operator.x-k8s.io";

/// The version every CRD stores.
pub const VERSION: &str = "v1";

/// Every CRD, in a stable order, each also serving SPO's older version name
/// where spo-rs keeps SPO's schema.
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    vec![
        with_legacy_version(SeccompProfile::crd(), "v1beta1"),
        with_legacy_version(SelinuxProfile::crd(), "v1alpha2"),
        with_legacy_version(RawSelinuxProfile::crd(), "v1alpha2"),
        with_legacy_version(AppArmorProfile::crd(), "v1alpha1"),
        with_legacy_version(ProfileBinding::crd(), "v1alpha1"),
        with_legacy_version(ProfileRecording::crd(), "v1alpha1"),
        // SPO's node status keeps `nodeName` and `status` at the top level;
        // spo-rs uses spec and status like every other kind, so SPO's
        // objects would not fit the schema and no older version is served.
        with_rules(
            without_status_subresource(SecurityProfileNodeStatus::crd()),
            &[("self.spec == oldSelf.spec", "spec is immutable: the object names one profile on one node")],
        ),
    ]
}

/// Add CEL rules (`rule`, `message`) to the root schema of every version.
/// (kube-derive's own CEL support needs the whole `kube` crate, which this
/// crate does not link.)
fn with_rules(mut crd: CustomResourceDefinition, rules: &[(&str, &str)]) -> CustomResourceDefinition {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::ValidationRule;
    for v in &mut crd.spec.versions {
        if let Some(schema) = v.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
            let list = schema.x_kubernetes_validations.get_or_insert_with(Vec::new);
            for (rule, message) in rules {
                list.push(ValidationRule {
                    rule: (*rule).to_owned(),
                    message: Some((*message).to_owned()),
                    ..Default::default()
                });
            }
        }
    }
    crd
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

/// Serve the stored version's schema under `legacy` too, deprecated.
fn with_legacy_version(mut crd: CustomResourceDefinition, legacy: &str) -> CustomResourceDefinition {
    let Some(stored) = crd.spec.versions.iter().find(|v| v.storage).cloned() else {
        return crd;
    };
    let mut old = stored.clone();
    old.name = legacy.to_owned();
    old.storage = false;
    old.served = true;
    old.deprecated = Some(true);
    old.deprecation_warning =
        Some(format!("{GROUP}/{legacy} {} is deprecated; use {GROUP}/{}", crd.spec.names.kind, stored.name));
    crd.spec.versions.push(old);
    crd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crd_is_in_the_group_and_stores_v1_once() {
        let crds = all_crds();
        assert_eq!(crds.len(), 7);
        for crd in &crds {
            assert_eq!(crd.spec.group, GROUP);
            let stored: Vec<_> = crd.spec.versions.iter().filter(|v| v.storage).collect();
            assert_eq!(stored.len(), 1, "{}", crd.spec.names.kind);
            assert_eq!(stored[0].name, VERSION);
            assert_eq!(crd.metadata.name.as_deref(), Some(format!("{}.{GROUP}", crd.spec.names.plural).as_str()));
        }
    }

    #[test]
    fn legacy_versions_share_the_stored_schema() {
        for crd in all_crds() {
            let stored = crd.spec.versions.iter().find(|v| v.storage).expect("stored version");
            for old in crd.spec.versions.iter().filter(|v| !v.storage) {
                assert_eq!(old.schema, stored.schema, "{} {}", crd.spec.names.kind, old.name);
                assert_eq!(old.deprecated, Some(true));
            }
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
