//! Prometheus metrics, in the text exposition format, written by hand: it
//! is a few lines of exact format and keeps the agent free of a metrics
//! framework.
//!
//! Names follow SPO where SPO has them
//! (`security_profiles_operator_{seccomp,selinux,apparmor}_profile_total`,
//! `..._profile_error_total`, `..._seccomp_profile_audit_total`), so
//! existing dashboards keep working. spo-rs adds `spo_profiles{kind,status}`
//! (every status, zeros included, so "no profile is in an errored state"
//! is the one rule `sum(spo_profiles{status="Error"}) > 0`), process
//! verification and enricher counters.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;

use crate::status::{NodeStatus, Phase, ProfileKind};

const PREFIX: &str = "security_profiles_operator";

/// Labels of one seccomp audit counter (SPO's set).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuditLabels {
    /// Node.
    pub node: String,
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub container: String,
    /// Executable.
    pub executable: String,
    /// Syscall name.
    pub syscall: String,
}

/// The agent's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    ops: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    errors: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    audit: Mutex<HashMap<AuditLabels, u64>>,
}

/// Escape a label value.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    /// Count a profile operation (`update` or `delete`, as SPO).
    pub fn profile_op(&self, kind: ProfileKind, op: &'static str) {
        if let Ok(mut g) = self.ops.lock() {
            *g.entry((kind.metric_stem(), op)).or_default() += 1;
        }
    }

    /// Count a profile error with a reason.
    pub fn profile_error(&self, kind: ProfileKind, reason: &'static str) {
        if let Ok(mut g) = self.errors.lock() {
            *g.entry((kind.metric_stem(), reason)).or_default() += 1;
        }
    }

    /// Count a seccomp audit event.
    pub fn seccomp_audit(&self, labels: AuditLabels) {
        if let Ok(mut g) = self.audit.lock() {
            *g.entry(labels).or_default() += 1;
        }
    }

    /// The seccomp audit family alone.
    pub fn render_audit(&self) -> String {
        let mut out = String::new();
        let name = format!("{PREFIX}_seccomp_profile_audit_total");
        let _ = writeln!(out, "# HELP {name} Seccomp audit events, by the process that caused them.");
        let _ = writeln!(out, "# TYPE {name} counter");
        let Ok(g) = self.audit.lock() else { return out };
        let mut rows: Vec<_> = g.iter().collect();
        rows.sort();
        for (l, n) in rows {
            let _ = writeln!(
                out,
                "{name}{{node=\"{}\",namespace=\"{}\",pod=\"{}\",container=\"{}\",executable=\"{}\",syscall=\"{}\"}} {n}",
                esc(&l.node),
                esc(&l.namespace),
                esc(&l.pod),
                esc(&l.container),
                esc(&l.executable),
                esc(&l.syscall)
            );
        }
        out
    }

    /// Everything, with gauges computed from `status`.
    pub fn render(&self, status: &NodeStatus) -> String {
        let mut out = String::new();
        for stem in ["seccomp", "selinux", "apparmor"] {
            let name = format!("{PREFIX}_{stem}_profile_total");
            let _ = writeln!(out, "# HELP {name} {stem} profile operations.");
            let _ = writeln!(out, "# TYPE {name} counter");
            if let Ok(g) = self.ops.lock() {
                for op in ["update", "delete"] {
                    let n = g.get(&(stem, op)).copied().unwrap_or(0);
                    let _ = writeln!(out, "{name}{{operation=\"{op}\"}} {n}");
                }
            }
            let name = format!("{PREFIX}_{stem}_profile_error_total");
            let _ = writeln!(out, "# HELP {name} {stem} profile errors.");
            let _ = writeln!(out, "# TYPE {name} counter");
            if let Ok(g) = self.errors.lock() {
                for ((s, reason), n) in g.iter() {
                    if *s == stem {
                        let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {n}");
                    }
                }
            }
        }
        out.push_str(&self.render_audit());
        let _ = writeln!(out, "# HELP spo_profiles Profiles on this node by kind and status.");
        let _ = writeln!(out, "# TYPE spo_profiles gauge");
        for kind in ProfileKind::ALL {
            for phase in Phase::ALL {
                let n = status.profiles.iter().filter(|p| p.kind == kind && p.status == phase).count();
                let _ = writeln!(out, "spo_profiles{{kind=\"{}\",status=\"{}\"}} {n}", kind.as_str(), phase.as_str());
            }
        }
        let _ = writeln!(out, "# HELP spo_manifest_file_errors Manifest problems that belong to no profile.");
        let _ = writeln!(out, "# TYPE spo_manifest_file_errors gauge");
        let _ = writeln!(out, "spo_manifest_file_errors {}", status.file_errors.len());
        let _ = writeln!(out, "# HELP spo_verified_processes Processes checked against their profiles.");
        let _ = writeln!(out, "# TYPE spo_verified_processes gauge");
        let ok = status.processes.iter().filter(|p| p.ok).count();
        let _ = writeln!(out, "spo_verified_processes{{result=\"match\"}} {ok}");
        let _ = writeln!(out, "spo_verified_processes{{result=\"mismatch\"}} {}", status.processes.len() - ok);
        let e = &status.enricher;
        for (name, help, v) in [
            ("spo_audit_records_total", "Audit records read.", e.records),
            ("spo_audit_events_total", "Seccomp audit events emitted.", e.events),
            ("spo_audit_lost_total", "Audit receive-buffer overruns seen.", e.lost),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name}{{source=\"{}\"}} {v}", esc(&e.source));
        }
        let _ = writeln!(out, "# HELP spo_ready Whether the first scan of the manifests is done.");
        let _ = writeln!(out, "# TYPE spo_ready gauge");
        let _ = writeln!(out, "spo_ready {}", u8::from(status.ready));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{Mode, ProfileStatus};

    #[test]
    fn renders_spo_names_and_a_gauge_per_status() {
        let m = Metrics::default();
        m.profile_op(ProfileKind::SeccompProfile, "update");
        m.profile_error(ProfileKind::SeccompProfile, "invalid-profile");
        m.seccomp_audit(AuditLabels { syscall: "get\"pid".into(), ..AuditLabels::default() });
        let mut st = NodeStatus::default();
        st.profiles.push(ProfileStatus {
            kind: ProfileKind::SeccompProfile,
            name: "a".into(),
            status: Phase::Error,
            mode: Mode::Enforce,
            source: None,
            version: None,
            path: None,
            localhost_profile: None,
            errors: vec![],
            message: None,
            in_use_by: 0,
            updated: 0,
        });
        let text = m.render(&st);
        for line in [
            "security_profiles_operator_seccomp_profile_total{operation=\"update\"} 1",
            "security_profiles_operator_seccomp_profile_total{operation=\"delete\"} 0",
            "security_profiles_operator_seccomp_profile_error_total{reason=\"invalid-profile\"} 1",
            "syscall=\"get\\\"pid\"} 1",
            "spo_profiles{kind=\"SeccompProfile\",status=\"Error\"} 1",
            "spo_profiles{kind=\"AppArmorProfile\",status=\"Installed\"} 0",
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
    }
}
