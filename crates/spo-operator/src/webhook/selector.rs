//! Label selectors (`ProfileBinding.spec.podSelector`) evaluated against a
//! pod's labels, with the API server's semantics: every `matchLabels`
//! entry and every `matchExpressions` requirement must hold, and an empty
//! selector selects everything.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

/// Operators a requirement may use.
pub const OPERATORS: &[&str] = &["In", "NotIn", "Exists", "DoesNotExist"];

/// Whether `labels` satisfy `selector`. An unknown operator matches
/// nothing (the webhook refuses bindings that use one).
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_labels = selector.match_labels.iter().flatten().all(|(k, v)| labels.get(k).is_some_and(|have| have == v));
    by_labels && selector.match_expressions.iter().flatten().all(|r| requirement(r, labels))
}

fn requirement(r: &LabelSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let value = labels.get(&r.key);
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => false,
    }
}

/// What is wrong with a selector the API server's schema lets through
/// (it checks shapes, not operators or value counts).
pub fn problems(selector: &LabelSelector) -> Vec<String> {
    let mut out = Vec::new();
    for (i, r) in selector.match_expressions.iter().flatten().enumerate() {
        let n = r.values.as_ref().map_or(0, Vec::len);
        let at = format!("spec.podSelector.matchExpressions[{i}]");
        match r.operator.as_str() {
            "In" | "NotIn" if n == 0 => out.push(format!("{at}: operator {} needs at least one value", r.operator)),
            "Exists" | "DoesNotExist" if n > 0 => out.push(format!("{at}: operator {} takes no values", r.operator)),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => {
                let hint = spo_model::suggest::did_you_mean(other, OPERATORS.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                out.push(format!("{at}: unknown operator `{other}`{hint}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn selector(json: serde_json::Value) -> LabelSelector {
        serde_json::from_value(json).expect("selector")
    }

    #[test]
    fn match_labels_and_expressions_must_all_hold() {
        let s = selector(serde_json::json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "debug", "operator": "DoesNotExist"},
                {"key": "track", "operator": "NotIn", "values": ["canary"]},
            ],
        }));
        assert!(matches(&s, &labels(&[("app", "web"), ("tier", "edge")])));
        assert!(matches(&s, &labels(&[("app", "web"), ("tier", "front"), ("track", "stable")])));
        assert!(!matches(&s, &labels(&[("app", "web"), ("tier", "back")])));
        assert!(!matches(&s, &labels(&[("app", "api"), ("tier", "front")])));
        assert!(!matches(&s, &labels(&[("app", "web"), ("tier", "front"), ("debug", "1")])));
        assert!(!matches(&s, &labels(&[("app", "web"), ("tier", "front"), ("track", "canary")])));
    }

    #[test]
    fn empty_selector_selects_everything() {
        assert!(matches(&LabelSelector::default(), &labels(&[])));
        let exists = selector(serde_json::json!({"matchExpressions": [{"key": "a", "operator": "Exists"}]}));
        assert!(matches(&exists, &labels(&[("a", "")])));
        assert!(!matches(&exists, &labels(&[])));
    }

    #[test]
    fn bad_operators_are_reported_with_a_suggestion() {
        let s = selector(serde_json::json!({"matchExpressions": [
            {"key": "a", "operator": "Exist"},
            {"key": "b", "operator": "In"},
        ]}));
        assert!(!matches(&s, &labels(&[("a", "1"), ("b", "1")])));
        let p = problems(&s);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("unknown operator `Exist` (did you mean `Exists`?)"), "{p:?}");
        assert!(p[1].contains("matchExpressions[1]: operator In needs at least one value"), "{p:?}");
    }
}
