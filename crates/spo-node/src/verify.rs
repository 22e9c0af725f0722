//! Verification: does each confined process have what it was supposed to
//! get?
//!
//! The agent walks `/proc` and looks only at processes it can attribute:
//! those in a container (the OCI bundle says what the runtime was asked
//! to apply) and those started with `SPO_PROFILE=NAME` (as `spoc run`
//! does). For each it reads what the kernel actually enforces,
//! `Seccomp:`/`Seccomp_filters:` from `/proc/PID/status` and the SELinux
//! and AppArmor labels from `/proc/PID/attr`, and compares.
//!
//! SELinux is compared by type, the part a profile decides (the runtime
//! picks the MCS categories): the check reports the type the kernel gives
//! the process, and says so plainly when that type is one of the
//! unconfined domains (`spc_t`, a privileged container's;
//! `unconfined_t`; `kernel_t`, `initrc_t`, `unconfined_service_t`), the
//! common way a pod ends up not using the type of its policy.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::Path;

use crate::enrich::Attributor;
use crate::status::{Phase, ProcessCheck};

/// Seccomp state of a process, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeccompState {
    /// 0 disabled, 1 strict, 2 filter.
    pub mode: u8,
    /// Number of filters attached.
    pub filters: u32,
}

/// Read `Seccomp:` and `Seccomp_filters:` from a status text.
pub fn parse_status(text: &str) -> SeccompState {
    let mut s = SeccompState::default();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Seccomp:") {
            s.mode = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Seccomp_filters:") {
            s.filters = v.trim().parse().unwrap_or(0);
        }
    }
    s
}

/// An LSM label file, `None` when absent, empty or unreadable (the LSM is
/// not active).
fn label(path: &Path) -> Option<String> {
    let s = fs::read_to_string(path).ok()?;
    let s = s.trim_end_matches(['\0', '\n']).to_owned();
    (!s.is_empty()).then_some(s)
}

/// SELinux domains that confine nothing (or next to nothing): a process
/// that should run in a profile's type and runs in one of these is not
/// confined by the profile at all.
pub const UNCONFINED_SELINUX_TYPES: &[&str] =
    &["spc_t", "unconfined_t", "unconfined_service_t", "kernel_t", "initrc_t", "container_runtime_t"];

/// The type of a SELinux context `user:role:type:level`.
pub fn selinux_type(context: &str) -> Option<&str> {
    context.split(':').nth(2).filter(|t| !t.is_empty())
}

/// What is wrong when a process expected to run as `want` (a context)
/// runs as `got` (a context, or none), compared by type.
pub fn selinux_problem(want: &str, got: Option<&str>) -> Option<String> {
    let want_type = selinux_type(want).unwrap_or(want);
    let Some(got) = got else {
        return Some(format!("expected SELinux type `{want_type}` (label `{want}`), the process has no SELinux label"));
    };
    let got_type = selinux_type(got).unwrap_or(got);
    if got_type == want_type {
        return None;
    }
    if UNCONFINED_SELINUX_TYPES.contains(&got_type) {
        Some(format!(
            "expected SELinux type `{want_type}`, the process runs as `{got_type}` (label `{got}`), an unconfined domain: the profile's policy does not apply to it"
        ))
    } else {
        Some(format!("expected SELinux type `{want_type}`, the process runs as `{got_type}` (label `{got}`)"))
    }
}

/// What the verifier knows about installed profiles: name to status and
/// version in force.
pub type ProfileIndex = BTreeMap<String, (Phase, Option<String>)>;

/// Check every attributable process under `proc_root`. Also returns the
/// container ids seen, so caches of dead containers can be dropped.
pub fn scan(
    proc_root: &Path,
    attributor: &Attributor,
    profiles: &ProfileIndex,
) -> (Vec<ProcessCheck>, HashSet<String>) {
    let mut out = Vec::new();
    let mut live = HashSet::new();
    let me = std::process::id();
    let Ok(entries) = fs::read_dir(proc_root) else {
        return (out, live);
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let a = attributor.attribute(pid);
        if let Some(id) = &a.container_id {
            live.insert(id.clone());
        }
        if a.container.is_none() && a.profile.is_none() {
            continue;
        }
        let dir = e.path();
        let Ok(status) = fs::read_to_string(dir.join("status")) else {
            continue;
        };
        let sc = parse_status(&status);
        let comm =
            status.lines().find_map(|l| l.strip_prefix("Name:")).map(|s| s.trim().to_owned()).unwrap_or_default();
        let mut problems = Vec::new();
        let wants_seccomp = a.profile.is_some() || a.container.as_ref().is_some_and(|c| c.has_seccomp);
        if wants_seccomp && (sc.mode != 2 || sc.filters == 0) {
            problems.push(format!(
                "expected a seccomp filter, the kernel reports Seccomp: {} with {} filters",
                sc.mode, sc.filters
            ));
        }
        if let Some(name) = &a.profile {
            match profiles.get(name) {
                None => problems.push(format!("profile `{name}` is not known to this agent")),
                Some((phase, current)) => {
                    if !matches!(phase, Phase::Installed | Phase::Terminating | Phase::Error) || current.is_none() {
                        problems.push(format!("profile `{name}` is {}", phase.as_str()));
                    } else if let (Some(v), Some(cur)) = (&a.version, current) {
                        if v != cur {
                            problems.push(format!(
                                "runs version {} of `{name}`; {} is installed now",
                                short(v),
                                short(cur)
                            ));
                        }
                    }
                }
            }
        } else if a.container.as_ref().is_some_and(|c| c.has_seccomp && c.seccomp_hash.is_none()) {
            problems.push("the container's seccomp filter could not be read back".into());
        }
        let selinux = label(&dir.join("attr/current")).filter(|l| l != "unconfined");
        let apparmor = label(&dir.join("attr/apparmor/current"));
        if let Some(want) = a.container.as_ref().and_then(|c| c.selinux_label.as_ref()) {
            problems.extend(selinux_problem(want, selinux.as_deref()));
        }
        if let Some(want) = a.container.as_ref().and_then(|c| c.apparmor_profile.as_ref()) {
            let got = apparmor.as_deref().unwrap_or("none");
            if want != "unconfined" && got.split(" (").next() != Some(want.as_str()) {
                problems.push(format!("expected AppArmor profile `{want}`, found {got}"));
            }
        }
        out.push(ProcessCheck {
            pid,
            comm,
            container_id: a.container_id.clone(),
            pod: a.pod().cloned(),
            profile: a.profile.clone(),
            profile_version: a.version.clone(),
            seccomp_mode: sc.mode,
            seccomp_filters: sc.filters,
            selinux_type: selinux.as_deref().and_then(selinux_type).map(str::to_owned),
            selinux_label: selinux,
            apparmor_label: apparmor,
            ok: problems.is_empty(),
            problems,
        });
    }
    out.sort_by_key(|p| p.pid);
    (out, live)
}

fn short(h: &str) -> &str {
    h.get(..12).unwrap_or(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selinux_is_compared_by_type_and_unconfined_domains_are_named() {
        let want = "system_u:system_r:web_ns.process:s0:c1,c2";
        assert_eq!(selinux_problem(want, Some("system_u:system_r:web_ns.process:s0:c7,c9")), None);
        let spc = selinux_problem(want, Some("system_u:system_r:spc_t:s0")).unwrap();
        assert!(
            spc.contains("runs as `spc_t`") && spc.contains("unconfined domain") && spc.contains("web_ns.process"),
            "{spc}"
        );
        let other = selinux_problem(want, Some("system_u:system_r:container_t:s0:c1,c2")).unwrap();
        assert!(other.contains("runs as `container_t`") && !other.contains("unconfined"), "{other}");
        assert!(selinux_problem(want, None).unwrap().contains("no SELinux label"));
        assert_eq!(selinux_type("unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023"), Some("unconfined_t"));
    }

    #[test]
    fn status_fields_are_read() {
        let s = parse_status("Name:\tsh\nSeccomp:\t2\nSeccomp_filters:\t3\n");
        assert_eq!(s, SeccompState { mode: 2, filters: 3 });
        let mine = parse_status(&fs::read_to_string("/proc/self/status").unwrap());
        assert!(mine.mode <= 2);
    }
}
