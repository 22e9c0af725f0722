//! The daemon configuration (`SecurityProfilesOperatorDaemon`, one object
//! named `spod` in the operator's namespace) as this node obeys it:
//! which kinds it installs, the syscall limit of seccomp profiles, and
//! which recorders and enrichers run. SPO's defaults hold while the object
//! does not exist: AppArmor, SELinux, the log enricher and the BPF
//! recorder off.
//!
//! Fields spo-rs accepts without acting on them on the node (verbosity,
//! profiling, memory optimisation, the JSON enricher's options, signature
//! verification of `oci://` profiles) are listed in `docs/operator.md`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use ::kube::api::Api;
use ::kube::runtime::watcher::{self, Event};
use ::kube::runtime::WatchStreamExt;
use ::kube::Client;
use futures::StreamExt;
use spo_api::crds::{SecurityProfilesOperatorDaemon, SpodSpec, SPOD_NAME};
use spo_model::selinux::{DenyListChanges, DenyLists};
use spo_node::agent::policy::NodePolicy;
use spo_node::agent::Shared;
use spo_node::status::ProfileKind;

/// What `spec` lets this node do.
pub fn policy_of(spec: &SpodSpec) -> NodePolicy {
    let o = &spec.selinux.options;
    let selinux = DenyLists::default().adjusted(&DenyListChanges {
        allowed_types: &o.allowed_types,
        allowed_classes: &o.allowed_classes,
        allowed_permissions: &o.allowed_permissions,
        denied_types: &o.denied_types,
        denied_classes: &o.denied_classes,
        denied_permissions: &o.denied_permissions,
        allowed_system: &o.allowed_system_profiles,
    });
    let mut p = NodePolicy { syscall_limit: spec.security.limit(), selinux, ..NodePolicy::default() };
    if !spec.enable_app_armor {
        p.off.insert(
            ProfileKind::AppArmorProfile,
            "AppArmor is off in the SecurityProfilesOperatorDaemon (spec.enableAppArmor)".into(),
        );
    }
    if !spec.selinux.enabled() {
        for k in [ProfileKind::SelinuxProfile, ProfileKind::RawSelinuxProfile] {
            p.off.insert(k, "SELinux is off in the SecurityProfilesOperatorDaemon (spec.selinux.enable)".into());
        }
    } else if !spec.selinux.enable_raw_selinux_profiles {
        p.off.insert(
            ProfileKind::RawSelinuxProfile,
            "RawSelinuxProfiles are off in the SecurityProfilesOperatorDaemon (spec.selinux.enableRawSelinuxProfiles)"
                .into(),
        );
    }
    p
}

/// Apply `spec` to the node: the policy, the log enricher and the BPF
/// recorder.
pub fn apply(shared: &Shared, spec: &SpodSpec) {
    shared.set_policy(policy_of(spec));
    shared.enrich_logs.store(spec.enricher.enable_log_enricher, Ordering::Relaxed);
    shared.bpf_recorder.store(spec.enricher.enable_bpf_recorder, Ordering::Relaxed);
}

/// Follow the daemon configuration `spod` in `namespace` for as long as
/// the process runs.
pub async fn follow(client: Client, namespace: String, shared: Arc<Shared>) {
    apply(&shared, &SpodSpec::default());
    let api: Api<SecurityProfilesOperatorDaemon> = Api::namespaced(client, &namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={SPOD_NAME}"));
    let mut events = watcher::watcher(api, config).default_backoff().boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Apply(d) | Event::InitApply(d)) => {
                apply(&shared, &d.spec);
                eprintln!("spod: daemon configuration {namespace}/{SPOD_NAME} applied");
            }
            Ok(Event::Delete(_)) => apply(&shared, &SpodSpec::default()),
            Ok(Event::Init | Event::InitDone) => {}
            Err(e) => eprintln!("spod: watching the daemon configuration: {}", crate::chain(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spo_defaults_switch_the_lsms_off_and_set_no_limit() {
        let p = policy_of(&SpodSpec::default());
        assert!(p.off.contains_key(&ProfileKind::AppArmorProfile));
        assert!(p.off.contains_key(&ProfileKind::SelinuxProfile));
        assert!(p.off.contains_key(&ProfileKind::RawSelinuxProfile));
        assert!(!p.off.contains_key(&ProfileKind::SeccompProfile));
        assert!(p.syscall_limit.is_unlimited());
    }

    #[test]
    fn enabled_kinds_and_the_syscall_list_reach_the_policy() {
        let spec: SpodSpec = serde_json::from_value(serde_json::json!({
            "enableAppArmor": true,
            "selinux": {"enable": true, "enableRawSelinuxProfiles": false},
            "security": {"allowedSyscalls": ["exit", "exit_group"], "allowedSeccompActions": ["SCMP_ACT_ALLOW"]},
        }))
        .unwrap();
        let p = policy_of(&spec);
        assert_eq!(p.off.keys().collect::<Vec<_>>(), [&ProfileKind::RawSelinuxProfile]);
        assert_eq!(p.syscall_limit.allowed_syscalls, ["exit", "exit_group"]);
        assert_eq!(p.syscall_limit.checked_actions, [spo_model::seccomp::ActionName::Allow]);
        let shared = Shared::new(Vec::new());
        apply(&shared, &spec);
        assert!(!shared.enrich_logs.load(Ordering::Relaxed));
        assert_eq!(shared.policy(), p);
    }

    #[test]
    fn selinux_options_adjust_the_deny_lists_and_templates() {
        let default = policy_of(&SpodSpec::default()).selinux;
        assert_eq!(default.allowed_system.as_deref(), Some(&["container".to_owned()][..]), "SPO's default");
        assert!(default.types.iter().any(|t| t == "shadow_t"));
        let spec: SpodSpec = serde_json::from_value(serde_json::json!({"selinux": {"options": {
            "allowedSystemProfiles": ["container", "net_container"],
            "allowedTypes": ["shadow_t"],
            "deniedPermissions": ["ioctl"],
        }}}))
        .unwrap();
        let p = policy_of(&spec).selinux;
        assert_eq!(p.allowed_system.as_deref().map(<[String]>::len), Some(2));
        assert!(!p.types.iter().any(|t| t == "shadow_t"));
        assert!(p.permissions.iter().any(|t| t == "ioctl"));
    }
}
