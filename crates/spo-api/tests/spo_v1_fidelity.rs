//! Our CRDs against SPO v1's, field for field.
//!
//! SPO's CRDs (`e2e/tests/fixtures/spo-v1/crds/`, copied from SPO's
//! repository with their provenance in `PROVENANCE.md` beside them) are the
//! contract: every SPO manifest must apply to ours unchanged. So for every
//! kind: the same scope, names, short names and categories, at least SPO's
//! printer columns, `v1` stored; and for every field of SPO's schema the
//! same field in ours with the same type, format, enum values, default,
//! bounds, pattern, list type and requiredness. Ours may add fields and
//! values only where [`EXTENSIONS`] names them: those are spo-rs's
//! documented extensions, optional, and no SPO manifest needs them.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// `(kind, path)` where ours differs from SPO on purpose, and why. A path
/// names a field (`.spec.allowedNamespaces`) or one aspect of it
/// (`.spec.architectures[] enum`).
const EXTENSIONS: &[(&str, &str, &str)] = &[
    // Namespace policy: which namespaces' pods may use a cluster-wide profile.
    ("SeccompProfile", ".spec.allowedNamespaces", "namespace policy"),
    ("SelinuxProfile", ".spec.allowedNamespaces", "namespace policy"),
    ("RawSelinuxProfile", ".spec.allowedNamespaces", "namespace policy"),
    ("AppArmorProfile", ".spec.allowedNamespaces", "namespace policy"),
    // runc and crun honour a default errno; SPO drops it.
    ("SeccompProfile", ".spec.defaultErrnoRet", "runtime field SPO drops"),
    // Values libseccomp and the kernel have and SPO's enums lack.
    ("SeccompProfile", ".spec.architectures[] enum", "SCMP_ARCH_LOONGARCH64"),
    ("SeccompProfile", ".spec.flags[] enum", "SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_FILTER_FLAG_TSYNC_ESRCH"),
    // The pinned version of a profile on every node.
    ("SeccompProfile", ".status.pinnedProfile", "versioned rollouts"),
    ("AppArmorProfile", ".status.localhostProfile", "what a pod names"),
    // Raw AppArmor text, and complain mode in the object.
    ("AppArmorProfile", ".spec.policy", "raw profile text"),
    // Recording results reported by the nodes.
    ("ProfileRecording", ".status.recorded", "per-container results"),
    // The node status names its profile and the installed content.
    ("SecurityProfileNodeStatus", ".spec.profileKind", "names the profile"),
    ("SecurityProfileNodeStatus", ".spec.profileName", "names the profile"),
    ("SecurityProfileNodeStatus", ".status.contentDigest", "installed content"),
    ("SecurityProfileNodeStatus", ".spec required", "ours names the profile, always written by spod"),
    ("SecurityProfilesOperatorDaemon", ".spec default", "spec defaults to {}"),
    ("SecurityProfileNodeStatus", ". cel", "the whole spec is immutable, not only nodeName"),
    // SPO's spec is optional here; ours defaults to `{}` so typed readers always see one.
    ("SelinuxProfile", ".spec default", "spec defaults to {}"),
    ("RawSelinuxProfile", ".spec default", "spec defaults to {}"),
    ("AppArmorProfile", ".spec default", "spec defaults to {}"),
    // The seccomp fields of the shared status, unused for AppArmor.
    ("AppArmorProfile", ".status.path", "shared status type; written for seccomp only"),
    ("AppArmorProfile", ".status.pinnedProfile", "shared status type; written for seccomp only"),
    ("SecurityProfileNodeStatus", "subresources", "status is a plain field (one write per report)"),
];

fn extension(kind: &str, path: &str) -> bool {
    EXTENSIONS.iter().any(|(k, p, _)| {
        *k == kind
            && (*p == path
                || path.starts_with(&format!("{p}."))
                || path.starts_with(&format!("{p}["))
                || path.starts_with(&format!("{p}{{")))
    })
}

fn yaml_to_json(y: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(r) => r.parse::<f64>().map(Value::from).unwrap_or(Value::Null),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::from(s.clone()),
        Yaml::Boolean(b) => Value::from(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| (k.as_str().map(str::to_owned).unwrap_or_else(|| format!("{k:?}")), yaml_to_json(v)))
                .collect(),
        ),
        _ => Value::Null,
    }
}

fn spo_crds() -> BTreeMap<String, Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e/tests/fixtures/spo-v1/crds");
    let mut out = BTreeMap::new();
    for f in spo_test_support::fixtures(&dir, ".yaml") {
        let text = std::fs::read_to_string(&f).unwrap();
        let doc = yaml_to_json(&yaml_rust2::YamlLoader::load_from_str(&text).unwrap()[0]);
        out.insert(doc["spec"]["names"]["kind"].as_str().unwrap().to_owned(), doc);
    }
    assert_eq!(out.len(), 8, "SPO has eight CRDs");
    out
}

fn ours() -> BTreeMap<String, Value> {
    spo_api::all_crds().into_iter().map(|c| (c.spec.names.kind.clone(), serde_json::to_value(&c).unwrap())).collect()
}

fn set(v: &Value) -> Vec<String> {
    let mut s: Vec<String> = v.as_array().map(|a| a.iter().map(|x| x.to_string()).collect()).unwrap_or_default();
    s.sort();
    s
}

/// Compare SPO's schema node `spo` at `path` with ours.
fn compare(kind: &str, path: &str, spo: &Value, our: &Value, diffs: &mut Vec<String>) {
    let mut differ = |aspect: &str, detail: String| {
        let at = format!("{} {aspect}", if path.is_empty() { "." } else { path });
        if !extension(kind, &at) {
            diffs.push(format!("{kind} {at}: {detail}"));
        }
    };
    for key in [
        "type",
        "format",
        "default",
        "maxLength",
        "minLength",
        "maximum",
        "minimum",
        "maxItems",
        "minItems",
        "maxProperties",
        "pattern",
        "x-kubernetes-list-type",
        "x-kubernetes-map-type",
        "x-kubernetes-int-or-string",
        "x-kubernetes-preserve-unknown-fields",
    ] {
        let num = |v: Option<&Value>| v.map(|v| v.as_f64().map(Value::from).unwrap_or_else(|| v.clone()));
        if num(spo.get(key)) != num(our.get(key)) {
            differ(key, format!("SPO {:?}, ours {:?}", spo.get(key), our.get(key)));
        }
    }
    if spo.get("enum").is_some() || our.get("enum").is_some() {
        let (a, b) = (set(&spo["enum"]), set(&our["enum"]));
        if a != b {
            differ("enum", format!("SPO {a:?}, ours {b:?}"));
        }
    }
    let (a, b) = (set(&spo["required"]), set(&our["required"]));
    if a != b {
        differ("required", format!("SPO {a:?}, ours {b:?}"));
    }
    let rules = |v: &Value| {
        let mut r: Vec<String> = v["x-kubernetes-validations"]
            .as_array()
            .map(|a| a.iter().map(|r| r["rule"].as_str().unwrap_or_default().to_owned()).collect())
            .unwrap_or_default();
        r.sort();
        r
    };
    if rules(spo) != rules(our) {
        differ("cel", format!("SPO {:?}, ours {:?}", rules(spo), rules(our)));
    }
    if our.get("nullable").is_some() && spo.get("nullable").is_none() {
        differ("nullable", "ours is nullable".into());
    }
    let empty = serde_json::Map::new();
    let sp = spo["properties"].as_object().unwrap_or(&empty);
    let op = our["properties"].as_object().unwrap_or(&empty);
    for (name, s) in sp {
        let p = format!("{path}.{name}");
        match op.get(name) {
            Some(o) => compare(kind, &p, s, o, diffs),
            None => {
                if !extension(kind, &p) {
                    diffs.push(format!("{kind} {p}: missing in ours"));
                }
            }
        }
    }
    for name in op.keys().filter(|n| !sp.contains_key(*n)) {
        let p = format!("{path}.{name}");
        if !extension(kind, &p) {
            diffs.push(format!("{kind} {p}: only in ours"));
        }
    }
    if spo.get("items").is_some() || our.get("items").is_some() {
        compare(kind, &format!("{path}[]"), &spo["items"], &our["items"], diffs);
    }
    if spo.get("additionalProperties").is_some() || our.get("additionalProperties").is_some() {
        compare(kind, &format!("{path}{{}}"), &spo["additionalProperties"], &our["additionalProperties"], diffs);
    }
}

/// Sub-schemas SPO takes whole from Kubernetes (affinity, tolerations,
/// resources, label selectors, conditions): compared by presence only, so
/// a newer API version's description or field cannot fail the test.
fn strip_k8s(v: &mut Value) {
    if let Some(props) = v.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, p) in props.iter_mut() {
            if matches!(
                name.as_str(),
                "affinity"
                    | "tolerations"
                    | "daemonResourceRequirements"
                    | "conditions"
                    | "imagePullSecrets"
                    | "namespaceSelector"
                    | "objectSelector"
                    | "podSelector"
                    | "publicKeySecretRef"
                    | "trustedRootConfigMapRef"
                    | "metadata"
            ) {
                let keep_rules = p.get("x-kubernetes-validations").cloned();
                *p = serde_json::json!({ "type": p.get("type").cloned().unwrap_or(Value::Null) });
                if let Some(r) = keep_rules {
                    p["x-kubernetes-validations"] = r;
                }
            } else {
                strip_k8s(p);
            }
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(x) = v.get_mut(key) {
            strip_k8s(x);
        }
    }
}

#[test]
fn every_spo_v1_field_is_ours_with_the_same_schema() {
    let spo = spo_crds();
    let ours = ours();
    let mut diffs = Vec::new();
    for (kind, s) in &spo {
        let Some(o) = ours.get(kind) else {
            diffs.push(format!("{kind}: no such CRD in ours"));
            continue;
        };
        for key in ["group", "scope"] {
            if s["spec"][key] != o["spec"][key] {
                diffs.push(format!("{kind} {key}: SPO {}, ours {}", s["spec"][key], o["spec"][key]));
            }
        }
        for key in ["plural", "singular", "shortNames", "categories", "listKind"] {
            if s["spec"]["names"][key] != o["spec"]["names"][key] {
                diffs.push(format!(
                    "{kind} names.{key}: SPO {}, ours {}",
                    s["spec"]["names"][key], o["spec"]["names"][key]
                ));
            }
        }
        let sv = &s["spec"]["versions"][0];
        let Some(ov) = o["spec"]["versions"].as_array().unwrap().iter().find(|v| v["name"] == "v1") else {
            diffs.push(format!("{kind}: ours serves no v1"));
            continue;
        };
        if ov["storage"] != true {
            diffs.push(format!("{kind}: ours does not store v1"));
        }
        for col in sv["additionalPrinterColumns"].as_array().into_iter().flatten() {
            let same = ov["additionalPrinterColumns"].as_array().into_iter().flatten().any(|c| {
                c["name"] == col["name"]
                    && c["jsonPath"] == col["jsonPath"]
                    && c["type"] == col["type"]
                    && c.get("priority") == col.get("priority")
            });
            if !same {
                diffs.push(format!("{kind} printer column {} ({}): missing in ours", col["name"], col["jsonPath"]));
            }
        }
        if sv["subresources"] != ov["subresources"] && !extension(kind, "subresources") {
            diffs.push(format!("{kind} subresources: SPO {}, ours {}", sv["subresources"], ov["subresources"]));
        }
        let mut ss = sv["schema"]["openAPIV3Schema"].clone();
        let mut os = ov["schema"]["openAPIV3Schema"].clone();
        strip_k8s(&mut ss);
        strip_k8s(&mut os);
        compare(kind, "", &ss, &os, &mut diffs);
    }
    assert!(diffs.is_empty(), "{} differences from SPO v1:\n{}", diffs.len(), diffs.join("\n"));
}

#[test]
fn the_comparison_sees_a_difference() {
    // The check above must be able to fail: a changed enum, a missing
    // field and an added field are each reported.
    let spo = serde_json::json!({"type": "object", "properties": {"a": {"type": "string", "enum": ["X", "Y"]}, "b": {"type": "integer"}}});
    let ours = serde_json::json!({"type": "object", "properties": {"a": {"type": "string", "enum": ["x", "y"]}, "c": {"type": "integer"}}});
    let mut diffs = Vec::new();
    compare("Test", "", &spo, &ours, &mut diffs);
    assert_eq!(diffs.len(), 3, "{diffs:#?}");
}
