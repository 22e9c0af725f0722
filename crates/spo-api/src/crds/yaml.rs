//! YAML text of a CRD, through `serde_json::Value` (sorted keys, so the
//! output is stable and the snapshot test can compare files byte for byte).

use serde::Serialize;
use yaml_rust2::yaml::{Hash, Yaml};
use yaml_rust2::YamlEmitter;

/// One YAML document, without the leading `---`, ending in a newline.
pub fn to_yaml<T: Serialize>(value: &T) -> String {
    // Serialising k8s-openapi types to a JSON value has no failure mode:
    // every map key is a string.
    let json = serde_json::to_value(value).expect("a Kubernetes object serialises to JSON");
    let mut out = String::new();
    let mut emitter = YamlEmitter::new(&mut out);
    emitter.multiline_strings(true);
    emitter.dump(&from_json(json)).expect("writing YAML to a String cannot fail");
    let body = out.strip_prefix("---\n").unwrap_or(&out);
    format!("{body}\n")
}

fn from_json(value: serde_json::Value) -> Yaml {
    use serde_json::Value;
    match value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(b),
        // k8s-openapi holds `minimum` and `maximum` as f64; an integral
        // bound reads better, and means the same, written as an integer.
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Yaml::Integer(i),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Yaml::Integer(f as i64),
            _ => Yaml::Real(n.to_string()),
        },
        Value::String(s) => Yaml::String(s),
        Value::Array(items) => Yaml::Array(items.into_iter().map(from_json).collect()),
        Value::Object(map) => {
            let mut hash = Hash::new();
            for (k, v) in map {
                hash.insert(Yaml::String(k), from_json(v));
            }
            Yaml::Hash(hash)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_round_trip_through_the_yaml_parser() {
        let value = serde_json::json!({
            "b": [1, "two", true, null, {"c": "multi\nline"}],
            "a": {"x": -3, "y": 0.5, "z": "yes", "w": 65535.0},
        });
        let text = to_yaml(&value);
        assert!(!text.starts_with("---"));
        assert!(text.ends_with('\n'));
        let parsed = yaml_rust2::YamlLoader::load_from_str(&text).expect("valid YAML");
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0]["b"][1].as_str(), Some("two"));
        assert_eq!(parsed[0]["b"][4]["c"].as_str(), Some("multi\nline"));
        assert_eq!(parsed[0]["a"]["x"].as_i64(), Some(-3));
        assert_eq!(parsed[0]["a"]["y"].as_f64(), Some(0.5));
        assert_eq!(parsed[0]["a"]["w"].as_i64(), Some(65535));
        // A string that looks like a boolean stays a string.
        assert_eq!(parsed[0]["a"]["z"].as_str(), Some("yes"));
        // Keys come out sorted.
        assert!(text.find("a:").unwrap() < text.find("b:").unwrap());
    }
}
