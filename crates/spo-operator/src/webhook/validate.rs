//! Validation of profiles and bindings at admission: the object is
//! rendered as the YAML a user would write (apiVersion, kind, metadata
//! name and namespace, spec), checked by `spo_validate` — the code behind
//! `spoc validate` — and, when anything is an error, refused with the
//! rendered diagnostics, so `kubectl apply` shows
//! ` --> seccompprofile/NS/NAME:LINE:COL`, the line, a caret and the
//! suggestion, just as `spoc validate` would for the same file.
//!
//! The API server's schema has already checked shapes and enums; what is
//! left (syscall names, CIL, AppArmor rules, did-you-mean) needs the
//! parsers, and nothing that fails them is admitted.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::cache::Caches;
use super::selector;
use spo_api::crds::{ProfileBindingSpec, ProfileRecordingSpec, RecordedKind};

/// The outcome of an admission check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// Refused, with this message; admitted when `None`.
    pub denied: Option<String>,
    /// Warnings shown to the user even when admitted.
    pub warnings: Vec<String>,
}

impl Verdict {
    /// Admit.
    pub fn allow() -> Verdict {
        Verdict::default()
    }

    /// Refuse with `message`.
    pub fn deny(message: impl Into<String>) -> Verdict {
        Verdict { denied: Some(message.into()), warnings: Vec::new() }
    }
}

/// Kinds checked with `spo_validate`.
pub const PROFILE_KINDS: &[&str] = &["SeccompProfile", "SelinuxProfile", "RawSelinuxProfile", "AppArmorProfile"];

/// The name a diagnostic is located in: `seccompprofile/NAME` for the
/// cluster-wide kinds, `profilebinding/NS/NAME` for the others.
pub fn origin(kind: &str, namespace: &str, name: &str) -> String {
    match namespace {
        "" => format!("{}/{name}", kind.to_ascii_lowercase()),
        ns => format!("{}/{ns}/{name}", kind.to_ascii_lowercase()),
    }
}

/// The object as the YAML text a user would have written: status,
/// managed fields and server-set metadata left out, keys sorted.
pub fn user_yaml(object: &Value) -> String {
    let mut meta = Map::new();
    if let Some(m) = object.get("metadata") {
        for k in ["name", "generateName", "namespace", "labels"] {
            if let Some(v) = m.get(k) {
                meta.insert(k.to_owned(), v.clone());
            }
        }
    }
    let mut doc = Map::new();
    for k in ["apiVersion", "kind"] {
        if let Some(v) = object.get(k) {
            doc.insert(k.to_owned(), v.clone());
        }
    }
    doc.insert("metadata".to_owned(), Value::Object(meta));
    doc.insert("spec".to_owned(), object.get("spec").cloned().unwrap_or_else(|| json!({})));
    spo_api::crds::yaml::to_yaml(&Value::Object(doc))
}

/// Check one profile object of `kind` (one of [`PROFILE_KINDS`]).
pub fn profile(validator: &spo_validate::Validator, kind: &str, object: &Value) -> Verdict {
    profile_within(validator, kind, object, &spo_validate::SyscallLimit::default())
}

/// [`profile`], and a `SeccompProfile` must stay within the cluster's
/// syscall limit (the daemon configuration's `security.allowedSyscalls`).
pub fn profile_within(
    validator: &spo_validate::Validator,
    kind: &str,
    object: &Value,
    limit: &spo_validate::SyscallLimit,
) -> Verdict {
    let meta = object.get("metadata");
    let get = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str).unwrap_or_default();
    let name = if get("name").is_empty() { format!("{}*", get("generateName")) } else { get("name").to_owned() };
    let origin = origin(kind, get("namespace"), &name);
    let text = user_yaml(object);
    let groups = match validator.check_documents_limited(Path::new(&origin), &text, limit) {
        Ok(g) => g,
        Err(e) => return Verdict::deny(format!("{origin} cannot be validated: {e}")),
    };
    let (errors, warnings) = spo_validate::counts(&groups);
    if errors > 0 {
        return Verdict::deny(format!(
            "{origin} is invalid ({errors} error(s), {warnings} warning(s))\n\n{}",
            spo_validate::render_human(&groups).trim_end()
        ));
    }
    let mut out = Verdict::allow();
    for (path, text, diags) in &groups {
        let map = spo_validate::SourceMap::new(text);
        for d in diags {
            let (line, col) = map.line_col(d.span.start);
            out.warnings.push(format!("{}:{line}:{col}: {}", path.display(), d.message));
        }
    }
    out
}

/// Check the daemon configuration as `spoc validate` does: its schema,
/// its name (`spod`) and its syscall names.
pub fn daemon(validator: &spo_validate::Validator, object: &Value) -> Verdict {
    profile(validator, "SecurityProfilesOperatorDaemon", object)
}

/// Check a binding: its selector must be one the API server would accept
/// in a Deployment, and a profile it binds that already exists must allow
/// the binding's namespace. (A profile created later is checked when pods
/// are admitted.)
pub fn binding(caches: &Caches, object: &Value) -> Verdict {
    let spec: ProfileBindingSpec = match spec_of(object) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
    let mut problems = spec.pod_selector.as_ref().map(selector::problems).unwrap_or_default();
    if spec.image.trim().is_empty() {
        problems.push("spec.image: empty; use `*` to bind every image".to_owned());
    }
    if let Some(found) = super::mutate::bound_profile(caches, spec.profile_ref.kind, &spec.profile_ref.name) {
        if !found.allows(namespace) {
            problems.push(super::policy::refusal(&found, namespace));
        }
    }
    judged("ProfileBinding", object, &problems)
}

/// Check a `ProfileRecording`: what the node agents can record, and a
/// selector the API server's schema lets through but no pod could match.
pub fn recording(object: &Value) -> Verdict {
    let spec: ProfileRecordingSpec = match spec_of(object) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    let mut problems = selector::problems(&spec.pod_selector);
    // SPO accepts every kind; spo-rs records seccomp in the cluster. The
    // others are admitted (an SPO manifest applies unchanged) with a
    // warning saying how to record them instead.
    let warning = (spec.kind != RecordedKind::SeccompProfile).then(|| {
        format!(
            "spec.kind: {:?} is not recorded in the cluster by spo-rs (pods are left unmarked); record \
             SeccompProfile, or turn audit logs into SELinux and AppArmor profiles with `spoc record --from-audit`",
            spec.kind
        )
    });
    for (i, c) in spec.containers.iter().enumerate() {
        if let Err(e) = spo_model::objname::check_object_name(c) {
            problems.push(format!("spec.containers[{i}]: {e}"));
        }
    }
    let mut verdict = judged("ProfileRecording", object, &problems);
    verdict.warnings.extend(warning);
    verdict
}

/// The object's spec, or the refusal of an object without a readable one.
fn spec_of<T: serde::de::DeserializeOwned>(object: &Value) -> Result<T, Verdict> {
    match object.get("spec").cloned().map(serde_json::from_value) {
        Some(Ok(s)) => Ok(s),
        Some(Err(e)) => Err(Verdict::deny(format!("spec: {e}"))),
        None => Err(Verdict::deny("spec is missing")),
    }
}

/// Admit the object of `kind`, or refuse it with every problem, one a line.
fn judged(kind: &str, object: &Value, problems: &[String]) -> Verdict {
    if problems.is_empty() {
        return Verdict::allow();
    }
    let get = |k: &str| object.pointer(&format!("/metadata/{k}")).and_then(Value::as_str).unwrap_or_default();
    let who = match get("namespace") {
        "" => get("name").to_owned(),
        ns => format!("{ns}/{}", get("name")),
    };
    Verdict::deny(format!("{kind} {who} is invalid:\n{}", problems.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordings_must_be_recordable() {
        let rec = |spec: Value| json!({"metadata": {"name": "r", "namespace": "ns"}, "spec": spec});
        let ok =
            rec(json!({"kind": "SeccompProfile", "recorder": "Bpf", "podSelector": {"matchLabels": {"app": "x"}}}));
        assert_eq!(recording(&ok), Verdict::allow());
        let selinux = rec(json!({"kind": "SelinuxProfile", "recorder": "Logs", "podSelector": {}}));
        let v = recording(&selinux);
        assert_eq!(v.denied, None, "SPO's SELinux recordings are admitted");
        assert!(v.warnings[0].contains("not recorded in the cluster"), "{v:?}");
        let bad = rec(json!({"kind": "SelinuxProfile", "recorder": "Logs", "podSelector": {},
                             "containers": ["Bad_Name"]}));
        let message = recording(&bad).denied.expect("refused");
        assert!(message.starts_with("ProfileRecording ns/r is invalid:\n"), "{message}");
        assert!(message.contains("spec.containers[0]"), "spec.containers[0] missing from {message}");
    }

    fn seccomp(spec: Value) -> Value {
        json!({
            "apiVersion": "security-profiles-operator.x-k8s.io/v1",
            "kind": "SeccompProfile",
            "metadata": {"name": "web", "uid": "x", "resourceVersion": "1",
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": spec,
        })
    }

    #[test]
    fn rendered_yaml_keeps_what_the_user_wrote() {
        let text = user_yaml(&seccomp(json!({"defaultAction": "SCMP_ACT_ALLOW"})));
        assert_eq!(
            text,
            "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\nmetadata:\n  name: web\nspec:\n  defaultAction: SCMP_ACT_ALLOW\n"
        );
    }

    #[test]
    fn invalid_profile_is_denied_with_a_located_message() {
        let v = spo_validate::Validator::new(&spo_validate::Options::default());
        let obj = seccomp(json!({"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["exit", "exit_group", "mkdirr"]}]}));
        let verdict = profile(&v, "SeccompProfile", &obj);
        let msg = verdict.denied.expect("denied");
        assert!(msg.starts_with("seccompprofile/web is invalid (1 error(s), 0 warning(s))"), "{msg}");
        assert!(msg.contains("error: unknown syscall `mkdirr`"), "{msg}");
        assert!(msg.contains(" --> seccompprofile/web:"), "{msg}");
        assert!(msg.contains("^^^^^^"), "{msg}");
        assert!(msg.contains("help: did you mean `mkdir`?"), "{msg}");
        assert!(!msg.contains('\u{1b}'), "no colour: {msg}");
    }

    #[test]
    fn valid_profile_is_admitted_with_its_warnings() {
        let v = spo_validate::Validator::new(&spo_validate::Options::default());
        let obj = seccomp(json!({"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read"]}]}));
        let verdict = profile(&v, "SeccompProfile", &obj);
        assert_eq!(verdict.denied, None);
        assert!(verdict.warnings.iter().any(|w| w.starts_with("seccompprofile/web:") && w.contains("`exit`")));
        let ok = profile(&v, "SeccompProfile", &seccomp(json!({"defaultAction": "SCMP_ACT_ALLOW"})));
        assert_eq!(ok, Verdict::allow());
    }

    #[test]
    fn allowed_namespaces_is_accepted_by_every_kind() {
        let v = spo_validate::Validator::new(&spo_validate::Options::default());
        let allowed = json!(["infra", "monitoring"]);
        let mut obj = seccomp(json!({"defaultAction": "SCMP_ACT_ALLOW", "allowedNamespaces": allowed}));
        assert_eq!(profile(&v, "SeccompProfile", &obj).denied, None);
        obj["kind"] = json!("AppArmorProfile");
        obj["spec"] =
            json!({"abstract": {"filesystem": {"readOnlyPaths": ["/etc/hosts"]}}, "allowedNamespaces": allowed});
        assert_eq!(profile(&v, "AppArmorProfile", &obj).denied, None);
        obj["kind"] = json!("SelinuxProfile");
        obj["spec"] = json!({"inherit": [{"kind": "System", "name": "container"}], "allowedNamespaces": allowed});
        assert_eq!(profile(&v, "SelinuxProfile", &obj).denied, None);
        obj["kind"] = json!("RawSelinuxProfile");
        obj["spec"] = json!({"policy": "(blockinherit container)\n", "allowedNamespaces": allowed});
        assert_eq!(profile(&v, "RawSelinuxProfile", &obj).denied, None);
        obj["spec"]["allowedNamespace"] = json!(["x"]);
        let typo = profile(&v, "RawSelinuxProfile", &obj).denied.expect("unknown field");
        assert!(typo.contains("did you mean `allowedNamespaces`?"), "{typo}");
    }

    #[test]
    fn raw_selinux_errors_point_into_the_policy_block() {
        let v = spo_validate::Validator::new(&spo_validate::Options::default());
        let obj = json!({
            "apiVersion": "security-profiles-operator.x-k8s.io/v1",
            "kind": "RawSelinuxProfile",
            "metadata": {"name": "raw", "namespace": "prod"},
            "spec": {"policy": "(blockinherit container)\n(allow process var_log_t (file (opne)))\n"},
        });
        let msg = profile(&v, "RawSelinuxProfile", &obj).denied.expect("denied");
        assert!(msg.contains(" --> rawselinuxprofile/prod/raw:"), "{msg}");
        assert!(msg.contains("opne"), "{msg}");
    }
}
