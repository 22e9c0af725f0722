//! Where audit records come from, best first.
//!
//! 1. The audit netlink multicast group ([`crate::audit::AuditSocket`]):
//!    complete, no auditd needed, not rate-limited.
//! 2. auditd's log file, followed like `tail -F` (survives rotation).
//! 3. `/dev/kmsg`, where the kernel prints audit records when no auditd
//!    listens: rate-limited to a few per second, the last resort.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::audit::{AuditSocket, AUDIT_SECCOMP};
use crate::NodeError;

/// The default auditd log.
pub const AUDITD_LOG: &str = "/var/log/audit/audit.log";

/// One record: type and text (`audit(T:N): k=v ...`).
pub type RawRecord = (u16, String);

/// A stream of audit records.
pub trait RecordSource: Send {
    /// Short name for status (`netlink`, `auditd-log`, `kmsg`).
    fn name(&self) -> &'static str;
    /// The next record, waiting at most `timeout`.
    fn next(&mut self, timeout: Duration) -> Result<Option<RawRecord>, NodeError>;
    /// Records lost so far (buffer overruns the source can see).
    fn lost(&self) -> u64 {
        0
    }
}

/// The netlink multicast source.
///
/// A thread of its own drains the socket into a bounded queue, so the
/// kernel's burst rate is met by a loop that only receives, while the
/// enricher does its slower work on the other side of the queue. When the
/// queue is full the reader waits, the socket buffer fills, and the kernel's
/// drops show up as overruns in [`RecordSource::lost`].
///
/// The queue is an unbounded channel held to `QUEUE` entries by a
/// counter, not a preallocated bounded one: memory follows the backlog
/// (an idle node keeps none), where a bounded channel of that size would
/// cost about 24 MB from the start.
#[derive(Debug)]
pub struct NetlinkSource {
    rx: mpsc::Receiver<Result<RawRecord, NodeError>>,
    queued: Arc<AtomicUsize>,
    overruns: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

/// Records the reader may queue ahead of the enricher.
const QUEUE: usize = 1 << 18;

impl NetlinkSource {
    /// Join the read-log group and start draining it.
    pub fn open() -> Result<NetlinkSource, NodeError> {
        let mut sock = AuditSocket::open()?;
        let (tx, rx) = mpsc::channel();
        let overruns = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicUsize::new(0));
        let (seen, halt, backlog) = (Arc::clone(&overruns), Arc::clone(&stop), Arc::clone(&queued));
        std::thread::Builder::new()
            .name("audit-netlink".into())
            .spawn(move || {
                while !halt.load(Ordering::Relaxed) {
                    let item = match sock.recv(Duration::from_millis(100)) {
                        Ok(None) => continue,
                        Ok(Some(r)) => Ok((r.record_type, r.text)),
                        Err(e) => Err(e),
                    };
                    seen.store(sock.overruns(), Ordering::Relaxed);
                    let failed = item.is_err();
                    while backlog.load(Ordering::Acquire) >= QUEUE {
                        if halt.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    backlog.fetch_add(1, Ordering::AcqRel);
                    if tx.send(item).is_err() || failed {
                        return;
                    }
                }
            })
            .map_err(|source| NodeError::AuditSocket { op: "start the reader of", source })?;
        Ok(NetlinkSource { rx, queued, overruns, stop })
    }
}

impl Drop for NetlinkSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl RecordSource for NetlinkSource {
    fn name(&self) -> &'static str {
        "netlink"
    }

    fn next(&mut self, timeout: Duration) -> Result<Option<RawRecord>, NodeError> {
        match self.rx.recv_timeout(timeout) {
            Ok(item) => {
                self.queued.fetch_sub(1, Ordering::AcqRel);
                item.map(Some)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(NodeError::AuditSocket { op: "read from", source: io::Error::other("the reader thread stopped") })
            }
        }
    }

    /// Receive-buffer overruns the kernel reported (each may have dropped
    /// several records).
    fn lost(&self) -> u64 {
        self.overruns.load(Ordering::Relaxed)
    }
}

/// Follows auditd's log.
#[derive(Debug)]
pub struct AuditdLogSource {
    path: PathBuf,
    reader: Option<(BufReader<File>, u64)>,
    line: String,
}

impl AuditdLogSource {
    /// Follow `path` from its current end.
    pub fn open(path: &Path) -> Result<AuditdLogSource, NodeError> {
        let mut f = File::open(path).map_err(|source| NodeError::Io { op: "open", path: path.to_owned(), source })?;
        let ino = f.metadata().map(|m| m.ino()).unwrap_or(0);
        let _ = f.seek(SeekFrom::End(0));
        Ok(AuditdLogSource { path: path.to_owned(), reader: Some((BufReader::new(f), ino)), line: String::new() })
    }
}

/// A record from an auditd log line (`type=SECCOMP msg=audit(...): ...`).
pub fn parse_auditd_line(line: &str) -> Option<RawRecord> {
    let line = line.trim_end();
    let rest = line.strip_prefix("type=")?;
    let (ty, rest) = rest.split_once(' ')?;
    let text = rest.strip_prefix("msg=")?;
    // ENRICHED format appends interpreted fields after a 0x1d separator.
    let text = text.split('\u{1d}').next().unwrap_or(text);
    let ty = match ty {
        "SECCOMP" => AUDIT_SECCOMP,
        other => {
            other.strip_prefix("UNKNOWN[").and_then(|n| n.strip_suffix(']')).and_then(|n| n.parse().ok()).unwrap_or(0)
        }
    };
    Some((ty, text.to_owned()))
}

impl RecordSource for AuditdLogSource {
    fn name(&self) -> &'static str {
        "auditd-log"
    }

    fn next(&mut self, timeout: Duration) -> Result<Option<RawRecord>, NodeError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((r, _)) = &mut self.reader {
                self.line.clear();
                if r.read_line(&mut self.line).unwrap_or(0) > 0 && self.line.ends_with('\n') {
                    if let Some(rec) = parse_auditd_line(&self.line) {
                        return Ok(Some(rec));
                    }
                    continue;
                }
                // A partial line is re-read once complete.
                if !self.line.is_empty() {
                    let back = self.line.len() as i64;
                    let _ = r.seek_relative(-back);
                }
            }
            // Rotated? Reopen from the start of the new file.
            let now_ino = std::fs::metadata(&self.path).map(|m| m.ino()).ok();
            if now_ino.is_some() && now_ino != self.reader.as_ref().map(|(_, i)| *i) {
                if let Ok(f) = File::open(&self.path) {
                    self.reader = Some((BufReader::new(f), now_ino.unwrap_or(0)));
                    continue;
                }
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reads the kernel log.
#[derive(Debug)]
pub struct KmsgSource {
    file: File,
    buf: Vec<u8>,
}

impl KmsgSource {
    /// Open `/dev/kmsg` at its end.
    pub fn open() -> Result<KmsgSource, NodeError> {
        let path = Path::new("/dev/kmsg");
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|source| NodeError::Io { op: "open", path: path.to_owned(), source })?;
        let _ = file.seek(SeekFrom::End(0));
        Ok(KmsgSource { file, buf: vec![0; 8192] })
    }
}

/// A record from a kmsg entry (`PRI,SEQ,TS,-;audit: type=1326 audit(...): ...`).
pub fn parse_kmsg_line(line: &str) -> Option<RawRecord> {
    let msg = line.split_once(';')?.1.trim_end();
    let rest = msg.strip_prefix("audit: type=")?;
    let (ty, text) = rest.split_once(' ')?;
    Some((ty.parse().ok()?, text.to_owned()))
}

impl RecordSource for KmsgSource {
    fn name(&self) -> &'static str {
        "kmsg"
    }

    fn next(&mut self, timeout: Duration) -> Result<Option<RawRecord>, NodeError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.file.read(&mut self.buf) {
                Ok(n) => {
                    let line = String::from_utf8_lossy(&self.buf[..n]);
                    if let Some(r) = parse_kmsg_line(&line) {
                        return Ok(Some(r));
                    }
                }
                // EPIPE: entries were overwritten before we read them.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(source) => return Err(NodeError::Io { op: "read", path: PathBuf::from("/dev/kmsg"), source }),
            }
        }
    }
}

/// The best source this machine offers, or why there is none.
pub fn open_best(auditd_log: &Path) -> Result<Box<dyn RecordSource>, String> {
    let mut why = Vec::new();
    match NetlinkSource::open() {
        Ok(s) => return Ok(Box::new(s)),
        Err(e) => why.push(format!("netlink: {e}")),
    }
    match AuditdLogSource::open(auditd_log) {
        Ok(s) => return Ok(Box::new(s)),
        Err(e) => why.push(format!("auditd log: {e}")),
    }
    match KmsgSource::open() {
        Ok(s) => Ok(Box::new(s)),
        Err(e) => {
            why.push(format!("kmsg: {e}"));
            Err(why.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auditd_and_kmsg_lines_yield_records() {
        let l = "type=SECCOMP msg=audit(1764255600.123:42): pid=7 sig=0 arch=c000003e syscall=39 compat=0 ip=0x1 code=0x7ffc0000\u{1d}UID=\"root\"\n";
        let (ty, text) = parse_auditd_line(l).unwrap();
        assert_eq!(ty, AUDIT_SECCOMP);
        assert!(text.starts_with("audit(1764255600.123:42): pid=7"));
        assert!(text.ends_with("code=0x7ffc0000"));
        assert_eq!(parse_auditd_line("type=UNKNOWN[1326] msg=audit(1.0:1): a=b").unwrap().0, 1326);
        let k = "5,1234,5678,-;audit: type=1326 audit(1764255600.123:42): pid=7 syscall=39\n";
        let (ty, text) = parse_kmsg_line(k).unwrap();
        assert_eq!(ty, 1326);
        assert_eq!(text, "audit(1764255600.123:42): pid=7 syscall=39");
        assert!(parse_kmsg_line("6,1,2,-;eth0: link up").is_none());
    }

    #[test]
    fn the_auditd_log_is_followed_across_partial_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.log");
        std::fs::write(&p, "type=SECCOMP msg=audit(1.0:1): old=1\n").unwrap();
        let mut s = AuditdLogSource::open(&p).unwrap();
        assert!(s.next(Duration::from_millis(30)).unwrap().is_none());
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        use std::io::Write;
        f.write_all(b"type=SECCOMP msg=audit(2.0:2): ne").unwrap();
        assert!(s.next(Duration::from_millis(30)).unwrap().is_none());
        f.write_all(b"w=1\n").unwrap();
        let (_, t) = s.next(Duration::from_millis(100)).unwrap().unwrap();
        assert_eq!(t, "audit(2.0:2): new=1");
    }
}
