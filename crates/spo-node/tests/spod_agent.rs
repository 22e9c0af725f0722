//! The agent's reconcile loop on real directories: installs, updates,
//! renames, deletions, broken manifests, disabled profiles and names that
//! would escape the target directory.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use spo_node::agent::{Agent, AgentConfig, Shared};
use spo_node::status::{Mode, NodeStatus, Phase, ProfileStatus};
use spo_node::store::sha256_hex;

struct Fixture {
    _tmp: tempfile::TempDir,
    manifests: PathBuf,
    operator: PathBuf,
    agent: Agent,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let manifests = tmp.path().join("manifests");
    fs::create_dir(&manifests).unwrap();
    let mut cfg = AgentConfig::new(manifests.clone(), tmp.path().join("kubelet"), tmp.path().join("state"));
    cfg.interval = Duration::from_millis(0);
    cfg.node = "test-node".into();
    // No process on this machine carries these test profiles: an empty
    // /proc keeps verification out of the way.
    cfg.proc_root = tmp.path().join("no-proc");
    let agent = Agent::new(cfg, Arc::new(Shared::new(Vec::new()))).unwrap();
    Fixture { operator: tmp.path().join("kubelet/seccomp/operator"), _tmp: tmp, manifests, agent }
}

impl Fixture {
    fn settle(&mut self) -> NodeStatus {
        for _ in 0..5 {
            self.agent.tick();
        }
        self.agent.verify();
        self.agent.shared().snapshot()
    }

    fn write(&self, file: &str, text: &str) {
        let tmp = self.manifests.join(format!(".{file}.tmp"));
        fs::write(&tmp, text).unwrap();
        fs::rename(tmp, self.manifests.join(file)).unwrap();
    }
}

fn profile(name: &str, extra_meta: &str, spec: &str) -> String {
    format!(
        "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\nmetadata:\n  name: {name}\n{extra_meta}spec:\n{spec}"
    )
}

const DENY_MKDIR: &str = "  defaultAction: SCMP_ACT_ALLOW\n  syscalls:\n  - action: SCMP_ACT_ERRNO\n    errnoRet: 1\n    names: [mkdir, mkdirat]\n";

fn find<'a>(s: &'a NodeStatus, name: &str) -> &'a ProfileStatus {
    s.profiles.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no {name} in {s:#?}"))
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
}

#[test]
fn install_update_break_and_delete() {
    let mut f = fixture();
    f.write("a.yaml", &format!("{}---\n{}", profile("one", "", DENY_MKDIR), profile("two", "", DENY_MKDIR)));
    let s = f.settle();
    assert!(s.ready);
    let one = find(&s, "one");
    assert_eq!(one.status, Phase::Installed, "{one:#?}");
    assert_eq!(one.localhost_profile.as_deref(), Some("operator/one.json"));
    let installed = fs::read(f.operator.join("one.json")).unwrap();
    assert_eq!(one.version.as_deref(), Some(sha256_hex(&installed).as_str()));
    let v1 = one.version.clone().unwrap();
    let j = read_json(&f.operator.join("one.json"));
    assert_eq!(j["defaultAction"], "SCMP_ACT_ALLOW");
    assert_eq!(j["syscalls"][0]["action"], "SCMP_ACT_ERRNO");
    assert_eq!(find(&s, "two").source.as_ref().unwrap().line, 12);

    // Complain mode: every blocking action becomes SCMP_ACT_LOG.
    let complain = "  annotations:\n    spo-rs.io/mode: complain\n";
    f.write("a.yaml", &format!("{}---\n{}", profile("one", complain, DENY_MKDIR), profile("two", "", DENY_MKDIR)));
    let s = f.settle();
    let one = find(&s, "one");
    assert_eq!((one.status, one.mode), (Phase::Installed, Mode::Complain));
    let v2 = one.version.clone().unwrap();
    assert_ne!(v1, v2);
    assert_eq!(read_json(&f.operator.join("one.json"))["syscalls"][0]["action"], "SCMP_ACT_LOG");
    // The previous version is pruned once nothing uses it.
    assert!(!f.operator.join(format!("one/{v1}.json")).exists());
    assert!(f.operator.join(format!("one/{v2}.json")).exists());

    // A semantic error: Error with the location, the old version in force.
    let bad = DENY_MKDIR.replace("mkdirat", "mkdirrat");
    f.write("a.yaml", &format!("{}---\n{}", profile("one", complain, &bad), profile("two", "", DENY_MKDIR)));
    let s = f.settle();
    let one = find(&s, "one");
    assert_eq!(one.status, Phase::Error);
    assert_eq!(one.version.as_deref(), Some(v2.as_str()));
    let err = &one.errors[0];
    assert!(err.message.contains("mkdirrat"), "{err:?}");
    let loc = err.location.as_ref().unwrap();
    assert_eq!((loc.file.file_name().unwrap().to_str(), loc.line), (Some("a.yaml"), 12));
    assert_eq!(sha256_hex(&fs::read(f.operator.join("one.json")).unwrap()), v2);
    assert_eq!(find(&s, "two").status, Phase::Installed);
    let metrics = f.agent.shared().metrics.render(&s);
    assert!(metrics.contains("spo_profiles{kind=\"SeccompProfile\",status=\"Error\"} 1"), "{metrics}");

    // A syntax error: both profiles of the file keep their versions.
    f.write("a.yaml", "apiVersion: [unclosed\n");
    let s = f.settle();
    assert_eq!(find(&s, "one").status, Phase::Error);
    assert_eq!(find(&s, "two").status, Phase::Error);
    assert!(f.operator.join("two.json").exists());
    assert!(!s.file_errors.is_empty());

    // Fixed again, then deleted: files go, status goes.
    f.write("a.yaml", &profile("one", "", DENY_MKDIR));
    let s = f.settle();
    assert_eq!(find(&s, "one").status, Phase::Installed);
    assert!(!s.profiles.iter().any(|p| p.name == "two"), "{s:#?}");
    assert!(!f.operator.join("two.json").exists());
    assert!(!f.operator.join("two").exists());
    // An unreadable directory is not an empty one: nothing is removed.
    let aside = f.manifests.with_extension("aside");
    fs::rename(&f.manifests, &aside).unwrap();
    let s = f.settle();
    assert_eq!(find(&s, "one").status, Phase::Installed);
    assert!(s.file_errors[0].message.contains("cannot read the manifests directory"), "{:?}", s.file_errors);
    assert!(f.operator.join("one.json").exists());
    fs::rename(&aside, &f.manifests).unwrap();
    assert!(f.settle().file_errors.is_empty());
    fs::remove_file(f.manifests.join("a.yaml")).unwrap();
    let s = f.settle();
    assert!(s.profiles.is_empty(), "{s:#?}");
    assert_eq!(fs::read_dir(&f.operator).unwrap().count(), 0);
}

#[test]
fn renames_disabled_profiles_duplicates_and_hostile_names() {
    let mut f = fixture();
    f.write("a.yaml", &profile("web", "", DENY_MKDIR));
    let s = f.settle();
    let v = find(&s, "web").version.clone().unwrap();
    // Renaming the file changes nothing but the source.
    fs::rename(f.manifests.join("a.yaml"), f.manifests.join("b.yaml")).unwrap();
    let s = f.settle();
    let web = find(&s, "web");
    assert_eq!(web.version.as_deref(), Some(v.as_str()));
    assert!(web.source.as_ref().unwrap().file.ends_with("b.yaml"));
    // Renaming the profile installs the new name before removing the old.
    f.write("b.yaml", &profile("web2", "", DENY_MKDIR));
    let s = f.settle();
    assert_eq!(find(&s, "web2").status, Phase::Installed);
    assert!(!f.operator.join("web.json").exists());

    // Disabled: kept in status, not installed.
    f.write("b.yaml", &profile("web2", "", &format!("{DENY_MKDIR}  disabled: true\n")));
    let s = f.settle();
    assert_eq!(find(&s, "web2").status, Phase::Disabled);
    assert!(!f.operator.join("web2.json").exists());

    // The same name twice: the first file wins, the second is reported.
    f.write("c.yaml", &profile("web2", "", DENY_MKDIR));
    let s = f.settle();
    assert_eq!(find(&s, "web2").status, Phase::Disabled);
    assert!(s.file_errors.iter().any(|e| e.message.contains("also defined")), "{:#?}", s.file_errors);

    // Names that would escape the directory never reach the disk.
    for bad in ["../escape", "a/b", "\"x\\0y\"", &"a".repeat(254), "UPPER"] {
        f.write("d.yaml", &profile(bad, "", DENY_MKDIR));
        let s = f.settle();
        assert!(
            s.file_errors.iter().any(|e| e.message.starts_with("invalid profile name")),
            "{bad}: {:#?}",
            s.file_errors
        );
    }
    let kubelet = f.operator.parent().unwrap().parent().unwrap();
    let mut all = Vec::new();
    walk(kubelet, &mut all);
    assert!(all.iter().all(|p| p.starts_with(&f.operator)), "{all:?}");
    assert!(!all.iter().any(|p| p.to_string_lossy().contains("escape")));
}

#[test]
fn base_profiles_are_merged_and_waited_for() {
    let mut f = fixture();
    let child = "  defaultAction: SCMP_ACT_ERRNO\n  baseProfileName: base\n  syscalls:\n  - action: SCMP_ACT_ALLOW\n    names: [read]\n";
    f.write("child.yaml", &profile("child", "", child));
    let s = f.settle();
    let c = find(&s, "child");
    assert_eq!(c.status, Phase::Pending);
    assert!(c.message.as_deref().unwrap_or("").contains("base profile `base`"), "{c:#?}");
    f.write(
        "base.yaml",
        &profile(
            "base",
            "",
            "  defaultAction: SCMP_ACT_ERRNO\n  syscalls:\n  - action: SCMP_ACT_ALLOW\n    names: [write]\n",
        ),
    );
    let s = f.settle();
    assert_eq!(find(&s, "child").status, Phase::Installed);
    let j = read_json(&f.operator.join("child.json"));
    assert_eq!(j["syscalls"][0]["names"], serde_json::json!(["write", "read"]));
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            walk(&e.path(), out);
        } else {
            out.push(e.path());
        }
    }
}

use spo_test_support::have;

/// What a valid AppArmor profile's status is on this host: `Installed`
/// where the kernel has AppArmor, `Unsupported` where it has not.
fn apparmor_phase() -> Phase {
    if std::path::Path::new("/sys/kernel/security/apparmor").exists() {
        Phase::Installed
    } else {
        Phase::Unsupported
    }
}

#[test]
fn apparmor_and_selinux_profiles_go_through_their_installers() {
    use spo_node::agent::lsm::{AppArmorProfiles, SelinuxProfiles};
    let mut f = fixture();
    let state = f.manifests.parent().unwrap().join("state");
    let parser = spo_node::apparmor::ApparmorParser::default();
    if !have("apparmor_parser") || !parser.features.exists() {
        spo_test_support::skip(
            "AppArmor part needs apparmor_parser and /usr/share/apparmor-features (apt-get install apparmor)",
        );
    } else {
        f.agent.add_installer(Box::new(AppArmorProfiles::new(&state, parser).unwrap()));
        let aa = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: AppArmorProfile\nmetadata:\n  name: web-aa\n  annotations:\n    spo-rs.io/mode: complain\nspec:\n  abstract:\n    executable:\n      allowedExecutables: [/bin/busybox]\n    filesystem:\n      readOnlyPaths: [/etc/passwd]\n";
        f.write("aa.yaml", aa);
        let s = f.settle();
        let p = find(&s, "web-aa");
        assert_eq!(p.status, apparmor_phase(), "{p:#?}");
        let text = fs::read_to_string(p.path.as_ref().unwrap()).unwrap();
        assert!(text.contains("complain"), "{text}");
        if !std::path::Path::new("/sys/kernel/security/apparmor").exists() {
            assert!(p.message.as_deref().unwrap_or("").contains("cannot be loaded"), "{p:#?}");
        }
        // A profile apparmor_parser refuses: Error, previous version kept.
        f.write("aa.yaml", &aa.replace("/etc/passwd", "relative/path"));
        let s = f.settle();
        let bad = find(&s, "web-aa");
        assert_eq!(bad.status, Phase::Error, "{bad:#?}");
        assert_eq!(bad.version, p.version);
    }
    // semodule rebuilds the whole Debian policy on each call (about 20 s
    // here), so this part takes about a minute.
    if !have("semodule") || !std::path::Path::new("/var/lib/selinux/default/active").exists() {
        spo_test_support::skip("SELinux part needs semodule and selinux-policy-default (apt-get install policycoreutils selinux-policy-default)");
        return;
    }
    let root = spo_node::agent::lsm::offline_policy_root(&state, "default").unwrap();
    f.agent.add_installer(Box::new(SelinuxProfiles::new(&state, spo_node::selinux::Semodule::offline(&root)).unwrap()));
    let raw = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: RawSelinuxProfile\nmetadata:\n  name: errorlogger\nspec:\n  policy: |\n    (type process)\n    (allow process var_log_t (dir (open read getattr search)))\n";
    f.write("se.yaml", raw);
    let s = f.settle();
    let p = find(&s, "errorlogger");
    assert_eq!(p.status, Phase::Installed, "{p:#?}");
    assert_eq!(p.localhost_profile.as_deref(), Some("errorlogger.process"));
    let modules =
        std::process::Command::new("semodule").arg("-p").arg(&root).args(["-s", "default", "-l"]).output().unwrap();
    assert!(String::from_utf8_lossy(&modules.stdout).lines().any(|l| l.trim() == "errorlogger"));
    // semodule refuses an unknown type: Error, the module stays.
    f.write("se.yaml", &raw.replace("var_log_t", "no_such_type_t"));
    let s = f.settle();
    assert_eq!(find(&s, "errorlogger").status, Phase::Error, "{:#?}", find(&s, "errorlogger"));
    assert_eq!(find(&s, "errorlogger").version, p.version);
}

/// A node whose kernel has no AppArmor cannot enforce an AppArmor
/// profile: the status must not say `Installed`. The installer is pointed
/// at a securityfs directory that does not exist, so this holds on any
/// host; apparmor_parser still compiles the profile for real.
#[test]
fn apparmor_without_a_kernel_that_has_it_is_unsupported_not_installed() {
    use spo_node::agent::lsm::AppArmorProfiles;
    let parser = spo_node::apparmor::ApparmorParser {
        securityfs: "/nonexistent/apparmor".into(),
        ..spo_node::apparmor::ApparmorParser::default()
    };
    if !have("apparmor_parser") || !parser.features.exists() {
        return spo_test_support::skip(
            "needs apparmor_parser and /usr/share/apparmor-features (apt-get install apparmor)",
        );
    }
    let mut f = fixture();
    let state = f.manifests.parent().unwrap().join("state");
    f.agent.add_installer(Box::new(AppArmorProfiles::new(&state, parser).unwrap()));
    let aa = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: AppArmorProfile\nmetadata:\n  name: web-aa\nspec:\n  abstract:\n    filesystem:\n      readOnlyPaths: [/etc/passwd]\n";
    f.write("aa.yaml", aa);
    let s = f.settle();
    let p = find(&s, "web-aa");
    assert_eq!(serde_json::to_value(p.status).unwrap(), "Unsupported", "{p:#?}");
    let msg = p.message.as_deref().unwrap_or_default();
    assert!(msg.contains("no AppArmor") && msg.contains("not enforced"), "{p:#?}");
    // Valid and compiled: the text is kept, so a kernel that gains
    // AppArmor gets it without a new manifest.
    assert!(p.version.is_some(), "{p:#?}");
    // An invalid profile is still an Error, not Unsupported.
    f.write("aa.yaml", &aa.replace("/etc/passwd", "relative/path"));
    let s = f.settle();
    assert_eq!(find(&s, "web-aa").status, Phase::Error, "{:#?}", find(&s, "web-aa"));
}

#[test]
fn raw_apparmor_policy_is_installed_as_written_and_checked_first() {
    use spo_node::agent::lsm::AppArmorProfiles;
    let parser = spo_node::apparmor::ApparmorParser::default();
    if !have("apparmor_parser") || !parser.features.exists() {
        spo_test_support::skip(
            "raw AppArmor policy needs apparmor_parser and /usr/share/apparmor-features (apt-get install apparmor)",
        );
        return;
    }
    let mut f = fixture();
    let state = f.manifests.parent().unwrap().join("state");
    f.agent.add_installer(Box::new(AppArmorProfiles::new(&state, parser).unwrap()));
    let policy = "profile raw-aa flags=(attach_disconnected) {\n  /etc/hosts r,\n  capability net_bind_service,\n}\n";
    let manifest = |policy: &str| {
        let indented: String = policy.lines().map(|l| format!("    {l}\n")).collect();
        format!(
            "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: AppArmorProfile\nmetadata:\n  name: raw-aa\n\
             spec:\n  policy: |\n{indented}"
        )
    };
    f.write("raw.yaml", &manifest(policy));
    let s = f.settle();
    let good = find(&s, "raw-aa").clone();
    assert_eq!(good.status, apparmor_phase(), "{good:#?}");
    assert_eq!(fs::read_to_string(good.path.as_ref().unwrap()).unwrap(), policy);
    assert_eq!(good.localhost_profile.as_deref(), Some("raw-aa"));

    // Named unlike the object: pods asking for localhost/raw-aa would find
    // nothing. Error at the policy field, the version in force kept.
    f.write("raw.yaml", &manifest(&policy.replace("profile raw-aa", "profile nginx")));
    let s = f.settle();
    let bad = find(&s, "raw-aa");
    assert_eq!(bad.status, Phase::Error, "{bad:#?}");
    assert_eq!(bad.version, good.version);
    assert_eq!(
        bad.errors[0].message,
        "spec.policy declares no profile named `raw-aa`; its top-level profile is `nginx`"
    );
    // At the name in the file: line 7, after four spaces and `profile `.
    let at = bad.errors[0].location.as_ref().map(|l| (l.line, l.column));
    assert_eq!(at, Some((7, 13)), "{bad:#?}");

    // A misspelt capability: located inside the policy, with the fix.
    f.write("raw.yaml", &manifest(&policy.replace("net_bind_service", "net_bind_servic")));
    let s = f.settle();
    let bad = find(&s, "raw-aa");
    assert_eq!(bad.status, Phase::Error, "{bad:#?}");
    assert_eq!(bad.errors[0].location.as_ref().map(|l| (l.line, l.column)), Some((9, 18)), "{bad:#?}");
    assert!(bad.errors[0].help.as_deref().unwrap_or_default().contains("net_bind_service"), "{bad:#?}");

    // Complain mode switches the flags of the text as written.
    let complain =
        manifest(policy).replace("  name: raw-aa\n", "  name: raw-aa\n  annotations:\n    spo-rs.io/mode: complain\n");
    f.write("raw.yaml", &complain);
    let s = f.settle();
    let p = find(&s, "raw-aa");
    assert_eq!(p.status, apparmor_phase(), "{p:#?}");
    let text = fs::read_to_string(p.path.as_ref().unwrap()).unwrap();
    assert!(text.starts_with("profile raw-aa flags=(complain,attach_disconnected) {"), "{text}");
}

/// Records what the agent asks of the SELinux tool and refuses modules
/// that mention `refuse_me`.
#[derive(Default)]
struct FakeSemodule(std::sync::Mutex<Vec<String>>);

impl spo_node::selinux::SelinuxInstaller for FakeSemodule {
    fn install(&self, name: &str, cil: &str) -> Result<(), spo_node::NodeError> {
        self.0.lock().unwrap().push(format!("install {name}"));
        if cil.contains("refuse_me") {
            return Err(spo_node::NodeError::ToolFailed {
                tool: "semodule".into(),
                subject: name.into(),
                status: Some(1),
                output: "Failed to resolve allow statement".into(),
            });
        }
        Ok(())
    }
    fn remove(&self, name: &str) -> Result<(), spo_node::NodeError> {
        self.0.lock().unwrap().push(format!("remove {name}"));
        Ok(())
    }
}

#[test]
fn selinux_updates_refusals_and_complain_mode_reach_the_tool() {
    use spo_node::agent::lsm::SelinuxProfiles;
    let mut f = fixture();
    let state = f.manifests.parent().unwrap().join("state");
    f.agent.add_installer(Box::new(SelinuxProfiles::new(&state, FakeSemodule::default()).unwrap()));
    let raw = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: RawSelinuxProfile\nmetadata:\n  name: errorlogger\nspec:\n  policy: |\n    (type process)\n    (allow process var_log_t (dir (open read getattr search)))\n";
    f.write("se.yaml", raw);
    let s = f.settle();
    let p = find(&s, "errorlogger").clone();
    assert_eq!(p.status, Phase::Installed, "{p:#?}");
    f.write("se.yaml", &raw.replace("var_log_t", "refuse_me"));
    let s = f.settle();
    let bad = find(&s, "errorlogger");
    assert_eq!(bad.status, Phase::Error, "{bad:#?}");
    assert!(bad.errors[0].message.contains("Failed to resolve"), "{bad:#?}");
    assert_eq!(bad.version, p.version);
    let complain =
        raw.replace("  name: errorlogger\n", "  name: errorlogger\n  annotations:\n    spo-rs.io/mode: complain\n");
    f.write("se.yaml", &complain);
    let s = f.settle();
    let c = find(&s, "errorlogger");
    assert_eq!((c.status, c.mode), (Phase::Installed, Mode::Complain), "{c:#?}");
    let cil = fs::read_to_string(c.path.as_ref().unwrap()).unwrap();
    assert!(cil.contains("(typepermissive process)"), "{cil}");
    fs::remove_file(f.manifests.join("se.yaml")).unwrap();
    let s = f.settle();
    assert!(s.profiles.is_empty(), "{s:#?}");
}

/// The cluster's policy (the daemon configuration): a kind switched off is
/// `Disabled` with the setting named; a seccomp profile beyond
/// `allowedSyscalls` is `Error`, located, and taken off the node; lifting
/// the limit installs it again.
#[test]
fn the_daemon_configuration_decides_what_the_node_installs() {
    use spo_model::seccomp::policy::SyscallLimit;
    use spo_node::agent::policy::NodePolicy;
    use spo_node::status::ProfileKind;

    let mut f = fixture();
    let allow = "  defaultAction: SCMP_ACT_ERRNO\n  syscalls:\n  - action: SCMP_ACT_ALLOW\n    names: [exit, exit_group, futex, nanosleep]\n";
    f.write("a.yaml", &profile("allowed", "", allow));
    let s = f.settle();
    assert_eq!(find(&s, "allowed").status, Phase::Installed);
    assert!(f.operator.join("allowed.json").is_file());

    // SPO's testCaseAllowedSyscallsChange: the list drops nanosleep.
    let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect();
    let mut policy = NodePolicy {
        syscall_limit: SyscallLimit {
            allowed_syscalls: names(&["exit", "exit_group", "futex"]),
            checked_actions: vec![],
        },
        ..NodePolicy::default()
    };
    f.agent.shared().set_policy(policy.clone());
    let s = f.settle();
    let p = find(&s, "allowed");
    assert_eq!(p.status, Phase::Error, "{p:#?}");
    assert!(p.errors[0].message.contains("`nanosleep` is not in the cluster's allowed syscalls"), "{p:#?}");
    let loc = p.errors[0].location.as_ref().expect("located");
    assert_eq!(loc.line, 9, "{p:#?}");
    assert!(!f.operator.join("allowed.json").exists(), "a forbidden profile leaves the node");

    // Lifted: installed again.
    policy.syscall_limit.allowed_syscalls.push("nanosleep".into());
    f.agent.shared().set_policy(policy.clone());
    let s = f.settle();
    assert_eq!(find(&s, "allowed").status, Phase::Installed);
    assert!(f.operator.join("allowed.json").is_file());

    // A kind switched off.
    policy.off.insert(ProfileKind::SeccompProfile, "seccomp is off for this test".into());
    f.agent.shared().set_policy(policy);
    let s = f.settle();
    let p = find(&s, "allowed");
    assert_eq!(p.status, Phase::Disabled, "{p:#?}");
    assert_eq!(p.message.as_deref(), Some("seccomp is off for this test: not installed"));
    assert!(!f.operator.join("allowed.json").exists());
}

/// SPO's two `errorlogger` examples (a SelinuxProfile and a
/// RawSelinuxProfile) would make one SELinux module: the raw one is
/// refused, the structured one installs, and removing the structured one
/// lets the raw one in.
#[test]
fn a_selinux_and_a_raw_selinux_profile_of_one_name_do_not_overwrite_each_other() {
    use spo_node::agent::lsm::SelinuxProfiles;
    use spo_node::selinux::SelinuxInstaller;

    #[derive(Debug, Default)]
    struct Modules(std::sync::Arc<std::sync::Mutex<Vec<String>>>);
    impl SelinuxInstaller for Modules {
        fn install(&self, name: &str, cil: &str) -> Result<(), spo_node::NodeError> {
            self.0.lock().unwrap().push(format!("{name}: {}", cil.lines().nth(1).unwrap_or_default().trim()));
            Ok(())
        }
        fn remove(&self, _name: &str) -> Result<(), spo_node::NodeError> {
            Ok(())
        }
    }
    let mut f = fixture();
    let state = f.manifests.parent().unwrap().join("state");
    let modules = Modules::default();
    let seen = modules.0.clone();
    f.agent.add_installer(Box::new(SelinuxProfiles::new(&state, modules).unwrap()));
    let structured = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SelinuxProfile\nmetadata:\n  name: errorlogger\nspec:\n  allow:\n    var_log_t:\n      dir: [open, read]\n";
    let raw = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: RawSelinuxProfile\nmetadata:\n  name: errorlogger\nspec:\n  policy: |\n    (blockinherit container)\n    (allow process var_log_t (dir (open read)))\n";
    f.write("s.yaml", structured);
    f.write("r.yaml", raw);
    let s = f.settle();
    let kinds = |s: &NodeStatus| -> Vec<(String, Phase)> {
        s.profiles.iter().map(|p| (p.kind.as_str().to_owned(), p.status)).collect()
    };
    let k = kinds(&s);
    assert!(k.contains(&("SelinuxProfile".into(), Phase::Installed)), "{s:#?}");
    assert!(k.contains(&("RawSelinuxProfile".into(), Phase::Error)), "{s:#?}");
    assert_eq!(seen.lock().unwrap().len(), 1, "one module written: {:?}", seen.lock().unwrap());
    fs::remove_file(f.manifests.join("s.yaml")).unwrap();
    let s = f.settle();
    assert!(kinds(&s).contains(&("RawSelinuxProfile".into(), Phase::Installed)), "{s:#?}");
}
