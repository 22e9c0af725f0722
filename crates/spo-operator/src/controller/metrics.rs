//! Counters of the controller's work, in the Prometheus text format.
//!
//! Plain atomics: the operator exports a handful of numbers and pulls in
//! no metrics library for them.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// The controller's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Reconciles run.
    pub reconciles: AtomicU64,
    /// Reconciles that failed.
    pub reconcile_errors: AtomicU64,
    /// Status writes.
    pub status_writes: AtomicU64,
    /// Finalizers added.
    pub finalizers_added: AtomicU64,
    /// Finalizers removed (profiles released for deletion).
    pub finalizers_removed: AtomicU64,
    /// Node statuses of vanished nodes deleted.
    pub orphans_deleted: AtomicU64,
    /// Events published on profiles.
    pub events: AtomicU64,
    /// 1 while this replica holds the leader Lease (a gauge).
    pub leader: AtomicU64,
}

impl Metrics {
    /// Add one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, c) in [
            ("spo_operator_reconciles_total", "Profile reconciles run.", &self.reconciles),
            ("spo_operator_reconcile_errors_total", "Profile reconciles that failed.", &self.reconcile_errors),
            ("spo_operator_status_writes_total", "Profile status writes.", &self.status_writes),
            ("spo_operator_finalizers_added_total", "In-use finalizers added.", &self.finalizers_added),
            ("spo_operator_finalizers_removed_total", "In-use finalizers removed.", &self.finalizers_removed),
            (
                "spo_operator_orphan_node_statuses_deleted_total",
                "Node statuses of vanished nodes deleted.",
                &self.orphans_deleted,
            ),
            ("spo_operator_events_total", "Events published on profiles.", &self.events),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", c.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP spo_operator_leader 1 while this replica holds the leader Lease.\n\
             # TYPE spo_operator_leader gauge\nspo_operator_leader {}",
            self.leader.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_with_their_values() {
        let m = Metrics::default();
        Metrics::inc(&m.reconciles);
        Metrics::inc(&m.reconciles);
        Metrics::inc(&m.finalizers_removed);
        let text = m.render();
        assert!(text.contains("\nspo_operator_reconciles_total 2\n"), "{text}");
        assert!(text.contains("\nspo_operator_finalizers_removed_total 1\n"), "{text}");
        assert!(text.contains("# TYPE spo_operator_status_writes_total counter\nspo_operator_status_writes_total 0\n"));
        assert!(text.contains("# TYPE spo_operator_leader gauge\nspo_operator_leader 0\n"), "{text}");
        m.leader.store(1, Ordering::Relaxed);
        assert!(m.render().contains("\nspo_operator_leader 1\n"));
    }
}
