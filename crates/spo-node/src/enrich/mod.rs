//! Audit enrichment: who made the call a profile complained about.
//!
//! A SECCOMP audit record names a pid and a syscall. The enricher maps the
//! pid to its cgroup, the cgroup to a container ([`cgroup`]), the container
//! to its OCI bundle and from there to the pod and to the installed profile
//! version it runs under ([`bundle`]); a process started outside a
//! container with `SPO_PROFILE=NAME` in its environment (as `spoc run`
//! does) is attributed to that profile. Each record becomes one
//! [`AuditEvent`] JSON line plus counters.
//!
//! Lookups are cached per pid for a second, so a flood from one process
//! costs one `/proc` read, not one per record. A process already gone when
//! its record is read is attributed through its nearest live ancestor
//! ([`lineage`]), when the kernel's process events are followed.

pub mod bundle;
pub mod cgroup;
pub mod lineage;
pub mod lsm;
pub mod recordings;
pub mod source;

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use crate::audit::{SeccompRecord, AUDIT_SECCOMP};
use crate::metrics::{AuditLabels, Metrics};
use crate::status::{AuditEvent, PodRef};
use bundle::ContainerInfo;

/// The environment variable naming the profile a process was started with.
pub const PROFILE_ENV: &str = "SPO_PROFILE";
/// The environment variable with that profile's version hash.
pub const PROFILE_VERSION_ENV: &str = "SPO_PROFILE_VERSION";

/// Who a process is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    /// Container id.
    pub container_id: Option<String>,
    /// The container's bundle, when found.
    pub container: Option<Arc<ContainerInfo>>,
    /// The seccomp profile (name) it runs under, when known.
    pub profile: Option<String>,
    /// That profile's version, when known.
    pub version: Option<String>,
}

impl Attribution {
    /// The pod coordinates, when known.
    pub fn pod(&self) -> Option<&PodRef> {
        self.container.as_ref()?.pod.as_ref()
    }
}

/// Maps processes to containers, pods and profiles; shared by the enricher
/// and the verifier.
#[derive(Debug)]
pub struct Attributor {
    patterns: Vec<String>,
    proc_root: PathBuf,
    containers: Mutex<HashMap<String, Option<Arc<ContainerInfo>>>>,
    /// Installed seccomp version hash to profile name.
    versions: RwLock<HashMap<String, String>>,
    /// Who forked whom, when the kernel's process events are followed.
    lineage: OnceLock<Arc<lineage::Lineage>>,
}

impl Attributor {
    /// An attributor looking for bundles with `patterns` (see
    /// [`bundle::DEFAULT_BUNDLE_PATTERNS`]).
    pub fn new(patterns: Vec<String>) -> Attributor {
        Attributor {
            patterns,
            proc_root: PathBuf::from("/proc"),
            containers: Mutex::new(HashMap::new()),
            versions: RwLock::new(HashMap::new()),
            lineage: OnceLock::new(),
        }
    }

    /// Attribute processes that are gone through their nearest live
    /// ancestor in `lineage` (see [`lineage::follow`]).
    pub fn set_lineage(&self, lineage: Arc<lineage::Lineage>) {
        let _ = self.lineage.set(lineage);
    }

    /// Follow the kernel's forks from now on (a thread of their own) and
    /// attribute processes that are gone through their parents. Fails,
    /// changing nothing, where the process events cannot be read (not
    /// root, no `CONFIG_PROC_EVENTS`). Once is enough: a second call does
    /// nothing.
    pub fn follow_forks(&self) -> Result<(), crate::NodeError> {
        if self.lineage.get().is_some() {
            return Ok(());
        }
        let lineage = Arc::new(lineage::Lineage::default());
        lineage::follow(lineage.clone())?;
        self.set_lineage(lineage);
        Ok(())
    }

    /// The `/proc` directory that speaks for `pid`: its own, or, once it is
    /// gone, its nearest live ancestor's.
    fn proc_dir(&self, pid: u32) -> PathBuf {
        let own = self.proc_root.join(pid.to_string());
        if own.exists() {
            return own;
        }
        match self.lineage.get().and_then(|l| l.nearest_live_ancestor(pid, &self.proc_root)) {
            Some(ancestor) => self.proc_root.join(ancestor.to_string()),
            None => own,
        }
    }

    /// Replace the index of installed seccomp versions.
    pub fn set_versions(&self, v: HashMap<String, String>) {
        if let Ok(mut g) = self.versions.write() {
            *g = v;
        }
    }

    /// The profile name of an installed version.
    pub fn profile_of_version(&self, hash: &str) -> Option<String> {
        self.versions.read().ok()?.get(hash).cloned()
    }

    /// Forget containers not in `live`.
    pub fn retain_containers(&self, live: &std::collections::HashSet<String>) {
        if let Ok(mut g) = self.containers.lock() {
            g.retain(|k, _| live.contains(k));
        }
    }

    fn container(&self, id: &str) -> Option<Arc<ContainerInfo>> {
        if let Some(c) = self.containers.lock().ok()?.get(id) {
            return c.clone();
        }
        let found = bundle::find(&self.patterns, id).map(Arc::new);
        // A missing bundle is remembered too (a hex id the runtime has not
        // written yet is retried when the cache is pruned).
        if let Ok(mut g) = self.containers.lock() {
            g.insert(id.to_owned(), found.clone());
        }
        found
    }

    /// Attribute `pid`.
    pub fn attribute(&self, pid: u32) -> Attribution {
        let dir = self.proc_dir(pid);
        let mut a = Attribution::default();
        if let Ok(cg) = fs::read_to_string(dir.join("cgroup")) {
            let candidates = cgroup::container_candidates(&cg);
            for (i, id) in candidates.iter().enumerate() {
                let hex = id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
                if let Some(info) = self.container(id) {
                    a.container_id = Some(id.clone());
                    a.container = Some(info);
                    break;
                }
                if hex && i == 0 {
                    a.container_id = Some(id.clone());
                }
            }
        }
        if let Some(hash) = a.container.as_ref().and_then(|c| c.seccomp_hash.clone()) {
            a.profile = self.profile_of_version(&hash);
            a.version = Some(hash);
        }
        if a.profile.is_none() {
            if let Ok(env) = fs::read(dir.join("environ")) {
                for var in env.split(|b| *b == 0) {
                    let var = String::from_utf8_lossy(var);
                    if let Some(v) = var.strip_prefix("SPO_PROFILE=") {
                        a.profile = Some(v.to_owned());
                    } else if let Some(v) = var.strip_prefix("SPO_PROFILE_VERSION=") {
                        a.version = Some(v.to_owned());
                    }
                }
            }
        }
        a
    }
}

/// How many recent events `/violations` keeps.
pub const EVENT_RING: usize = 20_000;

/// Recent events, for `/violations`.
#[derive(Debug, Default)]
pub struct EventRing {
    events: Mutex<VecDeque<AuditEvent>>,
}

impl EventRing {
    /// Add an event, dropping the oldest beyond [`EVENT_RING`].
    pub fn push(&self, e: AuditEvent) {
        if let Ok(mut g) = self.events.lock() {
            if g.len() == EVENT_RING {
                g.pop_front();
            }
            g.push_back(e);
        }
    }

    /// Events matching `profile` (if given) at or after `since_ms`.
    pub fn query(&self, profile: Option<&str>, since_ms: u64) -> Vec<AuditEvent> {
        let Ok(g) = self.events.lock() else {
            return Vec::new();
        };
        g.iter()
            .filter(|e| e.time_ms >= since_ms && profile.is_none_or(|p| e.profile.as_deref() == Some(p)))
            .cloned()
            .collect()
    }
}

/// Counters of the record stream.
#[derive(Debug, Default)]
pub struct StreamCounters {
    /// Records read.
    pub records: AtomicU64,
    /// Events emitted.
    pub events: AtomicU64,
    /// Records lost before reaching us.
    pub lost: AtomicU64,
}

/// The audit time of a record, `audit(SECONDS.MILLIS:SERIAL)`, in ms.
pub fn record_time_ms(text: &str) -> Option<u64> {
    let stamp = text.strip_prefix("audit(")?.split_once(':')?.0;
    let (s, ms) = stamp.split_once('.')?;
    // Checked: a record's digits are outside input (overflow found by the
    // `audit_records` fuzz target).
    s.parse::<u64>().ok()?.checked_mul(1000)?.checked_add(ms.parse::<u64>().ok()?)
}

/// The serial number of a record, `audit(SECONDS.MILLIS:SERIAL)`.
pub fn record_serial(text: &str) -> Option<u64> {
    text.strip_prefix("audit(")?.split_once(':')?.1.split_once(')')?.0.parse().ok()
}

/// Turns SECCOMP, AppArmor and SELinux records into events.
#[derive(Debug)]
pub struct Enricher {
    node: String,
    attributor: Arc<Attributor>,
    metrics: Arc<Metrics>,
    ring: Arc<EventRing>,
    counters: Arc<StreamCounters>,
    log: Option<EventLog>,
    cache: HashMap<u32, (Instant, Attribution)>,
    flushed: Instant,
}

impl Enricher {
    /// An enricher for `node`, writing JSON lines to `log` when given.
    pub fn new(
        node: String,
        attributor: Arc<Attributor>,
        metrics: Arc<Metrics>,
        ring: Arc<EventRing>,
        counters: Arc<StreamCounters>,
        log: Option<EventLog>,
    ) -> Enricher {
        Enricher { node, attributor, metrics, ring, counters, log, cache: HashMap::new(), flushed: Instant::now() }
    }

    /// Handle one record; returns the event for SECCOMP, AppArmor and
    /// SELinux records.
    pub fn handle(&mut self, record_type: u16, text: &str) -> Option<AuditEvent> {
        self.counters.records.fetch_add(1, Ordering::Relaxed);
        if lsm::is_lsm_record(record_type) {
            return self.handle_lsm(text);
        }
        if record_type != AUDIT_SECCOMP {
            return None;
        }
        let r = SeccompRecord::parse(text).ok()?;
        let who = self.who(r.pid);
        let event = AuditEvent {
            time_ms: record_time_ms(text).unwrap_or(0),
            serial: r.serial,
            node: self.node.clone(),
            pid: r.pid,
            comm: r.comm.clone(),
            executable: r.exe.clone(),
            syscall: r.syscall_name().map_or_else(|| r.syscall.to_string(), str::to_owned),
            syscall_nr: r.syscall,
            arch: r.arch().map_or_else(|| format!("{:#x}", r.arch), |a| a.to_string()),
            action: r.action().to_string(),
            container_id: who.container_id.clone(),
            pod: who.pod().cloned(),
            profile: who.profile.clone(),
            lsm: None,
        };
        self.emit(&event);
        Some(event)
    }

    /// The attribution of `pid`, cached for a second.
    fn who(&mut self, pid: u32) -> Attribution {
        let now = Instant::now();
        if self.cache.len() > 4096 {
            self.cache.retain(|_, (t, _)| now.duration_since(*t) < Duration::from_secs(1));
        }
        let fresh = self.cache.get(&pid).filter(|(t, _)| now.duration_since(*t) < Duration::from_secs(1));
        match fresh {
            Some((_, a)) => a.clone(),
            None => {
                let a = self.attributor.attribute(pid);
                self.cache.insert(pid, (now, a.clone()));
                a
            }
        }
    }

    /// An AppArmor or SELinux decision: the process as for seccomp, the
    /// profile from the record (see [`lsm`]).
    fn handle_lsm(&mut self, text: &str) -> Option<AuditEvent> {
        let r = lsm::parse(text)?;
        let who = self.who(r.pid);
        let executable = fs::read_link(format!("/proc/{}/exe", r.pid)).ok().map(|p| p.display().to_string());
        let event = AuditEvent {
            time_ms: record_time_ms(text).unwrap_or(0),
            serial: record_serial(text).unwrap_or(0),
            node: self.node.clone(),
            pid: r.pid,
            comm: r.comm,
            executable,
            syscall: String::new(),
            syscall_nr: 0,
            arch: String::new(),
            action: r.action,
            container_id: who.container_id.clone(),
            pod: who.pod().cloned(),
            profile: r.profile.or(who.profile),
            lsm: Some(r.access),
        };
        self.emit(&event);
        Some(event)
    }

    fn emit(&mut self, event: &AuditEvent) {
        self.counters.events.fetch_add(1, Ordering::Relaxed);
        if event.lsm.is_none() {
            let pod = event.pod.clone().unwrap_or_default();
            self.metrics.seccomp_audit(AuditLabels {
                node: event.node.clone(),
                namespace: pod.namespace,
                pod: pod.pod,
                container: pod.container,
                executable: event.executable.clone().unwrap_or_default(),
                syscall: event.syscall.clone(),
            });
        }
        if let Some(log) = &mut self.log {
            log.write(event);
            // A stream that never pauses must still reach the disk.
            if self.flushed.elapsed() > Duration::from_millis(250) {
                log.flush();
                self.flushed = Instant::now();
            }
        }
        self.ring.push(event.clone());
    }

    /// Flush the event log.
    pub fn flush(&mut self) {
        if let Some(log) = &mut self.log {
            log.flush();
        }
    }
}

/// Largest event log before it is rotated to `FILE.1`.
pub const EVENT_LOG_MAX: u64 = 64 << 20;

/// The JSON-lines event log.
#[derive(Debug)]
pub struct EventLog {
    path: PathBuf,
    out: BufWriter<File>,
    size: u64,
}

impl EventLog {
    /// Append to `path`.
    pub fn open(path: &Path) -> std::io::Result<EventLog> {
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(EventLog { path: path.to_owned(), out: BufWriter::with_capacity(1 << 16, f), size })
    }

    fn write(&mut self, e: &AuditEvent) {
        let Ok(mut line) = serde_json::to_vec(e) else {
            return;
        };
        line.push(b'\n');
        if self.size + line.len() as u64 > EVENT_LOG_MAX {
            let _ = self.out.flush();
            let _ = fs::rename(&self.path, self.path.with_extension("jsonl.1"));
            if let Ok(f) = OpenOptions::new().create(true).append(true).open(&self.path) {
                self.out = BufWriter::with_capacity(1 << 16, f);
                self.size = 0;
            }
        }
        if self.out.write_all(&line).is_ok() {
            self.size += line.len() as u64;
        }
    }

    fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn record_times_too_large_for_milliseconds_are_none() {
        // Found by the `audit_records` fuzz target: multiplied with overflow.
        assert_eq!(record_time_ms("audit(00000000000000010326184333635631330.2:5): x=y"), None);
        assert_eq!(record_time_ms("audit(18446744073709551.615:5): x=y"), Some(u64::MAX));
        assert_eq!(record_time_ms("audit(1764255600.123:42): pid=7"), Some(1_764_255_600_123));
    }

    use super::*;

    #[test]
    fn records_become_attributed_events() {
        let metrics = Arc::new(Metrics::default());
        let ring = Arc::new(EventRing::default());
        let counters = Arc::new(StreamCounters::default());
        let mut e = Enricher::new(
            "n1".into(),
            Arc::new(Attributor::new(Vec::new())),
            metrics.clone(),
            ring.clone(),
            counters.clone(),
            None,
        );
        let me = std::process::id();
        let text = format!("audit(1764255600.123:42): pid={me} comm=\"t\" exe=\"/bin/t\" sig=0 arch=c000003e syscall=39 compat=0 ip=0x1 code=0x7ffc0000");
        assert!(e.handle(1300, "audit(1.0:1): x=y").is_none());
        let ev = e.handle(AUDIT_SECCOMP, &text).unwrap();
        assert_eq!(ev.time_ms, 1_764_255_600_123);
        assert_eq!(ev.syscall, "getpid");
        assert_eq!(ev.action, "SCMP_ACT_LOG");
        assert_eq!(counters.records.load(Ordering::Relaxed), 2);
        assert_eq!(ring.query(None, 0).len(), 1);
        assert!(ring.query(Some("other"), 0).is_empty());
        assert!(metrics.render_audit().contains("syscall=\"getpid\""));
    }
}
