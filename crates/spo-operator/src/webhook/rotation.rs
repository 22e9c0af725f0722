//! Rotating the operator-issued certificate before it expires, without a
//! moment in which the API server distrusts a replica.
//!
//! The leader moves the Secret ([`super::secret`]) through three guarded
//! writes, each decided by [`plan`] from the Secret alone (so a new
//! leader takes a rotation over where the old one stopped):
//!
//! 1. **Stage**, once the served certificate has less than `renew_before`
//!    left (or lacks a name the webhook is reached by): a new CA and
//!    certificate are issued; the new CA is appended to `ca.crt` and the
//!    certificate parked in `next.crt`/`next.key`. The leader publishes
//!    the two-CA bundle in the webhook configurations and the CRDs'
//!    conversion webhooks; every replica still serves the old
//!    certificate, which the bundle still trusts.
//! 2. **Promote**, `overlap` after staging and once the two-CA bundle is
//!    published: the new certificate becomes `tls.crt`; each replica
//!    serves it from its next handshake (its Secret watch), and a replica
//!    that has not yet seen the change is still trusted.
//! 3. **Retire**, `overlap` after promoting: `ca.crt` keeps the new CA only.
//!
//! The serving certificate and its CA expire together, so a rotation
//! starts `renew_before` ahead of both.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use tokio::sync::watch;

use super::secret::{self, Contents, SecretRef, Stored, Written};
use super::tls;
use crate::OperatorError;

/// When and how the issued certificate is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Validity of a certificate and its CA.
    pub validity: Duration,
    /// Renew when less than this is left.
    pub renew_before: Duration,
    /// How long each phase of a rotation lasts: long enough for the API
    /// server to pick up a new `caBundle` and for every replica to load a
    /// new certificate.
    pub overlap: Duration,
}

impl Default for Policy {
    /// cert-manager's defaults (90 days, renewed 30 days before the end),
    /// and a minute per phase.
    fn default() -> Self {
        Policy {
            validity: Duration::from_secs(90 * 86_400),
            renew_before: Duration::from_secs(30 * 86_400),
            overlap: Duration::from_secs(60),
        }
    }
}

impl Policy {
    /// Check the durations fit together; the error names the option.
    pub fn check(&self) -> Result<(), OperatorError> {
        let bad = |reason: String| OperatorError::BadCertificate { whence: "certificate rotation".into(), reason };
        if self.renew_before >= self.validity {
            return Err(bad(format!(
                "--webhook-cert-renew-before ({}) must be shorter than --webhook-cert-validity ({})",
                humantime::format_duration(self.renew_before),
                humantime::format_duration(self.validity)
            )));
        }
        if self.overlap * 2 >= self.renew_before {
            return Err(bad(format!(
                "--webhook-cert-rotation-overlap ({}) must be under half of --webhook-cert-renew-before ({}): \
                 a rotation takes two overlaps",
                humantime::format_duration(self.overlap),
                humantime::format_duration(self.renew_before)
            )));
        }
        Ok(())
    }
}

/// The next step of a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do for this long (or until the Secret changes).
    Wait(Duration),
    /// Issue and stage a new certificate.
    Stage,
    /// Serve the staged certificate.
    Promote,
    /// Drop the old CA from the bundle.
    Retire,
}

/// The longest wait: the plan is looked at again at least this often.
const MAX_WAIT: Duration = Duration::from_secs(3600);

fn until(t: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(t.duration_since(now)).unwrap_or_default().min(MAX_WAIT)
}

fn plus(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(k8s_openapi::jiff::SignedDuration::try_from(d).unwrap_or_default()).unwrap_or(t)
}

fn minus(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_sub(k8s_openapi::jiff::SignedDuration::try_from(d).unwrap_or_default()).unwrap_or(t)
}

/// What to do with `stored` at `now`, for a webhook reached by `names`.
/// `published` says whether the webhook configurations already carry
/// `stored.ca_bundle`: no phase ends before they do.
pub fn plan(stored: &Stored, names: &[String], policy: &Policy, now: Timestamp, published: bool) -> Step {
    let phase_over = |since: Option<Timestamp>| {
        let end = plus(since.unwrap_or(now), policy.overlap);
        if published && now >= end {
            None
        } else {
            Some(Step::Wait(until(end, now).max(Duration::from_millis(200))))
        }
    };
    if stored.contents.promoted_at.is_some() {
        return phase_over(stored.contents.promoted_at).unwrap_or(Step::Retire);
    }
    if stored.contents.next.is_some() {
        return phase_over(stored.contents.staged_at).unwrap_or(Step::Promote);
    }
    let missing = names.iter().any(|n| !stored.serving.names.contains(n));
    let due = minus(stored.serving.not_after, policy.renew_before);
    if missing || now >= due {
        Step::Stage
    } else {
        Step::Wait(until(due, now))
    }
}

/// The CA certificates of a PEM bundle, each as its own PEM block.
fn blocks(pem: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in pem.lines() {
        if line.starts_with("-----BEGIN ") {
            current.clear();
        }
        current.push_str(line.trim_end());
        current.push('\n');
        if line.starts_with("-----END ") {
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

/// The contents after `step`; `None` for [`Step::Wait`].
pub fn next_contents(
    step: Step,
    stored: &Stored,
    names: &[String],
    policy: &Policy,
    now: Timestamp,
) -> Result<Option<Contents>, OperatorError> {
    let kept = stored.contents.clone();
    Ok(match step {
        Step::Wait(_) => None,
        Step::Stage => {
            let issued = tls::issue(names, policy.validity, now)?;
            let mut bundle = stored.contents.ca_bundle.trim_end().to_owned();
            bundle.push('\n');
            bundle.push_str(&issued.ca_pem);
            Some(Contents {
                ca_bundle: bundle,
                next: Some((issued.cert_pem, issued.key_pem)),
                staged_at: Some(now),
                promoted_at: None,
                ..kept
            })
        }
        Step::Promote => {
            let Some((cert_pem, key_pem)) = stored.contents.next.clone() else { return Ok(None) };
            Some(Contents { cert_pem, key_pem, next: None, staged_at: None, promoted_at: Some(now), ..kept })
        }
        Step::Retire => {
            // The CA appended when staging signed what is served now.
            let newest = blocks(&stored.contents.ca_bundle).pop().unwrap_or_else(|| stored.contents.ca_bundle.clone());
            Some(Contents { ca_bundle: newest, promoted_at: None, ..kept })
        }
    })
}

/// The leader's rotation loop: follows the Secret through `stored` and
/// what the configurations carry through `published` (the bundle last
/// applied), and writes each step. Returns only on an error that a retry
/// cannot fix.
pub async fn run(
    api: Api<Secret>,
    at: SecretRef,
    names: Vec<String>,
    policy: Policy,
    mut stored: watch::Receiver<Arc<Stored>>,
    mut published: watch::Receiver<String>,
) -> Result<(), OperatorError> {
    loop {
        let current = stored.borrow_and_update().clone();
        let is_published = *published.borrow_and_update() == current.contents.ca_bundle;
        let now = Timestamp::now();
        let step = plan(&current, &names, &policy, now, is_published);
        if let Step::Wait(d) = step {
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                r = stored.changed() => if r.is_err() { return Ok(()) },
                r = published.changed() => if r.is_err() { return Ok(()) },
            }
            continue;
        }
        let Some(contents) = next_contents(step, &current, &names, &policy, now)? else { continue };
        match secret::write(&api, &at, &contents, current.resource_version.clone()).await {
            Ok(Written::Yes) => {
                tracing::info!(step = ?step, "webhook certificate rotation: {}", describe(step, &current));
                // Wait for the watch to bring the new version back.
                let _ = tokio::time::timeout(Duration::from_secs(10), stored.changed()).await;
            }
            Ok(Written::Conflict) => {
                let _ = tokio::time::timeout(Duration::from_secs(2), stored.changed()).await;
            }
            Err(e) => {
                tracing::warn!("webhook certificate rotation: {}", crate::controller::chain(&e));
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

fn describe(step: Step, stored: &Stored) -> String {
    match step {
        Step::Stage => format!(
            "a new CA joins the bundle; the certificate valid until {} is still served",
            stored.serving.not_after
        ),
        Step::Promote => "the new certificate is served".to_owned(),
        Step::Retire => "the old CA leaves the bundle".to_owned(),
        Step::Wait(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn policy() -> Policy {
        Policy { validity: 10 * HOUR, renew_before: 3 * HOUR, overlap: Duration::from_secs(60) }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).expect("time")
    }

    fn names() -> Vec<String> {
        vec!["spo-webhook.spo.svc".to_owned()]
    }

    fn stored_from(c: &Contents) -> Stored {
        let s =
            c.to_secret(&SecretRef { namespace: "spo".into(), name: "c".into(), provided: false }, Some("1".into()));
        secret::parse(&s, &SecretRef { namespace: "spo".into(), name: "c".into(), provided: false })
            .expect("valid")
            .expect("not empty")
    }

    #[test]
    fn a_rotation_stages_promotes_and_retires_in_order() {
        let p = policy();
        let issued = tls::issue(&names(), p.validity, at(0)).expect("issue");
        let first = stored_from(&Contents::first(&issued));
        // Fresh: wait until 3 h before the end (7 h, capped at one hour).
        assert_eq!(plan(&first, &names(), &p, at(0), true), Step::Wait(MAX_WAIT));
        assert_eq!(plan(&first, &names(), &p, at(7 * 3600 - 10), true), Step::Wait(Duration::from_secs(10)));
        assert_eq!(plan(&first, &names(), &p, at(7 * 3600), true), Step::Stage);

        let t = at(7 * 3600);
        let staged = stored_from(&next_contents(Step::Stage, &first, &names(), &p, t).unwrap().unwrap());
        assert_eq!(blocks(&staged.contents.ca_bundle).len(), 2, "old and new CA trusted");
        assert_eq!(staged.contents.cert_pem, first.contents.cert_pem, "the old certificate is still served");
        // Not before the overlap, and not before the bundle is published.
        assert!(matches!(plan(&staged, &names(), &p, plus(t, Duration::from_secs(30)), true), Step::Wait(_)));
        assert!(matches!(plan(&staged, &names(), &p, plus(t, Duration::from_secs(61)), false), Step::Wait(_)));
        let t2 = plus(t, Duration::from_secs(61));
        assert_eq!(plan(&staged, &names(), &p, t2, true), Step::Promote);

        let promoted = stored_from(&next_contents(Step::Promote, &staged, &names(), &p, t2).unwrap().unwrap());
        assert_eq!(
            Some(promoted.contents.cert_pem.clone()),
            staged.contents.next.clone().map(|n| n.0),
            "the new one is served"
        );
        assert_eq!(promoted.contents.ca_bundle, staged.contents.ca_bundle, "both CAs still trusted");
        assert!(promoted.contents.next.is_none());
        let t3 = plus(t2, Duration::from_secs(61));
        assert_eq!(plan(&promoted, &names(), &p, t3, true), Step::Retire);

        let retired = stored_from(&next_contents(Step::Retire, &promoted, &names(), &p, t3).unwrap().unwrap());
        assert_eq!(
            blocks(&retired.contents.ca_bundle),
            vec![blocks(&staged.contents.ca_bundle)[1].clone()],
            "the new CA only"
        );
        assert!(retired.contents.promoted_at.is_none() && retired.contents.staged_at.is_none());
        assert!(retired.serving.not_after > first.serving.not_after);
        assert_eq!(plan(&retired, &names(), &p, t3, true), Step::Wait(MAX_WAIT));
    }

    #[test]
    fn a_certificate_without_a_needed_name_is_replaced_at_once() {
        let p = policy();
        let issued = tls::issue(&names(), p.validity, at(0)).expect("issue");
        let first = stored_from(&Contents::first(&issued));
        let mut wanted = names();
        wanted.push("127.0.0.1".to_owned());
        assert_eq!(plan(&first, &wanted, &p, at(0), true), Step::Stage);
    }

    #[test]
    fn overlapping_durations_are_refused_naming_the_options() {
        let err = Policy { renew_before: 20 * HOUR, ..policy() }.check().unwrap_err().to_string();
        assert!(err.contains("--webhook-cert-renew-before") && err.contains("--webhook-cert-validity"), "{err}");
        let err = Policy { overlap: 2 * HOUR, ..policy() }.check().unwrap_err().to_string();
        assert!(err.contains("--webhook-cert-rotation-overlap"), "{err}");
        policy().check().expect("fits");
        Policy::default().check().expect("the defaults fit");
    }
}
