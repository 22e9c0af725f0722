//! Recording from the audit log (`ProfileRecording` with `recorder: logs`):
//! a recorded container runs under a log-everything filter, and every
//! SECCOMP event the enricher attributes to it is counted here until the
//! recording ends. Events of containers not (yet) claimed are kept for
//! 30 s, since the agent learns a container's ID only after it started.
//! All of it only while a `logs` recording has a pod on this node
//! ([`LogRecordings::expect`]): otherwise the enricher's path costs one
//! atomic load per event.
//!
//! The enricher attributes an event by its pid's cgroup (`/proc/PID`); a
//! process that exits before its event is read (a short-lived child) is
//! attributed through its nearest live ancestor ([`super::lineage`]). Only
//! when every ancestor up to the container's first process is gone too are
//! its calls missed: the eBPF recorder, which reads the cgroup in the
//! kernel, has no such gap.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use spo_model::Arch;

use crate::record::SyscallSet;
use crate::status::AuditEvent;

/// How long the events of a container nobody records are kept: the agent
/// learns a container's ID from its pod's status up to a few seconds after
/// the container started, and its first calls must not be lost meanwhile.
const UNCLAIMED: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Counted {
    set: SyscallSet,
    last: Instant,
    watched: bool,
}

/// What `logs` recordings have seen, by container ID.
#[derive(Debug, Default)]
pub struct LogRecordings {
    /// Pods of `logs` recordings on this node.
    pods: AtomicUsize,
    containers: Mutex<HashMap<String, Counted>>,
}

impl LogRecordings {
    /// How many pods of `logs` recordings are on this node, known from
    /// their scheduling, before their containers start. At zero nothing is
    /// counted and what was counted is dropped.
    pub fn expect(&self, pods: usize) {
        if self.pods.swap(pods, Ordering::Relaxed) != 0 && pods == 0 {
            if let Ok(mut g) = self.containers.lock() {
                g.clear();
            }
        }
    }

    /// Claim container `id`: its events, those of the last
    /// `UNCLAIMED` included, are kept until `LogRecordings::take`.
    pub fn watch(&self, id: &str) {
        if let Ok(mut g) = self.containers.lock() {
            g.entry(id.to_owned())
                .or_insert_with(|| Counted { set: SyscallSet::new(), last: Instant::now(), watched: true })
                .watched = true;
        }
    }

    /// Count `event` for its container.
    pub fn observe(&self, event: &AuditEvent) {
        // AppArmor and SELinux events name no syscall.
        if self.pods.load(Ordering::Relaxed) == 0 || event.lsm.is_some() {
            return;
        }
        let Some(id) = &event.container_id else { return };
        let Ok(arch) = event.arch.parse::<Arch>() else { return };
        let now = Instant::now();
        let Ok(mut g) = self.containers.lock() else { return };
        if g.len() >= 1024 && !g.contains_key(id) {
            g.retain(|_, c| c.watched || now.duration_since(c.last) < UNCLAIMED);
        }
        let c = g.entry(id.clone()).or_insert_with(|| Counted { set: SyscallSet::new(), last: now, watched: false });
        c.set.add(arch, event.syscall_nr, 1);
        c.last = now;
    }

    /// Stop counting container `id` and return what it did, if it was
    /// claimed.
    pub fn take(&self, id: &str) -> Option<SyscallSet> {
        let mut g = self.containers.lock().ok()?;
        g.get(id).filter(|c| c.watched)?;
        g.remove(id).map(|c| c.set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(container: Option<&str>, nr: u32) -> AuditEvent {
        AuditEvent {
            time_ms: 0,
            serial: 1,
            node: "n".into(),
            pid: 7,
            comm: None,
            executable: None,
            syscall: String::new(),
            syscall_nr: nr,
            arch: "SCMP_ARCH_X86_64".into(),
            action: "SCMP_ACT_LOG".into(),
            container_id: container.map(str::to_owned),
            pod: None,
            profile: None,
            lsm: None,
        }
    }

    #[test]
    fn claimed_containers_are_counted_from_their_first_event_until_taken() {
        let r = LogRecordings::default();
        // No recording expected on this node: nothing is kept.
        r.observe(&event(Some("a"), 39));
        r.watch("a");
        assert_eq!(r.take("a").map(|s| s.total()), Some(0));
        r.expect(1);
        // Events before the claim count: the ID is learnt late.
        r.observe(&event(Some("a"), 39));
        r.watch("a");
        r.observe(&event(Some("a"), 39));
        r.observe(&event(Some("b"), 63));
        r.observe(&event(None, 0));
        let set = r.take("a").expect("watched");
        assert_eq!((set.distinct(), set.total()), (1, 2));
        assert!(r.take("b").is_none(), "never claimed");
        assert!(r.take("a").is_none(), "taken once");
        // The last recorded pod gone: what nobody claimed goes too.
        r.observe(&event(Some("c"), 39));
        r.expect(0);
        r.expect(1);
        r.watch("c");
        assert_eq!(r.take("c").map(|s| s.total()), Some(0));
    }
}
