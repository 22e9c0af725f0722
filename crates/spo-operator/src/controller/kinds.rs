//! The four profile kinds the controller manages, behind one trait, so one
//! reconciler serves them all.
//!
//! They differ only in what a pod writes to use them (a seccomp file, an
//! SELinux type, an AppArmor name) and in the status field carrying it:
//! `localhostProfile` for seccomp and AppArmor, SPO's `usage` for SELinux.

use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::ClusterResourceScope;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::references::{self, RefKind};
use spo_api::crds::{
    AppArmorProfile, ProfileState, ProfileStatus, RawSelinuxProfile, SeccompProfile, SelinuxProfile,
    SelinuxProfileStatus,
};

/// A managed profile kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProfileKind {
    /// `SeccompProfile`.
    Seccomp,
    /// `SelinuxProfile`.
    Selinux,
    /// `RawSelinuxProfile`.
    RawSelinux,
    /// `AppArmorProfile`.
    AppArmor,
}

impl ProfileKind {
    /// Every managed kind.
    pub const ALL: [ProfileKind; 4] =
        [ProfileKind::Seccomp, ProfileKind::Selinux, ProfileKind::RawSelinux, ProfileKind::AppArmor];

    /// The Kubernetes kind (as in a node status's `spec.profileKind`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileKind::Seccomp => "SeccompProfile",
            ProfileKind::Selinux => "SelinuxProfile",
            ProfileKind::RawSelinux => "RawSelinuxProfile",
            ProfileKind::AppArmor => "AppArmorProfile",
        }
    }

    /// The kind named `kind`.
    pub fn from_kind(kind: &str) -> Option<ProfileKind> {
        ProfileKind::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    /// How pods reference profiles of this kind.
    pub fn ref_kind(self) -> RefKind {
        match self {
            ProfileKind::Seccomp => RefKind::Seccomp,
            ProfileKind::Selinux | ProfileKind::RawSelinux => RefKind::Selinux,
            ProfileKind::AppArmor => RefKind::AppArmor,
        }
    }

    /// The status field holding what pods write.
    pub fn reference_field(self) -> &'static str {
        match self {
            ProfileKind::Seccomp | ProfileKind::AppArmor => "localhostProfile",
            ProfileKind::Selinux | ProfileKind::RawSelinux => "usage",
        }
    }

    /// What a pod writes to use profile `name`: the current seccomp file
    /// (`operator/NAME.json`, as SPO publishes it), the SELinux type, the
    /// AppArmor profile name.
    pub fn reference(self, name: &str) -> String {
        match self {
            ProfileKind::Seccomp => references::seccomp_current(name),
            ProfileKind::Selinux | ProfileKind::RawSelinux => references::selinux_type(name),
            ProfileKind::AppArmor => name.to_owned(),
        }
    }

    /// The immutable seccomp version pods are pinned to, when every node
    /// runs the same `digest` (spo-rs's `status.pinnedProfile`).
    pub fn pinned(self, name: &str, digest: Option<&str>) -> Option<String> {
        match (self, digest) {
            (ProfileKind::Seccomp, Some(d)) => Some(references::seccomp_version(name, d)),
            _ => None,
        }
    }
}

/// The status fields the operator owns, as read back from an object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnedStatus {
    /// `status.status`.
    pub state: Option<ProfileState>,
    /// The `Ready` condition.
    pub ready: Option<Condition>,
    /// `status.activeWorkloads`.
    pub workloads: Vec<String>,
    /// `status.localhostProfile` or `status.usage`.
    pub reference: Option<String>,
    /// `status.pinnedProfile` (seccomp).
    pub pinned: Option<String>,
    /// `status.path` (seccomp).
    pub path: Option<String>,
}

/// A profile custom resource the controller manages.
pub trait Profile:
    kube::Resource<DynamicType = (), Scope = ClusterResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// Which kind this is.
    const KIND: ProfileKind;
    /// `spec.state: Disabled`.
    fn disabled(&self) -> bool;
    /// The operator's status fields.
    fn owned_status(&self) -> OwnedStatus;
    /// Drop the parts of the spec the controller never reads (the rules),
    /// before the object goes into the cache.
    fn slim_spec(&mut self);

    /// Drop everything the controller never reads: the cache then holds
    /// names, metadata and status, not every profile's rules twice over
    /// (`kubectl apply` copies the whole object into an annotation).
    fn slim(&mut self) {
        let meta = self.meta_mut();
        meta.managed_fields = None;
        meta.annotations = None;
        meta.labels = None;
        self.slim_spec();
    }
}

fn from_profile_status(s: Option<&ProfileStatus>) -> OwnedStatus {
    s.map(|s| OwnedStatus {
        state: s.status,
        ready: ready_condition(&s.conditions),
        workloads: s.active_workloads.clone(),
        reference: s.localhost_profile.clone(),
        pinned: s.pinned_profile.clone(),
        path: s.path.clone(),
    })
    .unwrap_or_default()
}

fn from_selinux_status(s: Option<&SelinuxProfileStatus>) -> OwnedStatus {
    s.map(|s| OwnedStatus {
        state: s.status,
        ready: ready_condition(&s.conditions),
        workloads: s.active_workloads.clone(),
        reference: s.usage.clone(),
        pinned: None,
        path: None,
    })
    .unwrap_or_default()
}

fn ready_condition(conditions: &[Condition]) -> Option<Condition> {
    conditions.iter().find(|c| c.type_ == "Ready").cloned()
}

impl Profile for SeccompProfile {
    const KIND: ProfileKind = ProfileKind::Seccomp;
    fn disabled(&self) -> bool {
        self.spec.state.is_disabled()
    }
    fn slim_spec(&mut self) {
        let s = &mut self.spec;
        s.syscalls = Vec::new();
        s.architectures = Vec::new();
        s.flags = Vec::new();
        (s.listener_path, s.listener_metadata, s.base_profile_name, s.allowed_namespaces) = (None, None, None, None);
    }
    fn owned_status(&self) -> OwnedStatus {
        from_profile_status(self.status.as_ref())
    }
}

impl Profile for AppArmorProfile {
    const KIND: ProfileKind = ProfileKind::AppArmor;
    fn disabled(&self) -> bool {
        self.spec.state.is_disabled()
    }
    fn slim_spec(&mut self) {
        (self.spec.abstract_, self.spec.policy, self.spec.allowed_namespaces) = (None, None, None);
    }
    fn owned_status(&self) -> OwnedStatus {
        from_profile_status(self.status.as_ref())
    }
}

impl Profile for SelinuxProfile {
    const KIND: ProfileKind = ProfileKind::Selinux;
    fn disabled(&self) -> bool {
        self.spec.state.is_disabled()
    }
    fn slim_spec(&mut self) {
        self.spec.inherit = Vec::new();
        self.spec.allow = Default::default();
        self.spec.allowed_namespaces = None;
    }
    fn owned_status(&self) -> OwnedStatus {
        from_selinux_status(self.status.as_ref())
    }
}

impl Profile for RawSelinuxProfile {
    const KIND: ProfileKind = ProfileKind::RawSelinux;
    fn disabled(&self) -> bool {
        self.spec.state.is_disabled()
    }
    fn slim_spec(&mut self) {
        self.spec.policy = None;
        self.spec.allowed_namespaces = None;
    }
    fn owned_status(&self) -> OwnedStatus {
        from_selinux_status(self.status.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::Resource;

    #[test]
    fn kind_names_match_the_resources() {
        assert_eq!(ProfileKind::Seccomp.as_str(), SeccompProfile::kind(&()));
        assert_eq!(ProfileKind::Selinux.as_str(), SelinuxProfile::kind(&()));
        assert_eq!(ProfileKind::RawSelinux.as_str(), RawSelinuxProfile::kind(&()));
        assert_eq!(ProfileKind::AppArmor.as_str(), AppArmorProfile::kind(&()));
        for k in ProfileKind::ALL {
            assert_eq!(ProfileKind::from_kind(k.as_str()), Some(k));
        }
        assert_eq!(ProfileKind::from_kind("Pod"), None);
    }

    #[test]
    fn slim_keeps_what_reconciles_read() {
        let mut p: SeccompProfile = serde_json::from_value(serde_json::json!({
            "apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "SeccompProfile",
            "metadata": {"name": "web", "generation": 3, "finalizers": ["f"],
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}"}},
            "spec": {"defaultAction": "SCMP_ACT_ERRNO", "state": "Disabled",
                "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read", "write"]}]},
            "status": {"status": "Installed", "activeWorkloads": ["ns/p"]},
        }))
        .expect("profile");
        let status = p.owned_status();
        p.slim();
        assert!(p.spec.syscalls.is_empty() && p.metadata.annotations.is_none());
        assert!(p.disabled());
        assert_eq!((p.metadata.generation, p.metadata.finalizers.clone()), (Some(3), Some(vec!["f".to_owned()])));
        assert_eq!(p.owned_status(), status);
    }

    #[test]
    fn references_per_kind() {
        let d = "ab".repeat(32);
        assert_eq!(ProfileKind::Seccomp.reference("web"), "operator/web.json");
        assert_eq!(ProfileKind::Seccomp.pinned("web", Some(&d)), Some(format!("operator/web/{d}.json")));
        assert_eq!(ProfileKind::Selinux.pinned("web", Some(&d)), None);
        assert_eq!(ProfileKind::Selinux.reference("web"), "web.process");
        assert_eq!(ProfileKind::RawSelinux.reference("web"), "web.process");
        assert_eq!(ProfileKind::AppArmor.reference("web"), "web");
    }
}
