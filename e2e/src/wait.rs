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
