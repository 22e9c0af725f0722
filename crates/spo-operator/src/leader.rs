//! Leader election: of several operator replicas, only the one holding a
//! `coordination.k8s.io` Lease runs the controllers, applies the webhook
//! configurations and rotates the webhook certificate; every replica
//! serves the webhooks.
//!
//! The Lease is kept by `kube-lease-manager`, a maintained crate on
//! `kube` 5 (kube-runtime has no leader election, and
//! `kube-leader-election` still requires `kube` 4): it takes a free or
//! expired Lease by server-side apply, so two candidates cannot both win
//! (the loser's apply conflicts on `holderIdentity`), and renews it
//! `renew_grace` before it expires. A follower looks again when the Lease
//! it last read expires, so after the leader dies the Lease changes hands
//! at most one lease duration after its last renewal, plus the crate's
//! random pause of up to a second after clearing an expired holder.
//!
//! A replica that loses the Lease (another holds it, or renewing it
//! failed) does not try to wind its controllers down: the binary exits,
//! and the Deployment starts it again as a follower. Every API call of the
//! election has a timeout of half the renew grace, so a leader that
//! cannot reach the API server learns it, and exits, before its Lease
//! expires: two replicas never both believe they lead, short of clock skew
//! between nodes beyond that half grace.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseParams};

use crate::OperatorError;

/// The Lease's name.
pub const LEASE_NAME: &str = "spo-operator-leader";
/// How long a Lease is valid after its last renewal (controller-runtime's
/// default, which SPO uses).
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
/// How long before expiry the leader renews (so every 10 s with the
/// default duration).
pub const DEFAULT_RENEW_GRACE: Duration = Duration::from_secs(5);

/// How the election runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderOptions {
    /// Namespace of the Lease (the operator's).
    pub namespace: String,
    /// Its name.
    pub lease_name: String,
    /// This replica's name in `holderIdentity`: unique among live
    /// replicas. The same name after a restart takes the Lease back at
    /// once, which is right only when the previous holder of that name is
    /// gone (a container restarted in its pod).
    pub identity: String,
    /// [`DEFAULT_LEASE_DURATION`].
    pub duration: Duration,
    /// [`DEFAULT_RENEW_GRACE`].
    pub renew_grace: Duration,
}

impl LeaderOptions {
    /// The defaults, in `namespace`, under `identity`.
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> LeaderOptions {
        LeaderOptions {
            namespace: namespace.into(),
            lease_name: LEASE_NAME.to_owned(),
            identity: identity.into(),
            duration: DEFAULT_LEASE_DURATION,
            renew_grace: DEFAULT_RENEW_GRACE,
        }
    }

    /// Whole seconds (the Lease's unit), a grace of at least 1 s and under
    /// the duration; the error names the option.
    pub fn check(&self) -> Result<(u64, u64), OperatorError> {
        let bad = |reason: String| OperatorError::Leader { reason };
        let whole = |d: Duration, flag: &str| {
            if d.subsec_nanos() != 0 || d.as_secs() == 0 {
                Err(bad(format!(
                    "{flag} must be a whole number of seconds, at least 1 s ({})",
                    humantime::format_duration(d)
                )))
            } else {
                Ok(d.as_secs())
            }
        };
        let duration = whole(self.duration, "--leader-election-lease-duration")?;
        let grace = whole(self.renew_grace, "--leader-election-renew-grace")?;
        if grace >= duration {
            return Err(bad(format!(
                "--leader-election-renew-grace ({grace} s) must be shorter than --leader-election-lease-duration \
                 ({duration} s)"
            )));
        }
        if self.identity.is_empty() {
            return Err(bad("the identity is empty (--leader-election-id)".to_owned()));
        }
        Ok((duration, grace))
    }

    /// The timeout of every election request: half the grace.
    pub fn request_timeout(&self) -> Duration {
        self.renew_grace / 2
    }
}

/// This replica's default identity: the pod's name (`POD_NAME`, from the
/// downward API) when set, else `HOSTNAME_PID` (a pod's hostname is its
/// name; the process id keeps two replicas on one machine apart).
pub fn default_identity() -> String {
    if let Some(pod) = std::env::var("POD_NAME").ok().filter(|s| !s.is_empty()) {
        return pod;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}_{}", host.trim(), std::process::id())
}

/// A client for the election: the same credentials, every request bounded
/// by [`LeaderOptions::request_timeout`].
pub fn client(config: &kube::Config, options: &LeaderOptions) -> Result<Client, OperatorError> {
    let mut config = config.clone();
    let timeout = Some(options.request_timeout());
    config.connect_timeout = timeout;
    config.read_timeout = timeout;
    config.write_timeout = timeout;
    config.reset_reader_on_write = true;
    Client::try_from(config)
        .map_err(|source| OperatorError::Kube { action: "making the election's client".into(), source })
}

/// The Lease, held.
#[derive(Debug)]
pub struct Leadership {
    manager: LeaseManager,
    identity: String,
}

/// Wait until this replica holds the Lease (creating the Lease when it
/// does not exist). Failures to reach the API server are logged and
/// retried; only options that cannot work are errors.
pub async fn acquire(client: Client, options: &LeaderOptions) -> Result<Leadership, OperatorError> {
    let (duration, grace) = options.check()?;
    let manager = loop {
        match LeaseManagerBuilder::new(client.clone(), &options.lease_name)
            .with_namespace(&options.namespace)
            .with_parameters(LeaseParams::new(options.identity.clone(), duration, grace))
            .build()
            .await
        {
            Ok(m) => break m,
            Err(e) => {
                tracing::warn!(lease = %options.lease_name, "cannot read or create the Lease: {}", crate::controller::chain(&e));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    tracing::info!(identity = %options.identity, lease = %options.lease_name, "waiting for the Lease");
    loop {
        match manager.changed().await {
            Ok(true) => return Ok(Leadership { manager, identity: options.identity.clone() }),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!("leader election: {}", crate::controller::chain(&e));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

impl Leadership {
    /// This replica's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Keep the Lease renewed; resolves, with the reason, once it is no
    /// longer ours: another replica holds it, or a renewal failed (the
    /// Lease may then expire before the next attempt, so it counts as
    /// lost).
    pub async fn lost(&self) -> String {
        loop {
            match self.manager.changed().await {
                Ok(true) => {}
                Ok(false) => return "another replica holds it".to_owned(),
                Err(e) => return format!("renewing it failed: {}", crate::controller::chain(&e)),
            }
        }
    }

    /// Give the Lease up (at shutdown), so a new replica takes it without
    /// waiting for it to expire.
    pub async fn release(&self) {
        match self.manager.release().await {
            Ok(()) => tracing::info!(identity = %self.identity, "released the Lease"),
            Err(e) => tracing::warn!("releasing the Lease: {}", crate::controller::chain(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_that_cannot_work_are_refused_by_flag() {
        let ok = LeaderOptions::new("spo", "a");
        assert_eq!(ok.check().expect("defaults"), (15, 5));
        assert_eq!(ok.request_timeout(), Duration::from_millis(2500));
        let err = LeaderOptions { renew_grace: Duration::from_secs(15), ..ok.clone() }.check().unwrap_err().to_string();
        assert!(err.contains("--leader-election-renew-grace (15 s) must be shorter"), "{err}");
        let err =
            LeaderOptions { duration: Duration::from_millis(1500), ..ok.clone() }.check().unwrap_err().to_string();
        assert!(err.contains("--leader-election-lease-duration must be a whole number"), "{err}");
        let err = LeaderOptions { identity: String::new(), ..ok }.check().unwrap_err().to_string();
        assert!(err.contains("--leader-election-id"), "{err}");
    }

    #[test]
    fn the_default_identity_tells_processes_apart() {
        // POD_NAME is not set in the test environment.
        if std::env::var_os("POD_NAME").is_none() {
            assert!(default_identity().ends_with(&format!("_{}", std::process::id())), "{}", default_identity());
        }
    }
}
