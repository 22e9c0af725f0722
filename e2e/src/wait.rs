//! Polling until the cluster reaches a state, for the tests: the one loop
//! every e2e test waits with, so timeouts read the same everywhere.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often [`wait_for`] asks again.
pub const POLL: Duration = Duration::from_millis(200);

/// Ask `f` every [`POLL`] until it gives a value, and return it.
///
/// # Panics
///
/// After `timeout`, naming `what`: this is for tests, where a state never
/// reached is the failure.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// The localhost seccomp profile a pod's first container runs under (its
/// own, else the pod's).
pub fn localhost_profile(pod: &k8s_openapi::api::core::v1::Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let c = spec.containers.first()?;
    c.security_context
        .as_ref()
        .and_then(|sc| sc.seccomp_profile.as_ref())
        .or(spec.security_context.as_ref().and_then(|sc| sc.seccomp_profile.as_ref()))
        .and_then(|p| p.localhost_profile.clone())
}

/// How many dry-run creates in a row [`binding_in_force`] wants answered
/// with the profile: enough to reach every replica behind the Service.
pub const IN_A_ROW: usize = 6;

/// Wait until the binding webhook gives `pod` a profile starting with
/// `prefix`, [`IN_A_ROW`] dry-run creates in a row.
///
/// The webhook learns of a new ProfileBinding from its watch, a moment
/// after the API server stored it (each replica from its own): a pod
/// created at once may still be admitted without the profile, as in SPO.
/// Tests that create a binding and then its pods wait here first.
///
/// # Panics
///
/// After `timeout`, as [`wait_for`].
pub async fn binding_in_force(
    pods: &kube::Api<k8s_openapi::api::core::v1::Pod>,
    pod: &k8s_openapi::api::core::v1::Pod,
    prefix: &str,
    timeout: Duration,
) {
    let dry = kube::api::PostParams { dry_run: true, ..kube::api::PostParams::default() };
    let what = format!("the binding webhook giving a pod {prefix}* ({IN_A_ROW} dry-run creates in a row)");
    wait_for(timeout, &what, || async {
        for _ in 0..IN_A_ROW {
            let admitted = pods.create(&dry, pod).await.ok()?;
            localhost_profile(&admitted).filter(|p| p.starts_with(prefix))?;
        }
        Some(())
    })
    .await;
}
