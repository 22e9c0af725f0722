//! Who forked whom, from the kernel's process events, so that a process
//! which exited before its audit record was read is still attributed.
//!
//! The enricher attributes a record through `/proc/PID` (its cgroup, its
//! environment). A short-lived child, such as a shell's `uname`, is often
//! gone by the time its record is read, and its calls were lost: SPO's log
//! enricher has the same gap. A new process starts in its parent's cgroup
//! with its parent's environment, and container processes do not move
//! between cgroups, so the nearest ancestor still alive speaks for it. The
//! kernel announces every fork on the netlink proc connector
//! (`NETLINK_CONNECTOR`, `CN_IDX_PROC`, needs `CAP_NET_ADMIN`); this module
//! keeps the last [`CAPACITY`] child-to-parent pairs.
#![allow(unsafe_code)]

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::NodeError;

/// How many forks are remembered (the oldest are forgotten first).
pub const CAPACITY: usize = 1 << 14;
/// How many generations a lookup climbs.
const MAX_GENERATIONS: usize = 16;

/// Child process id to parent process id, for the latest forks.
#[derive(Debug, Default)]
pub struct Lineage {
    inner: Mutex<Forks>,
}

#[derive(Debug, Default)]
struct Forks {
    parent: HashMap<u32, u32>,
    order: VecDeque<u32>,
}

impl Lineage {
    /// Remember that process `child` was forked by process `parent`. A
    /// reused pid replaces the older entry.
    pub fn record_fork(&self, child: u32, parent: u32) {
        let Ok(mut g) = self.inner.lock() else { return };
        if g.parent.insert(child, parent).is_none() {
            g.order.push_back(child);
        }
        while g.order.len() > CAPACITY {
            if let Some(old) = g.order.pop_front() {
                g.parent.remove(&old);
            }
        }
    }

    /// The parent of `pid`, when its fork was seen.
    pub fn parent(&self, pid: u32) -> Option<u32> {
        self.inner.lock().ok()?.parent.get(&pid).copied()
    }

    /// The nearest ancestor of `pid` (`pid` excluded) that still has a
    /// directory under `proc_root`.
    pub fn nearest_live_ancestor(&self, pid: u32, proc_root: &Path) -> Option<u32> {
        let mut at = pid;
        for _ in 0..MAX_GENERATIONS {
            at = self.parent(at)?;
            if at <= 1 {
                // init, or the kernel: not a container's process.
                return None;
            }
            if proc_root.join(at.to_string()).exists() {
                return Some(at);
            }
        }
        None
    }
}

/// `CN_IDX_PROC` and `CN_VAL_PROC`: the proc connector's id.
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
/// `PROC_CN_MCAST_LISTEN`.
const MCAST_LISTEN: u32 = 1;
/// `PROC_EVENT_FORK`.
const PROC_EVENT_FORK: u32 = 1;
/// `sizeof(struct nlmsghdr)` and `sizeof(struct cn_msg)`.
const NLMSG_HDRLEN: usize = 16;
const CN_MSG_LEN: usize = 20;

/// A subscription to the kernel's process events.
#[derive(Debug)]
pub struct ProcEvents {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl ProcEvents {
    /// Open the connector socket and ask for process events.
    pub fn open() -> Result<ProcEvents, NodeError> {
        let fd = crate::netlink::bound_socket(libc::SOCK_DGRAM, libc::NETLINK_CONNECTOR, CN_IDX_PROC)
            .map_err(|(op, source)| NodeError::ProcEvents { op, source })?;
        let request = listen_request();
        // SAFETY: `request` is a live buffer of the given length.
        let n = unsafe { libc::send(fd.as_raw_fd(), request.as_ptr().cast(), request.len(), 0) };
        if n < 0 {
            return Err(NodeError::ProcEvents { op: "subscribe on", source: io::Error::last_os_error() });
        }
        Ok(ProcEvents { fd, buf: vec![0; 4096] })
    }

    /// The forks announced within `timeout`, as (child, parent) process
    /// ids; empty when none came. Thread creations are left out.
    pub fn forks(&mut self, timeout: Duration) -> Result<Vec<(u32, u32)>, NodeError> {
        let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one live pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc <= 0 {
            return Ok(Vec::new());
        }
        // SAFETY: `buf` is a live, writable buffer of the given length.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), self.buf.as_mut_ptr().cast(), self.buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                // Events were lost (a fork storm), the socket still works.
                Some(libc::EINTR | libc::ENOBUFS) => Ok(Vec::new()),
                _ => Err(NodeError::ProcEvents { op: "receive from", source: e }),
            };
        }
        Ok(parse_forks(&self.buf[..n as usize]))
    }
}

/// The `PROC_CN_MCAST_LISTEN` request: nlmsghdr, cn_msg, the operation.
fn listen_request() -> Vec<u8> {
    let total = NLMSG_HDRLEN + CN_MSG_LEN + 4;
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel's
    m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // ack
    m.extend_from_slice(&4u16.to_ne_bytes()); // len
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&MCAST_LISTEN.to_ne_bytes());
    m
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The process forks in one datagram of netlink messages. A fork event's
/// data (`struct proc_event`) is `what`, `cpu`, a 64-bit timestamp, then
/// parent pid and tgid, child pid and tgid.
fn parse_forks(datagram: &[u8]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(len) = u32_at(datagram, at).map(|l| l as usize) {
        if len < NLMSG_HDRLEN || at + len > datagram.len() {
            break;
        }
        let msg = &datagram[at..at + len];
        let event = NLMSG_HDRLEN + CN_MSG_LEN;
        if u32_at(msg, event) == Some(PROC_EVENT_FORK) {
            let data = event + 16;
            if let (Some(parent_tgid), Some(child_pid), Some(child_tgid)) =
                (u32_at(msg, data + 4), u32_at(msg, data + 8), u32_at(msg, data + 12))
            {
                // A new thread shares its process id; only new processes.
                if child_pid == child_tgid {
                    out.push((child_tgid, parent_tgid));
                }
            }
        }
        at += (len + 3) & !3;
    }
    out
}

/// Keep `lineage` filled from the kernel's process events, on a thread of
/// its own. Fails when the connector cannot be opened (no privilege, or a
/// kernel without `CONFIG_PROC_EVENTS`).
pub fn follow(lineage: Arc<Lineage>) -> Result<std::thread::JoinHandle<()>, NodeError> {
    let mut events = ProcEvents::open()?;
    std::thread::Builder::new()
        .name("spod-forks".into())
        .spawn(move || loop {
            match events.forks(Duration::from_secs(1)) {
                Ok(forks) => {
                    for (child, parent) in forks {
                        lineage.record_fork(child, parent);
                    }
                }
                Err(e) => {
                    eprintln!("spod: process events: {e}; exited processes stay unattributed from now on");
                    return;
                }
            }
        })
        .map_err(|source| NodeError::ProcEvents { op: "start a thread for", source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fork_message(parent_tgid: u32, child_pid: u32, child_tgid: u32) -> Vec<u8> {
        let mut m = Vec::new();
        let total = (NLMSG_HDRLEN + CN_MSG_LEN + 32) as u32;
        m.extend_from_slice(&total.to_ne_bytes());
        m.extend_from_slice(&[0; 12]);
        m.extend_from_slice(&[0; CN_MSG_LEN]);
        m.extend_from_slice(&PROC_EVENT_FORK.to_ne_bytes());
        m.extend_from_slice(&[0; 12]); // cpu, timestamp
        for v in [parent_tgid, parent_tgid, child_pid, child_tgid] {
            m.extend_from_slice(&v.to_ne_bytes());
        }
        m
    }

    #[test]
    fn forks_of_processes_are_read_and_threads_left_out() {
        let mut d = fork_message(10, 11, 11);
        d.extend(fork_message(10, 12, 10));
        assert_eq!(parse_forks(&d), [(11, 10)]);
        assert_eq!(parse_forks(&d[..20]), []);
    }

    #[test]
    fn the_oldest_forks_are_forgotten_first() {
        let l = Lineage::default();
        for child in 2..(CAPACITY as u32 + 12) {
            l.record_fork(child, 1);
        }
        assert_eq!(l.parent(2), None);
        assert_eq!(l.parent(CAPACITY as u32 + 11), Some(1));
        assert_eq!(l.inner.lock().unwrap().parent.len(), CAPACITY);
    }

    #[test]
    fn the_nearest_live_ancestor_speaks_for_a_gone_process() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("100")).unwrap();
        let l = Lineage::default();
        l.record_fork(200, 100);
        l.record_fork(300, 200);
        assert_eq!(l.nearest_live_ancestor(300, root.path()), Some(100));
        assert_eq!(l.nearest_live_ancestor(100, root.path()), None);
        l.record_fork(400, 1);
        assert_eq!(l.nearest_live_ancestor(400, root.path()), None, "init speaks for nobody");
    }
}
