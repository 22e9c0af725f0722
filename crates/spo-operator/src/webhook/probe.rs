//! Confirm that the API server calls this server before saying ready.
//!
//! Applying a webhook configuration is not the same as the API server using
//! it: its copy follows a watch, and until that catches up it calls the
//! previous target (after a restart with `--webhook-url`, a port nobody
//! listens on any more). Every webhook fails closed, so during that gap the
//! operator's own finalizer patches would be refused. The probe is a
//! dry-run create of a minimal profile in the operator's namespace: it
//! passes the profile webhooks and is never stored.

use std::time::{Duration, Instant};

use kube::api::{Api, PostParams};
use kube::Client;
use serde_json::json;

use spo_api::crds::SeccompProfile;

/// How long the probe keeps trying before the operator goes on anyway.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(30);
const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// What the probes found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reached {
    /// The API server called the webhooks, after this many tries.
    Yes {
        /// How many probes it took.
        tries: u32,
    },
    /// Something other than the webhooks answered (for example RBAC
    /// without `create` on profiles): no way to tell.
    Unknown {
        /// What answered instead.
        reason: String,
    },
    /// Still failing to call the webhooks at the deadline.
    No {
        /// The last failure.
        reason: String,
    },
}

/// Probe until the API server reaches the webhooks, or [`PROBE_DEADLINE`].
pub async fn until_reached(client: &Client, namespace: &str) -> Reached {
    let _ = namespace;
    let api: Api<SeccompProfile> = Api::all(client.clone());
    let probe: SeccompProfile = serde_json::from_value(json!({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1",
        "kind": "SeccompProfile",
        "metadata": {"generateName": "spo-webhook-probe-"},
        "spec": {"defaultAction": "SCMP_ACT_ERRNO"},
    }))
    .expect("a fixed, valid profile");
    let params = PostParams { dry_run: true, ..PostParams::default() };
    let deadline = Instant::now() + PROBE_DEADLINE;
    let mut tries = 0;
    loop {
        tries += 1;
        let reason = match api.create(&params, &probe).await {
            Ok(_) => return Reached::Yes { tries },
            Err(e) => match verdict(&e) {
                Verdict::Reached => return Reached::Yes { tries },
                Verdict::Retry => e.to_string(),
                Verdict::Unknown => return Reached::Unknown { reason: e.to_string() },
            },
        };
        if Instant::now() >= deadline {
            return Reached::No { reason };
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

enum Verdict {
    Reached,
    Retry,
    Unknown,
}

/// What a failed probe says about the webhooks.
fn verdict(err: &kube::Error) -> Verdict {
    match err {
        // The API server could not call a webhook, or one answered badly.
        kube::Error::Api(s) if s.message.contains("failed calling webhook") => Verdict::Retry,
        // A webhook answered, and refused.
        kube::Error::Api(s) if s.message.contains("denied the request") => Verdict::Reached,
        kube::Error::Api(s) if s.code == 401 || s.code == 403 || s.code == 404 => Verdict::Unknown,
        // The API server itself is busy or unreachable: try again.
        _ => Verdict::Retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(kube::core::Status::failure(message, "").with_code(code).boxed())
    }

    #[test]
    fn a_webhook_that_cannot_be_called_means_try_again() {
        let e = api(
            500,
            "Internal error occurred: failed calling webhook \"validate.spo.x-k8s.io\": \
             Post \"https://127.0.0.1:40111/validate\": dial tcp 127.0.0.1:40111: connect: connection refused",
        );
        assert!(matches!(verdict(&e), Verdict::Retry));
    }

    #[test]
    fn a_refusal_by_a_webhook_means_it_was_reached() {
        let e = api(400, "admission webhook \"validate.spo.x-k8s.io\" denied the request: bad");
        assert!(matches!(verdict(&e), Verdict::Reached));
    }

    #[test]
    fn rbac_refusal_means_unknown() {
        let e = api(403, "seccompprofiles is forbidden: User cannot create resource");
        assert!(matches!(verdict(&e), Verdict::Unknown));
    }
}
