//! How long the webhook server takes per request, per path, as a
//! Prometheus histogram with buckets fine enough to tell 2 ms from 10 ms.
//!
//! The API server's own `apiserver_admission_webhook_admission_duration_seconds`
//! jumps from 5 ms to 25 ms, so it cannot show whether a webhook answers
//! within 10 ms; this one can, timed from the request's headers to its
//! response (body read, decision, encoding), TLS and network excluded.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::review::Endpoint;

/// Upper bounds of the buckets, in seconds.
pub const BUCKETS: [f64; 11] = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 1.0];

const PATHS: [Endpoint; 4] =
    [Endpoint::Validate, Endpoint::MutatePods, Endpoint::MutateProfiles, Endpoint::MarkRecording];

#[derive(Debug, Default)]
struct Histogram {
    /// Requests at or under each bound (not cumulative; summed when rendered).
    buckets: [AtomicU64; BUCKETS.len()],
    /// Slower than every bound.
    over: AtomicU64,
    sum_micros: AtomicU64,
}

/// Request durations of every webhook path.
#[derive(Debug, Default)]
pub struct Latency {
    paths: [Histogram; PATHS.len()],
}

impl Latency {
    /// Count one request to `endpoint` that took `took`.
    pub fn observe(&self, endpoint: Endpoint, took: Duration) {
        let Some(i) = PATHS.iter().position(|e| *e == endpoint) else {
            return;
        };
        let h = &self.paths[i];
        let secs = took.as_secs_f64();
        match BUCKETS.iter().position(|b| secs <= *b) {
            Some(b) => h.buckets[b].fetch_add(1, Ordering::Relaxed),
            None => h.over.fetch_add(1, Ordering::Relaxed),
        };
        h.sum_micros.fetch_add(took.as_micros().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
    }

    /// The histogram in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        const NAME: &str = "spo_operator_webhook_duration_seconds";
        let mut out =
            format!("# HELP {NAME} Time from a webhook request's headers to its response.\n# TYPE {NAME} histogram\n");
        for (endpoint, h) in PATHS.iter().zip(&self.paths) {
            let path = endpoint.path();
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(&h.buckets) {
                cumulative += count.load(Ordering::Relaxed);
                let _ = writeln!(out, "{NAME}_bucket{{path=\"{path}\",le=\"{bound}\"}} {cumulative}");
            }
            cumulative += h.over.load(Ordering::Relaxed);
            let _ = writeln!(out, "{NAME}_bucket{{path=\"{path}\",le=\"+Inf\"}} {cumulative}");
            let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "{NAME}_sum{{path=\"{path}\"}} {sum}");
            let _ = writeln!(out, "{NAME}_count{{path=\"{path}\"}} {cumulative}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_land_in_cumulative_buckets_per_path() {
        let l = Latency::default();
        l.observe(Endpoint::MutatePods, Duration::from_micros(800));
        l.observe(Endpoint::MutatePods, Duration::from_millis(8));
        l.observe(Endpoint::MutatePods, Duration::from_secs(2));
        l.observe(Endpoint::Validate, Duration::from_millis(4));
        let text = l.render();
        let line = |path: &str, le: &str| {
            let prefix = format!("spo_operator_webhook_duration_seconds_bucket{{path=\"{path}\",le=\"{le}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .unwrap_or_else(|| panic!("{prefix}\n{text}"))
                .to_owned()
        };
        assert_eq!(line("/mutate-pods", "0.0005"), "0");
        assert_eq!(line("/mutate-pods", "0.001"), "1");
        assert_eq!(line("/mutate-pods", "0.0075"), "1");
        assert_eq!(line("/mutate-pods", "0.01"), "2");
        assert_eq!(line("/mutate-pods", "1"), "2");
        assert_eq!(line("/mutate-pods", "+Inf"), "3");
        assert_eq!(line("/validate", "0.005"), "1");
        assert_eq!(line("/mutate-profiles", "+Inf"), "0");
        assert!(text.contains("spo_operator_webhook_duration_seconds_count{path=\"/mutate-pods\"} 3\n"), "{text}");
    }
}
