//! What the cluster lets this node install: SPO's daemon configuration
//! (`SecurityProfilesOperatorDaemon`) as the agent obeys it. Kinds can be
//! switched off (`enableAppArmor`, `selinux.enable`,
//! `selinux.enableRawSelinuxProfiles`), and seccomp profiles must stay
//! within `security.allowedSyscalls`.
//!
//! A standalone agent has no daemon configuration: its policy is
//! [`NodePolicy::default`], everything on and no limit. In Kubernetes mode
//! spod sets it from the cluster ([`Shared::set_policy`]); every profile the
//! change concerns is judged again at the next tick, and one outside the
//! policy is taken off the node (the previous version is not kept: the
//! cluster said no), with a status saying which setting decided it.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use spo_model::seccomp::policy::SyscallLimit;
use spo_model::selinux::DenyLists;

use super::Shared;
use crate::status::ProfileKind;

/// The daemon configuration's settings for this node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodePolicy {
    /// Kinds not installed here, each with the reason shown in its status.
    pub off: BTreeMap<ProfileKind, String>,
    /// The syscalls a seccomp profile may let through.
    pub syscall_limit: SyscallLimit,
    /// What a `SelinuxProfile` may be granted and inherit.
    pub selinux: DenyLists,
}

impl NodePolicy {
    /// A digest of what decides the fate of profiles of `kind`, so a
    /// change of policy makes exactly those profiles stale.
    pub fn digest(&self, kind: ProfileKind) -> String {
        let limit = match kind {
            ProfileKind::SeccompProfile => format!("{:?}", self.syscall_limit),
            ProfileKind::SelinuxProfile => format!("{:?}", self.selinux),
            _ => String::new(),
        };
        format!("{:?}|{limit}", self.off.get(&kind))
    }
}

impl Shared {
    /// Replace the policy; profiles are judged again at the next tick
    /// when it changed.
    pub fn set_policy(&self, policy: NodePolicy) {
        let mut current = self.policy.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if *current != policy {
            *current = policy;
            self.policy_generation.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> NodePolicy {
        self.policy.read().map(|p| p.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_real_change_bumps_the_generation() {
        let s = Shared::new(Vec::new());
        let g0 = s.policy_generation.load(Ordering::Relaxed);
        s.set_policy(NodePolicy::default());
        assert_eq!(s.policy_generation.load(Ordering::Relaxed), g0);
        let mut p = NodePolicy::default();
        p.off.insert(ProfileKind::AppArmorProfile, "off".into());
        s.set_policy(p.clone());
        assert_eq!(s.policy_generation.load(Ordering::Relaxed), g0 + 1);
        assert_ne!(p.digest(ProfileKind::AppArmorProfile), NodePolicy::default().digest(ProfileKind::AppArmorProfile));
        assert_eq!(p.digest(ProfileKind::SeccompProfile), NodePolicy::default().digest(ProfileKind::SeccompProfile));
    }
}
