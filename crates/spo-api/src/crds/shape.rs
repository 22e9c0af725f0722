//! What the derived schemas need to be SPO v1's, applied after generation:
//! SPO's names (`categories: [spo]`, `listKind`), the root fields every
//! CRD of controller-gen declares, no `nullable` (SPO never has it, and an
//! absent field already means "unset"), and SPO's CEL rules, placed by
//! schema path (kube-derive's own CEL support needs the whole `kube`
//! crate, which this crate does not link).
//!
//! `tests/spo_v1_fidelity.rs` compares the result with SPO's CRDs field by
//! field; this module is what makes that comparison pass.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{json, Value};

/// A CEL rule at a schema path: `""` is the root, `.spec.podSelector` a
/// field, `[]` the items of an array, `{}` the values of a map.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cel {
    pub path: &'static str,
    pub rule: &'static str,
    pub message: &'static str,
    /// Judge only new objects (`oldSelf.hasValue() || ...`), so an object
    /// stored before the rule existed can still be updated.
    pub optional_old_self: bool,
}

impl Cel {
    pub(crate) const fn new(path: &'static str, rule: &'static str, message: &'static str) -> Cel {
        Cel { path, rule, message, optional_old_self: false }
    }

    pub(crate) const fn new_objects_only(path: &'static str, rule: &'static str, message: &'static str) -> Cel {
        Cel { path, rule, message, optional_old_self: true }
    }
}

/// SPO's rule on label selectors.
pub(crate) const SELECTOR_RULE: &str = "!has(self.matchExpressions) || self.matchExpressions.all(e, has(e.values) && size(e.values) > 0 ? (e.operator == 'In' || e.operator == 'NotIn') : (e.operator == 'Exists' || e.operator == 'DoesNotExist'))";
/// Its message.
pub(crate) const SELECTOR_MESSAGE: &str = "matchExpressions operator must be In, NotIn, Exists or DoesNotExist, In and NotIn require values, Exists and DoesNotExist must not have values";
/// SPO's rule on the names of SELinux profiles: they become CIL blocks.
pub(crate) const SELINUX_NAME_RULE: &str = "oldSelf.hasValue() || self.metadata.name.matches('^[a-z][-a-z0-9]*$')";
/// Its message.
pub(crate) const SELINUX_NAME_MESSAGE: &str =
    "name must start with a letter and may only contain lowercase alphanumeric characters and '-'";

/// SPO's shape for `crd`, with `rules` added; `spec_optional` for the kinds
/// whose `spec` SPO does not require (it then defaults to `{}`, so every
/// reader sees one).
pub(crate) fn spo_shape(crd: CustomResourceDefinition, rules: &[Cel], spec_optional: bool) -> CustomResourceDefinition {
    let mut v = serde_json::to_value(&crd).unwrap_or(Value::Null);
    let kind = v["spec"]["names"]["kind"].as_str().unwrap_or_default().to_owned();
    v["spec"]["names"]["categories"] = json!(["spo"]);
    v["spec"]["names"]["listKind"] = json!(format!("{kind}List"));
    if let Some(versions) = v["spec"]["versions"].as_array_mut() {
        for version in versions {
            let schema = &mut version["schema"]["openAPIV3Schema"];
            drop_nullable(schema);
            let props = &mut schema["properties"];
            props["apiVersion"] = json!({
                "type": "string",
                "description": "APIVersion defines the versioned schema of this representation of an object.",
            });
            props["kind"] = json!({
                "type": "string",
                "description": "Kind is a string value representing the REST resource this object represents.",
            });
            props["metadata"] = json!({ "type": "object" });
            if spec_optional {
                if let Some(req) = schema["required"].as_array_mut() {
                    req.retain(|r| r != "spec");
                    if req.is_empty() {
                        schema.as_object_mut().map(|o| o.remove("required"));
                    }
                }
                schema["properties"]["spec"]["default"] = json!({});
            }
            for r in rules {
                if let Some(at) = at_path(schema, r.path) {
                    let mut rule = json!({ "rule": r.rule, "message": r.message });
                    if r.optional_old_self {
                        rule["optionalOldSelf"] = json!(true);
                    }
                    match at["x-kubernetes-validations"].as_array_mut() {
                        Some(list) => list.push(rule),
                        None => at["x-kubernetes-validations"] = json!([rule]),
                    }
                }
            }
        }
    }
    serde_json::from_value(v).unwrap_or(crd)
}

fn drop_nullable(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("nullable");
            for (_, x) in m.iter_mut() {
                drop_nullable(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nullable),
        _ => {}
    }
}

/// The sub-schema at `path`, if the schema has it.
fn at_path<'a>(mut v: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("[]") {
            v = v.get_mut("items")?;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("{}") {
            v = v.get_mut("additionalProperties")?;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[', '{']).unwrap_or(r.len());
            v = v.get_mut("properties")?.get_mut(&r[..end])?;
            rest = &r[end..];
        } else {
            return None;
        }
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_reach_fields_items_and_map_values() {
        let mut s = json!({"properties": {"spec": {"properties": {"allow": {"additionalProperties": {"items": {"type": "string"}}}}}}});
        assert_eq!(at_path(&mut s, ".spec.allow{}[]").map(|v| v["type"].clone()), Some(json!("string")));
        assert!(at_path(&mut s, ".spec.nope").is_none());
        assert!(at_path(&mut s, "").is_some());
    }
}
