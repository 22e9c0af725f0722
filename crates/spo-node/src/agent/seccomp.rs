//! Seccomp profiles for the kubelet.
//!
//! The kubelet hands a pod's `localhostProfile: operator/NAME.json` to the
//! container runtime, which reads the OCI seccomp JSON at
//! `KUBELET_ROOT/seccomp/operator/NAME.json`. What is written there is not
//! the manifest as typed but the profile *resolved for this node*:
//! Docker-style `includes`/`excludes` and `archMap` evaluated against the
//! native architecture and kernel (runc and crun ignore those fields, which
//! would silently widen the profile), `baseProfileName` merged in, and, in
//! complain mode, every blocking action turned into `SCMP_ACT_LOG`.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Map, Value};
use spo_model::seccomp::{resolve, Action, Filter, SeccompSpec, Target};
use spo_parse::seccomp::lower_document_with;

/// The agent judges profiles strictly, as admission does: a misspelt
/// syscall name is an error that keeps the previous version in force,
/// not a rule the runtime would silently skip.
const STRICT: spo_model::seccomp::ValidateOptions = spo_model::seccomp::ValidateOptions { strict: true };
use spo_parse::{Diagnostic, Span};

use super::installer::{Catalog, Compiled, Installed, Installer, ManifestDoc, Rejected};
use crate::status::{Mode, ProfileKind};
use crate::store::VersionedStore;
use crate::NodeError;

/// The directory under the kubelet root that holds the profiles.
pub const OPERATOR_DIR: &str = "seccomp/operator";

/// Installs seccomp profiles into `KUBELET_ROOT/seccomp/operator`.
#[derive(Debug)]
pub struct SeccompInstaller {
    store: VersionedStore,
    target: Target,
    /// Where the cluster's syscall limit is read (Kubernetes mode).
    shared: Option<std::sync::Arc<super::Shared>>,
}

impl SeccompInstaller {
    /// An installer writing under `kubelet_root`.
    pub fn new(kubelet_root: &Path) -> Result<SeccompInstaller, NodeError> {
        let target = Target { kernel: kernel_version(), ..Target::default() };
        Ok(SeccompInstaller {
            store: VersionedStore::open(kubelet_root.join(OPERATOR_DIR), "json")?,
            target,
            shared: None,
        })
    }

    /// The store.
    pub fn store(&self) -> &VersionedStore {
        &self.store
    }
}

fn kernel_version() -> Option<spo_model::seccomp::KernelVersion> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?.trim().parse().ok()
}

/// Lower a seccomp document and merge its base profiles from `catalog`.
pub fn spec_of(doc: &ManifestDoc, catalog: &Catalog<'_>) -> Result<SeccompSpec, Rejected> {
    let (lowered, diags) = lower_document_with(&doc.node, &STRICT, &doc.limits);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Rejected::Invalid(diags));
    }
    let Some(lowered) = lowered else {
        return Err(Rejected::Invalid(vec![Diagnostic::error(doc.node.span, "not a seccomp profile")]));
    };
    let mut spec = lowered.spec;
    let mut seen = vec![doc.name.clone()];
    while let Some(base) = spec.base_profile_name.take() {
        let span = doc.node.get("spec").and_then(|s| s.get("baseProfileName")).map_or(doc.node.span, |n| n.span);
        if base.contains("://") || base.contains(':') {
            return Err(Rejected::Invalid(vec![Diagnostic::error(
                span,
                format!("base profile `{base}` is remote; a standalone node only resolves profiles from its manifests"),
            )
            .with_help("name a SeccompProfile in the manifests directory")]));
        }
        if seen.contains(&base) {
            return Err(Rejected::Invalid(vec![Diagnostic::error(
                span,
                format!("base profiles form a cycle: {} -> {base}", seen.join(" -> ")),
            )]));
        }
        let Some(base_doc) = catalog.get(&(ProfileKind::SeccompProfile, base.clone())) else {
            return Err(Rejected::Waiting(format!("waiting for base profile `{base}`")));
        };
        let (b, bdiags) = lower_document_with(&base_doc.node, &STRICT, &doc.limits);
        let Some(b) = b.filter(|_| !bdiags.iter().any(Diagnostic::is_error)) else {
            return Err(Rejected::Waiting(format!("base profile `{base}` is invalid")));
        };
        let mut rules = b.spec.syscalls;
        rules.append(&mut spec.syscalls);
        spec.syscalls = rules;
        spec.base_profile_name = b.spec.base_profile_name;
        seen.push(base);
    }
    Ok(spec)
}

/// The filter a document resolves to on `target`, in its mode.
pub fn filter_of(doc: &ManifestDoc, catalog: &Catalog, target: &Target) -> Result<Filter, Rejected> {
    let spec = spec_of(doc, catalog)?;
    let filter = resolve(&spec, target);
    Ok(match doc.mode {
        Mode::Enforce => filter,
        Mode::Complain => filter.to_complain(),
    })
}

/// OCI seccomp JSON for a resolved filter, as runc and crun read it.
/// Consecutive rules with the same action and conditions share an entry;
/// rules whose action is the default are left out (the runtimes skip them).
pub fn to_oci_json(filter: &Filter) -> Vec<u8> {
    let mut root = Map::new();
    let (name, data) = filter.default_action.to_name();
    root.insert("defaultAction".into(), json!(name.as_str()));
    if let (Action::Errno(_), Some(e)) = (filter.default_action, data) {
        root.insert("defaultErrnoRet".into(), json!(e));
    }
    root.insert("architectures".into(), Value::Array(filter.arches.iter().map(|a| json!(a.to_string())).collect()));
    if !filter.flags.is_empty() {
        root.insert("flags".into(), Value::Array(filter.flags.iter().map(|f| json!(f.as_str())).collect()));
    }
    if let Some(l) = &filter.listener_path {
        root.insert("listenerPath".into(), json!(l));
    }
    let mut syscalls: Vec<Value> = Vec::new();
    let mut last: Option<(Action, &[spo_model::seccomp::ArgCmp])> = None;
    for rule in filter.rules.iter().filter(|r| r.action != filter.default_action) {
        let key = (rule.action, rule.args.as_slice());
        if last == Some(key) {
            if let Some(names) = syscalls.last_mut().and_then(|e| e.get_mut("names")).and_then(Value::as_array_mut) {
                names.push(json!(rule.syscall));
                continue;
            }
        }
        let mut e = Map::new();
        e.insert("names".into(), json!([rule.syscall]));
        let (name, data) = rule.action.to_name();
        e.insert("action".into(), json!(name.as_str()));
        if let Some(d) = data {
            e.insert("errnoRet".into(), json!(d));
        }
        if !rule.args.is_empty() {
            let args: Vec<Value> = rule
                .args
                .iter()
                .map(|a| json!({"index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op.as_str()}))
                .collect();
            e.insert("args".into(), Value::Array(args));
        }
        syscalls.push(Value::Object(e));
        last = Some(key);
    }
    root.insert("syscalls".into(), Value::Array(syscalls));
    let mut out = serde_json::to_vec_pretty(&Value::Object(root)).unwrap_or_default();
    out.push(b'\n');
    out
}

impl Installer for SeccompInstaller {
    fn kinds(&self) -> &[ProfileKind] {
        &[ProfileKind::SeccompProfile]
    }

    fn compile(&self, doc: &ManifestDoc, catalog: &Catalog<'_>) -> Result<Compiled, Rejected> {
        let spec = spec_of(doc, catalog)?;
        if let Some(shared) = &self.shared {
            let problems = shared.policy().syscall_limit.problems(&spec);
            if !problems.is_empty() {
                return Err(Rejected::Forbidden(
                    problems
                        .into_iter()
                        .map(|p| {
                            let mut d = Diagnostic::error(doc.node.span_of(&p.path), p.message);
                            d.help = p.help;
                            d
                        })
                        .collect(),
                ));
            }
        }
        let filter = resolve(&spec, &self.target);
        let filter = match doc.mode {
            Mode::Enforce => filter,
            Mode::Complain => filter.to_complain(),
        };
        if filter.arches.iter().all(|a| !a.is_supported()) {
            return Err(Rejected::Invalid(vec![Diagnostic::error(
                Span::new(doc.node.span.start, doc.node.span.start),
                "the profile accepts no architecture this node can run",
            )]));
        }
        Ok(Compiled { bytes: to_oci_json(&filter), warnings: Vec::new() })
    }

    fn install(&mut self, _kind: ProfileKind, name: &str, compiled: &Compiled) -> Result<Installed, NodeError> {
        let s = self.store.install(name, &compiled.bytes)?;
        Ok(Installed {
            hash: s.hash,
            path: s.path,
            reference: Some(format!("operator/{name}.json")),
            written: s.written,
            note: None,
            enforced: true,
        })
    }

    fn install_many(&mut self, items: &[(ProfileKind, &str, &Compiled)]) -> Vec<Result<Installed, NodeError>> {
        let batch: Vec<(&str, &[u8])> = items.iter().map(|(_, n, c)| (*n, c.bytes.as_slice())).collect();
        self.store
            .install_many(&batch)
            .into_iter()
            .zip(items)
            .map(|(r, (_, name, _))| {
                r.map(|s| Installed {
                    hash: s.hash,
                    path: s.path,
                    reference: Some(format!("operator/{name}.json")),
                    written: s.written,
                    note: None,
                    enforced: true,
                })
            })
            .collect()
    }

    fn remove(&mut self, _kind: ProfileKind, name: &str) -> Result<(), NodeError> {
        self.store.remove_current(name)
    }

    fn prune(&mut self, _kind: ProfileKind, name: &str, keep: &BTreeSet<String>) -> Result<(), NodeError> {
        self.store.prune(name, keep).map(drop)
    }

    fn current(&self, _kind: ProfileKind, name: &str) -> Option<Installed> {
        let hash = self.store.current_hash(name)?;
        Some(Installed {
            hash,
            path: self.store.current_path(name),
            reference: Some(format!("operator/{name}.json")),
            written: false,
            note: None,
            enforced: true,
        })
    }

    fn installed_names(&self, _kind: ProfileKind) -> BTreeSet<String> {
        self.store.names()
    }

    /// Profiles beyond the syscall limit of `shared`'s policy are refused.
    fn follow_policy(&mut self, shared: std::sync::Arc<super::Shared>) {
        self.shared = Some(shared);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spo_model::seccomp::{ArgCmp, FilterRule, Operator};
    use spo_model::Arch;

    #[test]
    fn oci_json_groups_rules_and_reads_back_the_same_filter() {
        let mut f = Filter::new(Action::Errno(1), vec![Arch::X86_64, Arch::X86]);
        for s in ["read", "write"] {
            f.rules.push(FilterRule { syscall: s.into(), action: Action::Allow, args: vec![] });
        }
        f.rules.push(FilterRule {
            syscall: "personality".into(),
            action: Action::Errno(38),
            args: vec![ArgCmp { index: 0, op: Operator::NotEqual, value: 0xffff_ffff, value_two: 0 }],
        });
        f.rules.push(FilterRule { syscall: "mkdir".into(), action: Action::Errno(1), args: vec![] });
        let text = String::from_utf8(to_oci_json(&f)).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["defaultErrnoRet"], 1);
        assert_eq!(v["syscalls"].as_array().unwrap().len(), 2, "{text}");
        assert_eq!(v["syscalls"][0]["names"], json!(["read", "write"]));
        assert_eq!(v["syscalls"][1]["args"][0]["op"], "SCMP_CMP_NE");
        let back = spo_parse::seccomp::parse_spec(&text).unwrap();
        let g = resolve(&back.spec, &Target { native: Arch::X86_64, ..Target::default() });
        for nr in 0..450 {
            for a0 in [0u64, 0xffff_ffff] {
                let args = [a0, 0, 0, 0, 0, 0];
                assert_eq!(f.evaluate(Arch::X86_64, nr, &args), g.evaluate(Arch::X86_64, nr, &args), "nr {nr}");
            }
        }
    }
}
