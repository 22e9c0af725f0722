//! Applying manifest files to the cluster, as `kubectl apply --server-side`
//! would: any kind, found through API discovery, written with server-side
//! apply so re-applying is idempotent.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::E2eError;

/// The field manager name of everything the harness applies.
pub const FIELD_MANAGER: &str = "spo-e2e";

/// Every document of a YAML file, as JSON values (empty documents skipped).
pub fn load(path: &Path) -> Result<Vec<Value>, E2eError> {
    let text = std::fs::read_to_string(path).map_err(E2eError::io(path))?;
    parse(&text).map_err(|reason| E2eError::Manifest { path: path.to_owned(), reason })
}

/// Every `*.yaml` file of a directory, sorted by name.
pub fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, E2eError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(E2eError::io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Parse a YAML stream into JSON values.
pub fn parse(text: &str) -> Result<Vec<Value>, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    docs.into_iter().filter(|d| !d.is_null()).map(to_json).collect()
}

fn to_json(y: Yaml) -> Result<Value, String> {
    Ok(match y {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::from(i),
        Yaml::Real(r) => r.parse::<f64>().map(Value::from).map_err(|e| format!("number {r}: {e}"))?,
        Yaml::String(s) => Value::String(s),
        Yaml::Array(items) => Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Hash(h) => {
            let mut map = serde_json::Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s,
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => return Err(format!("unsupported mapping key {other:?}")),
                };
                map.insert(key, to_json(v)?);
            }
            Value::Object(map)
        }
        other => return Err(format!("unsupported YAML value {other:?}")),
    })
}

/// Server-side apply one object of any kind.
pub async fn apply(client: &kube::Client, object: &Value) -> Result<DynamicObject, E2eError> {
    apply_with(client, object, PatchParams::apply(FIELD_MANAGER).force()).await
}

/// [`apply`] with strict field validation, as `kubectl apply
/// --server-side --field-validation=Strict` does: an unknown or duplicate
/// field is refused rather than dropped.
pub async fn apply_strict(client: &kube::Client, object: &Value) -> Result<DynamicObject, E2eError> {
    let params = PatchParams::apply(FIELD_MANAGER).force().validation(kube::api::ValidationDirective::Strict);
    apply_with(client, object, params).await
}

async fn apply_with(client: &kube::Client, object: &Value, params: PatchParams) -> Result<DynamicObject, E2eError> {
    let obj: DynamicObject = serde_json::from_value(object.clone())
        .map_err(|e| E2eError::Manifest { path: PathBuf::from("<object>"), reason: e.to_string() })?;
    let types = obj.types.clone().ok_or_else(|| E2eError::Manifest {
        path: PathBuf::from("<object>"),
        reason: "no apiVersion or kind".into(),
    })?;
    let name = obj.metadata.name.clone().unwrap_or_default();
    let gvk = GroupVersionKind::try_from(&types)
        .map_err(|e| E2eError::Manifest { path: PathBuf::from("<object>"), reason: e.to_string() })?;
    let ctx = |what: &str| format!("{what} {} {name}", gvk.kind);
    // A CRD's kinds reach discovery a moment after it is Established.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (resource, caps) = loop {
        match kube::discovery::pinned_kind(client, &gvk).await {
            Ok(found) => break found,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(source) => return Err(E2eError::Kube { context: ctx("discovering"), source }),
        }
    };
    let api: Api<DynamicObject> = match (&caps.scope, obj.metadata.namespace.as_deref()) {
        (kube::discovery::Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resource),
        (kube::discovery::Scope::Namespaced, None) => Api::default_namespaced_with(client.clone(), &resource),
        (kube::discovery::Scope::Cluster, _) => Api::all_with(client.clone(), &resource),
    };
    api.patch(&name, &params, &Patch::Apply(object))
        .await
        .map_err(|source| E2eError::Kube { context: ctx("applying"), source })
}

/// Create (or update) namespace `name` with each of `labels` set to
/// `true` (`spo.x-k8s.io/enable-binding`, ...).
pub async fn create_namespace(client: &kube::Client, name: &str, labels: &[&str]) -> Result<(), E2eError> {
    let labels: serde_json::Map<String, Value> =
        labels.iter().map(|l| ((*l).to_owned(), Value::from("true"))).collect();
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}});
    apply(client, &ns).await.map(|_| ())
}

/// Wait until every named CRD reports `Established=True`.
pub async fn wait_established(client: &kube::Client, names: &[String], timeout: Duration) -> Result<(), E2eError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let deadline = Instant::now() + timeout;
    for name in names {
        loop {
            let crd = api
                .get(name)
                .await
                .map_err(|source| E2eError::Kube { context: format!("reading CRD {name}"), source })?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                break;
            }
            if Instant::now() >= deadline {
                return Err(E2eError::Timeout { what: format!("CRD {name} Established"), seconds: timeout.as_secs() });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// A one-container pod (container `c`) running `script` under
/// `/bin/sh -c` from a local image (never pulled), stopped within a
/// second: the pod every e2e test starts. `metadata` is the pod's (name,
/// labels); `security_context` the container's, if any.
pub fn script_pod(
    metadata: Value,
    image: &str,
    script: &str,
    security_context: Option<Value>,
) -> k8s_openapi::api::core::v1::Pod {
    let mut container = serde_json::json!({
        "name": "c", "image": image, "imagePullPolicy": "Never",
        "command": ["/bin/sh", "-c", script],
    });
    if let Some(sc) = security_context {
        container["securityContext"] = sc;
    }
    let pod = serde_json::json!({
        "metadata": metadata,
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [container]},
    });
    serde_json::from_value(pod).expect("a pod of known fields")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_yaml_becomes_json() {
        let docs = parse("a: 1\nb: [x, 2.5, true]\n---\n---\nc: {d: null, 3: e}\n").expect("valid");
        assert_eq!(
            docs,
            vec![serde_json::json!({"a": 1, "b": ["x", 2.5, true]}), serde_json::json!({"c": {"d": null, "3": "e"}})]
        );
        assert!(parse("a: [").is_err());
    }

    #[test]
    fn committed_crds_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/crds");
        let files = yaml_files(&dir).expect("deploy/crds");
        assert!(files.len() >= 7);
        for f in files {
            let docs = load(&f).expect("CRD file");
            let crd: CustomResourceDefinition = serde_json::from_value(docs[0].clone()).expect("a CRD");
            assert!(crd.spec.versions.iter().any(|v| v.storage));
        }
    }
}
