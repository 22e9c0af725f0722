//! Verification: does each confined process have what it was supposed to
//! get?
//!
//! The agent walks `/proc` and looks only at processes it can attribute:
//! those in a container (the OCI bundle says what the runtime was asked
//! to apply) and those started with `SPO_PROFILE=NAME` (as `spoc run`
//! does). For each it reads what the kernel actually enforces,
//! `Seccomp:`/`Seccomp_filters:` from `/proc/PID/status` and the SELinux
//! and AppArmor labels from `/proc/PID/attr`, and compares.

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
            if selinux.as_ref() != Some(want) {
                problems
                    .push(format!("expected SELinux label `{want}`, found {}", selinux.as_deref().unwrap_or("none")));
            }
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
    fn status_fields_are_read() {
        let s = parse_status("Name:\tsh\nSeccomp:\t2\nSeccomp_filters:\t3\n");
        assert_eq!(s, SeccompState { mode: 2, filters: 3 });
        let mine = parse_status(&fs::read_to_string("/proc/self/status").unwrap());
        assert!(mine.mode <= 2);
    }
}
