//! `/convert`: the CRD conversion webhook between `v1` and SPO's older
//! versions ([`spo_api::crds::legacy`] holds the rules), and the patch
//! that points each converted CRD at this server with the current CA.
//!
//! The API server stores `v1`; it calls here only when a client reads or
//! writes an old version (a manifest still written for `v1alpha1`, say).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::Client;
use serde_json::{json, Value};

use super::config::Target;
use crate::OperatorError;
use spo_api::crds::legacy::{convert, CONVERT_PATH};

/// Answer one ConversionReview body.
pub fn review(body: &[u8]) -> Vec<u8> {
    let answer = match serde_json::from_slice::<Value>(body) {
        Err(e) => failure("", &format!("not a ConversionReview: {e}")),
        Ok(review) => {
            let request = &review["request"];
            let uid = request["uid"].as_str().unwrap_or_default();
            let to = request["desiredAPIVersion"].as_str().unwrap_or_default();
            let objects = request["objects"].as_array().cloned().unwrap_or_default();
            match objects.iter().map(|o| convert(o, to)).collect::<Result<Vec<_>, _>>() {
                Ok(converted) => json!({
                    "uid": uid,
                    "convertedObjects": converted,
                    "result": {"status": "Success"},
                }),
                Err(e) => failure(uid, &e),
            }
        }
    };
    serde_json::to_vec(&json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "response": answer,
    }))
    .unwrap_or_default()
}

fn failure(uid: &str, message: &str) -> Value {
    json!({"uid": uid, "result": {"status": "Failure", "message": message}})
}

/// Point the conversion webhook of every spo-rs CRD that converts at this
/// server, with `ca_pem`. A CRD not installed yet is skipped: its next
/// install carries the service reference, and the next operator start
/// fills in the CA.
pub async fn point_crds_here(client: &Client, target: &Target, ca_pem: &str) -> Result<(), OperatorError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    // Base64, as the API server reads a caBundle.
    let ca = serde_json::to_value(k8s_openapi::ByteString(ca_pem.as_bytes().to_vec())).unwrap_or_default();
    let client_config = match target {
        // A merge patch: the other way of naming the server is cleared.
        Target::Url(url) => json!({
            "url": format!("{}{CONVERT_PATH}", url.trim_end_matches('/')),
            "service": null,
            "caBundle": ca,
        }),
        Target::Service { namespace, name, port } => json!({
            "service": {"namespace": namespace, "name": name, "path": CONVERT_PATH, "port": port},
            "url": null,
            "caBundle": ca,
        }),
    };
    for crd in spo_api::all_crds().into_iter().filter(|c| c.spec.conversion.is_some()) {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let patch = json!({"spec": {"conversion": {
            "strategy": "Webhook",
            "webhook": {"conversionReviewVersions": ["v1"], "clientConfig": client_config},
        }}});
        match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {
                tracing::warn!(crd = %name, "CRD not installed: its conversion webhook is not set")
            }
            Err(source) => {
                return Err(OperatorError::Kube { action: format!("pointing the conversion of {name} here"), source })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_review_converts_every_object_or_fails_whole() {
        let g = spo_api::crds::GROUP;
        let body = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview", "request": {
            "uid": "u1", "desiredAPIVersion": format!("{g}/v1"),
            "objects": [{"apiVersion": format!("{g}/v1alpha1"), "kind": "ProfileRecording",
                         "metadata": {"name": "r", "namespace": "n"},
                         "spec": {"kind": "SeccompProfile", "recorder": "bpf", "podSelector": {}}}]}});
        let out: Value = serde_json::from_slice(&review(body.to_string().as_bytes())).expect("json");
        assert_eq!(out["response"]["uid"], "u1");
        assert_eq!(out["response"]["result"]["status"], "Success");
        assert_eq!(out["response"]["convertedObjects"][0]["spec"]["recorder"], "Bpf");
        assert_eq!(out["response"]["convertedObjects"][0]["apiVersion"], format!("{g}/v1"));
        let bad: Value = serde_json::from_slice(&review(b"{")).expect("json");
        assert_eq!(bad["response"]["result"]["status"], "Failure");
    }
}
