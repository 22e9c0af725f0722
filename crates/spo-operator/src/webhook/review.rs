//! AdmissionReview in, AdmissionReview out: the two webhook paths as pure
//! functions of the request body and the caches, so every decision can be
//! tested with JSON fixtures and no server.

use std::time::Instant;

use k8s_openapi::api::core::v1::Pod;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::DynamicObject;
use serde_json::Value;

use super::cache::Caches;
use super::validate::{self, Verdict, PROFILE_KINDS};
use super::{mutate, policy};
use crate::controller::finalizer::FINALIZER;

/// What a request is answered with.
#[derive(Debug)]
pub struct Admission {
    caches: Caches,
    validator: spo_validate::Validator,
}

/// The webhook paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/validate`: profiles, bindings and the pod namespace policy.
    Validate,
    /// `/mutate-pods`: bindings.
    MutatePods,
    /// `/mutate-profiles`: the in-use finalizer on new profiles.
    MutateProfiles,
    /// `/mark-recording`: pods a `ProfileRecording` selects.
    MarkRecording,
}

impl Endpoint {
    /// The endpoint served at `path`.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        match path {
            "/validate" => Some(Endpoint::Validate),
            "/mutate-pods" => Some(Endpoint::MutatePods),
            "/mutate-profiles" => Some(Endpoint::MutateProfiles),
            "/mark-recording" => Some(Endpoint::MarkRecording),
            _ => None,
        }
    }

    /// The URL path.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Validate => "/validate",
            Endpoint::MutatePods => "/mutate-pods",
            Endpoint::MutateProfiles => "/mutate-profiles",
            Endpoint::MarkRecording => "/mark-recording",
        }
    }
}

impl Admission {
    /// Answer from `caches`, validating with the default options (the
    /// shipped CIL base, AppArmor includes from `/etc/apparmor.d`).
    pub fn new(caches: Caches) -> Admission {
        let validator = spo_validate::Validator::new(&spo_validate::Options::default());
        Admission { caches, validator }
    }

    /// Load what the first request would otherwise pay for.
    pub fn warm_up(&self) {
        if let Err(e) = self.validator.base() {
            tracing::warn!(error = %e, "cannot load the CIL base; SELinux profiles will be refused");
        }
    }

    /// The caches.
    pub fn caches(&self) -> &Caches {
        &self.caches
    }

    /// Answer one AdmissionReview body; always an AdmissionReview (a body
    /// that cannot be read gets an `invalid` response the API server
    /// treats as a refusal).
    pub fn review(&self, endpoint: Endpoint, body: &[u8]) -> Vec<u8> {
        self.review_once(endpoint, body).0
    }

    /// [`Admission::review`], and whether the answer is a refusal the
    /// caches may be behind on (a binding's profile not found): asked again
    /// a moment later, the answer may differ.
    pub fn review_once(&self, endpoint: Endpoint, body: &[u8]) -> (Vec<u8>, bool) {
        let started = Instant::now();
        let mut behind = false;
        let response = match serde_json::from_slice::<AdmissionReview<DynamicObject>>(body) {
            Err(e) => AdmissionResponse::invalid(format!("not an AdmissionReview: {e}")),
            Ok(review) => match TryInto::<AdmissionRequest<DynamicObject>>::try_into(review) {
                Err(e) => AdmissionResponse::invalid(e),
                Ok(req) => self.answer(endpoint, &req, &mut behind),
            },
        };
        tracing::debug!(
            path = endpoint.path(),
            allowed = response.allowed,
            micros = started.elapsed().as_micros() as u64,
            "admission"
        );
        (serde_json::to_vec(&response.into_review()).unwrap_or_default(), behind)
    }

    fn answer(
        &self,
        endpoint: Endpoint,
        req: &AdmissionRequest<DynamicObject>,
        behind: &mut bool,
    ) -> AdmissionResponse {
        let response = AdmissionResponse::from(req);
        if !matches!(req.operation, Operation::Create | Operation::Update) {
            return response;
        }
        let Some(object) = &req.object else {
            return response;
        };
        let value = match serde_json::to_value(object) {
            Ok(v) => v,
            Err(e) => return response.deny(format!("cannot read the object: {e}")),
        };
        let kind = req.kind.kind.as_str();
        let namespace = req.namespace.as_deref().unwrap_or_default();
        if req.operation == Operation::Update && spec_unchanged(&value, req.old_object.as_ref()) {
            // Metadata only (finalizers, labels): the spec was admitted
            // before, and judging it again could hold a profile in
            // Terminating forever if the rules changed since.
            return response;
        }
        match (endpoint, kind) {
            (Endpoint::Validate, k) if PROFILE_KINDS.contains(&k) => {
                let limit = self.caches.daemon().security.limit();
                finish(response, validate::profile_within(&self.validator, k, &value, &limit))
            }
            (Endpoint::Validate, "SecurityProfilesOperatorDaemon") => {
                finish(response, validate::daemon(&self.validator, &value))
            }
            (Endpoint::Validate, "ProfileBinding") => finish(response, validate::binding(&self.caches, &value)),
            (Endpoint::Validate, "Pod") => {
                let before = match req.old_object.as_ref().map(serde_json::to_value).transpose() {
                    Ok(v) => v,
                    Err(e) => return response.deny(format!("cannot read the pod before the update: {e}")),
                };
                finish(response, self.pod_policy(&value, before.as_ref(), namespace))
            }
            (Endpoint::MutatePods, "Pod") => {
                let applied = match mutate::apply_bindings(&self.caches, &value, namespace) {
                    Ok(a) => a,
                    Err(refusal) => {
                        *behind = refusal.profile_missing;
                        return response.deny(refusal.message);
                    }
                };
                // Check the pod as it will be stored, so a binding's
                // profile is judged by the same policy as a direct one.
                let patched = if applied.patch.0.is_empty() {
                    value
                } else {
                    let mut v = value;
                    if let Err(e) = json_patch::patch(&mut v, &applied.patch) {
                        return response.deny(format!("cannot apply the binding patch: {e}"));
                    }
                    v
                };
                let verdict = self.pod_policy(&patched, None, namespace);
                if verdict.denied.is_some() {
                    return finish(response, verdict);
                }
                if applied.patch.0.is_empty() {
                    return response;
                }
                tracing::debug!(namespace, changes = ?applied.changes, "bindings applied");
                match response.with_patch(applied.patch) {
                    Ok(r) => r,
                    Err(e) => AdmissionResponse::invalid(e),
                }
            }
            (Endpoint::MutateProfiles, k) if PROFILE_KINDS.contains(&k) && req.operation == Operation::Create => {
                match with_finalizer(&value) {
                    Some(patch) => response.with_patch(patch).unwrap_or_else(AdmissionResponse::invalid),
                    None => response,
                }
            }
            (Endpoint::MarkRecording, "Pod") if req.operation == Operation::Create => {
                let marked = super::record::mark(&self.caches, &value, namespace);
                let mut response = if marked.patch.0.is_empty() {
                    response
                } else {
                    response.with_patch(marked.patch).unwrap_or_else(AdmissionResponse::invalid)
                };
                if !marked.warnings.is_empty() {
                    response.warnings = Some(marked.warnings);
                }
                response
            }
            (Endpoint::Validate, "ProfileRecording") => finish(response, validate::recording(&value)),
            // Anything else was not asked for by the configurations.
            _ => response,
        }
    }

    fn pod_policy(&self, pod: &Value, before: Option<&Value>, namespace: &str) -> Verdict {
        let read = |v: &Value| serde_json::from_value::<Pod>(v.clone());
        let before = match before.map(read).transpose() {
            Ok(b) => b,
            Err(e) => return Verdict::deny(format!("cannot read the pod before the update: {e}")),
        };
        match read(pod) {
            Ok(p) => policy::check_pod(&self.caches, &p, before.as_ref(), namespace),
            Err(e) => Verdict::deny(format!("cannot read the pod: {e}")),
        }
    }
}

/// The patch that makes a new profile carry the in-use finalizer from its
/// first version, `None` when it already does. The controller would add
/// it otherwise, one more write per profile.
fn with_finalizer(object: &Value) -> Option<json_patch::Patch> {
    let current = object.pointer("/metadata/finalizers").and_then(Value::as_array);
    if current.is_some_and(|list| list.iter().any(|f| f == FINALIZER)) {
        return None;
    }
    let op = match current {
        Some(_) => serde_json::json!({"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER}),
        None => serde_json::json!({"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]}),
    };
    serde_json::from_value(Value::Array(vec![op])).ok()
}

/// Whether an UPDATE leaves `spec` as it was.
fn spec_unchanged(new: &Value, old: Option<&DynamicObject>) -> bool {
    let old_spec = old.and_then(|o| o.data.get("spec"));
    old_spec.is_some() && old_spec == new.get("spec")
}

fn finish(response: AdmissionResponse, verdict: Verdict) -> AdmissionResponse {
    let mut response = match verdict.denied {
        Some(message) => response.deny(message),
        None => response,
    };
    if !verdict.warnings.is_empty() {
        response.warnings = Some(verdict.warnings);
    }
    response
}

/// Request bodies' upper bound (the API server sends at most 3 MiB objects).
pub const MAX_BODY: usize = 8 << 20;
