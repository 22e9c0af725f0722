//! SPO's versions before `v1`, served beside it so manifests written for
//! them keep applying: `v1beta1` of SeccompProfile, `v1alpha2` of the two
//! SELinux kinds, `v1alpha1` of the rest.
//!
//! They differ from `v1` in a few fields, so the API server converts
//! through the operator's `/convert` webhook (as SPO v1.0 does; storage is
//! `v1`, so reading `v1` never needs the webhook):
//!
//! | kind | old | v1 |
//! | --- | --- | --- |
//! | profiles | `spec.disabled: true` | `spec.state: Disabled` |
//! | AppArmorProfile | `spec.complainMode: true` | `spec.mode: Complain` |
//! | ProfileRecording | `recorder: bpf`/`logs`, `mergeStrategy: none`/`containers` | `Bpf`/`Logs`, `None`/`Containers` |
//!
//! The v1 enums are not widened: an old value reaches the server only
//! through the old version, and is converted there.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition, ServiceReference, WebhookClientConfig, WebhookConversion,
};
use serde_json::{json, Value};

use super::GROUP;

/// Namespace and name of the Service in front of the operator's webhooks.
pub const WEBHOOK_SERVICE: (&str, &str) = ("security-profiles-operator", "spo-webhook");

/// Path of the conversion webhook.
pub const CONVERT_PATH: &str = "/convert";

/// Serve `legacy` beside the stored version, with its own schema, through
/// the conversion webhook.
pub(crate) fn with_legacy_version(mut crd: CustomResourceDefinition, legacy: &str) -> CustomResourceDefinition {
    let kind = crd.spec.names.kind.clone();
    let Some(stored) = crd.spec.versions.iter().find(|v| v.storage).cloned() else {
        return crd;
    };
    let mut old = stored.clone();
    old.name = legacy.to_owned();
    old.storage = false;
    old.served = true;
    old.deprecated = Some(true);
    old.deprecation_warning = Some(format!("{GROUP}/{legacy} {kind} is deprecated; use {GROUP}/{}", stored.name));
    if let Some(schema) = old.schema.as_mut().and_then(|s| s.open_api_v3_schema.take()) {
        let mut v = serde_json::to_value(schema).unwrap_or(Value::Null);
        legacy_schema(&kind, &mut v);
        if let Some(s) = old.schema.as_mut() {
            s.open_api_v3_schema = serde_json::from_value(v).ok();
        }
    }
    crd.spec.versions.push(old);
    crd.spec.conversion = Some(CustomResourceConversion {
        strategy: "Webhook".into(),
        webhook: Some(WebhookConversion {
            conversion_review_versions: vec!["v1".into()],
            client_config: Some(WebhookClientConfig {
                service: Some(ServiceReference {
                    namespace: WEBHOOK_SERVICE.0.into(),
                    name: WEBHOOK_SERVICE.1.into(),
                    path: Some(CONVERT_PATH.into()),
                    port: Some(443),
                }),
                ..Default::default()
            }),
        }),
    });
    crd
}

/// The old version's schema from v1's.
fn legacy_schema(kind: &str, schema: &mut Value) {
    let spec = &mut schema["properties"]["spec"];
    if kind == "ProfileRecording" {
        spec["properties"]["recorder"]["enum"] = json!(["bpf", "logs"]);
        spec["properties"]["mergeStrategy"]["enum"] = json!(["none", "containers"]);
        spec["properties"]["mergeStrategy"]["default"] = json!("none");
        for rule in spec["x-kubernetes-validations"].as_array_mut().into_iter().flatten() {
            let r = rule["rule"].as_str().unwrap_or_default().replace("'Logs'", "'logs'").replace("'Bpf'", "'bpf'");
            rule["rule"] = json!(r);
        }
        return;
    }
    if let Some(props) = spec["properties"].as_object_mut() {
        if props.remove("state").is_some() {
            props.insert(
                "disabled".into(),
                json!({"type": "boolean", "default": false, "description": "Keep the object but install nothing."}),
            );
        }
        if kind == "AppArmorProfile" {
            props.insert(
                "complainMode".into(),
                json!({"type": "boolean", "description": "Load the profile in complain mode."}),
            );
        }
    }
}

/// Convert one object to `to` (`GROUP/VERSION`), as the conversion webhook
/// answers. Objects already at `to` are returned unchanged.
pub fn convert(object: &Value, to: &str) -> Result<Value, String> {
    let kind = object["kind"].as_str().ok_or("the object has no kind")?;
    let from = object["apiVersion"].as_str().ok_or("the object has no apiVersion")?;
    let mut out = object.clone();
    if from == to {
        return Ok(out);
    }
    let version = |api: &str| api.strip_prefix(&format!("{GROUP}/")).map(str::to_owned);
    let (Some(_), Some(to_version)) = (version(from), version(to)) else {
        return Err(format!("cannot convert {from} to {to}: not this API group"));
    };
    let to_v1 = to_version == "v1";
    let spec = &mut out["spec"];
    if spec.is_object() {
        match kind {
            "ProfileRecording" => {
                for (field, names) in [
                    ("recorder", [("bpf", "Bpf"), ("logs", "Logs")]),
                    ("mergeStrategy", [("none", "None"), ("containers", "Containers")]),
                ] {
                    if let Some(v) = spec[field].as_str() {
                        let mapped = names.iter().find_map(|(old, new)| {
                            if to_v1 {
                                (v == *old).then_some(*new)
                            } else {
                                (v == *new).then_some(*old)
                            }
                        });
                        if let Some(m) = mapped {
                            spec[field] = json!(m);
                        }
                    }
                }
            }
            "SeccompProfile" | "SelinuxProfile" | "RawSelinuxProfile" | "AppArmorProfile" => {
                let map = spec.as_object_mut().ok_or("spec is not an object")?;
                if to_v1 {
                    if let Some(d) = map.remove("disabled") {
                        map.insert("state".into(), json!(if d == json!(true) { "Disabled" } else { "Enabled" }));
                    }
                    if kind == "AppArmorProfile" {
                        if let Some(c) = map.remove("complainMode") {
                            if c == json!(true) {
                                map.insert("mode".into(), json!("Complain"));
                            }
                        }
                    }
                } else if let Some(s) = map.remove("state") {
                    map.insert("disabled".into(), json!(s == json!("Disabled")));
                }
            }
            _ => {}
        }
    }
    out["apiVersion"] = json!(to);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_recording_values_become_v1_and_back() {
        let old = json!({"apiVersion": format!("{GROUP}/v1alpha1"), "kind": "ProfileRecording",
            "metadata": {"name": "r"}, "spec": {"kind": "SeccompProfile", "recorder": "logs", "mergeStrategy": "containers", "podSelector": {}}});
        let v1 = convert(&old, &format!("{GROUP}/v1")).unwrap();
        assert_eq!(v1["spec"]["recorder"], "Logs");
        assert_eq!(v1["spec"]["mergeStrategy"], "Containers");
        assert_eq!(v1["apiVersion"], format!("{GROUP}/v1"));
        assert_eq!(convert(&v1, &format!("{GROUP}/v1alpha1")).unwrap(), old);
    }

    #[test]
    fn disabled_becomes_state_and_complain_mode_becomes_mode() {
        let old = json!({"apiVersion": format!("{GROUP}/v1alpha1"), "kind": "AppArmorProfile",
            "metadata": {"name": "a"}, "spec": {"disabled": true, "complainMode": true}});
        let v1 = convert(&old, &format!("{GROUP}/v1")).unwrap();
        assert_eq!(v1["spec"], json!({"state": "Disabled", "mode": "Complain"}));
        let seccomp = json!({"apiVersion": format!("{GROUP}/v1"), "kind": "SeccompProfile",
            "metadata": {"name": "s"}, "spec": {"defaultAction": "SCMP_ACT_LOG", "state": "Enabled"}});
        let back = convert(&seccomp, &format!("{GROUP}/v1beta1")).unwrap();
        assert_eq!(back["spec"]["disabled"], false);
        assert!(back["spec"].get("state").is_none());
    }

    #[test]
    fn other_groups_are_refused() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "spec": {}});
        assert!(convert(&pod, &format!("{GROUP}/v1")).is_err());
    }
}
