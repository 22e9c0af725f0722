//! The agent as Kubernetes mode runs it: one manifest per cluster-wide
//! profile, read as soon as written, every version kept while the profile
//! lives, installed where SPO v1 installs it (`operator/NAME.json`,
//! SELinux block `NAME`, AppArmor profile `NAME`).
//! Real directories, real compiles; no API server (see
//! `e2e/tests/node.rs` for that). The manifests are written by the
//! Kubernetes mode's own mirror, hence the feature.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
#![cfg(feature = "kubernetes")]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use spo_node::agent::{Agent, AgentConfig, Shared};
use spo_node::status::{NodeStatus, Phase, ProfileKind, ProfileStatus};
use spo_node::store::sha256_hex;
use spod::kube::mirror::{manifest, Mirror, ProfileKey};

struct Fixture {
    tmp: tempfile::TempDir,
    mirror: Mirror,
    agent: Agent,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let mirror = Mirror::open(tmp.path().join("mirror")).unwrap();
    let mut cfg = AgentConfig::new(mirror.dir().to_owned(), tmp.path().join("kubelet"), tmp.path().join("state"));
    cfg.interval = Duration::from_millis(250);
    cfg.proc_root = tmp.path().join("no-proc");
    cfg.atomic_writer = true;
    cfg.keep_versions = true;
    let agent = Agent::new(cfg, Arc::new(Shared::new(Vec::new()))).unwrap();
    Fixture { tmp, mirror, agent }
}

impl Fixture {
    /// One tick reads what was written: no settling interval to wait for.
    fn tick(&mut self) -> NodeStatus {
        self.agent.tick();
        self.agent.shared().snapshot()
    }

    fn put(&self, kind: ProfileKind, name: &str, object: serde_json::Value) {
        let key = ProfileKey::new(kind, name);
        self.mirror.write(&key, &manifest(&key, &object)).unwrap();
    }

    fn seccomp(&self, rel: &str) -> PathBuf {
        self.tmp.path().join("kubelet/seccomp/operator").join(rel)
    }
}

fn seccomp(spec: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "SeccompProfile", "spec": spec})
}

fn find<'a>(s: &'a NodeStatus, name: &str) -> &'a ProfileStatus {
    s.profiles.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no {name} in {s:#?}"))
}

fn versions(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn profiles_install_under_spo_paths_and_versions_stay_until_deletion() {
    let mut f = fixture();
    let allow_read = serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read"]}]});
    f.put(ProfileKind::SeccompProfile, "web", seccomp(allow_read.clone()));
    f.put(ProfileKind::SeccompProfile, "other", seccomp(serde_json::json!({"defaultAction": "SCMP_ACT_LOG"})));
    let s = f.tick();
    let a = find(&s, "web");
    assert_eq!(a.status, Phase::Installed, "{a:?}");
    assert_eq!(a.localhost_profile.as_deref(), Some("operator/web.json"), "SPO v1's path");
    let bytes = fs::read(f.seccomp("web.json")).unwrap();
    let first = sha256_hex(&bytes);
    assert_eq!(a.version.as_deref(), Some(first.as_str()));
    assert!(f.seccomp(&format!("web/{first}.json")).is_file());
    assert_eq!(find(&s, "other").status, Phase::Installed);
    assert_ne!(fs::read(f.seccomp("other.json")).unwrap(), bytes);

    // An update: the new version is current, the old one stays.
    let mut updated = allow_read.clone();
    updated["syscalls"][0]["names"] = serde_json::json!(["read", "write"]);
    f.put(ProfileKind::SeccompProfile, "web", seccomp(updated));
    let s = f.tick();
    let second = find(&s, "web").version.clone().unwrap();
    assert_ne!(second, first);
    assert_eq!(versions(&f.seccomp("web")), {
        let mut v = vec![format!("{first}.json"), format!("{second}.json")];
        v.sort();
        v
    });

    // Deleted: the current file and every version go (no process uses
    // them).
    f.mirror.remove(&ProfileKey::new(ProfileKind::SeccompProfile, "web")).unwrap();
    let s = f.tick();
    assert!(s.profiles.iter().all(|p| p.name != "web"), "{s:#?}");
    assert!(!f.seccomp("web.json").exists() && !f.seccomp("web").exists());
    assert!(f.seccomp("other.json").is_file());
}

#[test]
fn base_profiles_resolve_by_name_and_complain_mode_applies() {
    let mut f = fixture();
    f.put(
        ProfileKind::SeccompProfile,
        "base",
        seccomp(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["futex"]}]})),
    );
    f.put(
        ProfileKind::SeccompProfile,
        "app",
        seccomp(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "baseProfileName": "base", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read"]}]})),
    );
    // A base that does not exist leaves the profile pending, saying why.
    f.put(
        ProfileKind::SeccompProfile,
        "orphan",
        seccomp(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "baseProfileName": "nope"})),
    );
    let mut loud = seccomp(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO"}));
    loud["metadata"] = serde_json::json!({"annotations": {"spo-rs.io/mode": "complain"}});
    f.put(ProfileKind::SeccompProfile, "loud", loud);
    let s = f.tick();
    assert_eq!(find(&s, "app").status, Phase::Installed, "{s:#?}");
    let text = fs::read_to_string(f.seccomp("app.json")).unwrap();
    assert!(text.contains("futex") && text.contains("read"), "{text}");
    let b = find(&s, "orphan");
    assert_eq!(b.status, Phase::Pending, "{b:?}");
    assert!(b.message.as_deref().unwrap_or_default().contains("nope"), "{b:?}");
    let loud = fs::read_to_string(f.seccomp("loud.json")).unwrap();
    assert!(loud.contains("\"defaultAction\": \"SCMP_ACT_LOG\""), "{loud}");
}

#[test]
fn selinux_blocks_are_named_after_the_profile() {
    use spo_node::agent::lsm::SelinuxProfiles;
    use spo_node::selinux::SelinuxInstaller;

    /// Records module names instead of running semodule: the block name
    /// comes from the compiled CIL, which is what is checked here.
    #[derive(Debug, Default)]
    struct Names(std::sync::Mutex<Vec<String>>);
    impl SelinuxInstaller for Names {
        fn install(&self, name: &str, _cil: &str) -> Result<(), spo_node::NodeError> {
            self.0.lock().unwrap().push(name.to_owned());
            Ok(())
        }
        fn remove(&self, _name: &str) -> Result<(), spo_node::NodeError> {
            Ok(())
        }
    }
    let mut f = fixture();
    let state = f.tmp.path().join("state");
    f.agent.add_installer(Box::new(SelinuxProfiles::new(&state, Names::default()).unwrap()));
    let object = serde_json::json!({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1",
        "kind": "SelinuxProfile",
        "spec": {"inherit": [{"name": "container"}], "allow": {"@self": {"tcp_socket": ["listen"]}}},
    });
    f.put(ProfileKind::SelinuxProfile, "web", object);
    let s = f.tick();
    let p = find(&s, "web");
    assert_eq!(p.status, Phase::Installed, "{p:?}");
    assert_eq!(p.localhost_profile.as_deref(), Some("web.process"), "SPO v1's usage");
    let cil = fs::read_to_string(p.path.as_ref().unwrap()).unwrap();
    assert_eq!(p.path.as_deref(), Some(state.join("selinux/profiles/web.cil").as_path()));
    assert!(cil.starts_with("(block web\n"), "{cil}");
}

#[test]
fn apparmor_profiles_keep_their_own_name_on_the_node() {
    use spo_node::agent::lsm::AppArmorProfiles;
    use spo_node::apparmor::{AppArmorInstaller, Outcome};

    /// Records what reaches the tool: the profile loads under the
    /// object's name, which is what pods reference.
    #[derive(Debug, Default)]
    struct Calls(std::sync::Arc<std::sync::Mutex<Vec<String>>>);
    impl AppArmorInstaller for Calls {
        fn install(&self, name: &str, _text: &str) -> Result<Outcome, spo_node::NodeError> {
            self.0.lock().unwrap().push(format!("install {name}"));
            Ok(Outcome::Loaded)
        }
        fn remove(&self, name: &str, _text: &str) -> Result<Outcome, spo_node::NodeError> {
            self.0.lock().unwrap().push(format!("remove {name}"));
            Ok(Outcome::Loaded)
        }
    }
    let mut f = fixture();
    let calls = Calls::default();
    let seen = calls.0.clone();
    let state = f.tmp.path().join("state");
    f.agent.add_installer(Box::new(AppArmorProfiles::new(&state, calls).unwrap()));
    let object = serde_json::json!({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1",
        "kind": "AppArmorProfile",
        "spec": {"abstract": {"filesystem": {"readOnlyPaths": ["/etc/passwd"]}}},
    });
    f.put(ProfileKind::AppArmorProfile, "web-aa", object);
    let s = f.tick();
    let p = find(&s, "web-aa");
    assert_eq!(p.status, Phase::Installed, "{p:?}");
    assert_eq!(p.localhost_profile.as_deref(), Some("web-aa"));
    f.mirror.remove(&ProfileKey::new(ProfileKind::AppArmorProfile, "web-aa")).unwrap();
    f.tick();
    assert_eq!(*seen.lock().unwrap(), ["install web-aa", "remove web-aa"]);
}
