//! An `AF_NETLINK`/`NETLINK_AUDIT` socket bound to the read-log multicast
//! group.
#![allow(unsafe_code)]

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::NodeError;

/// The multicast group that receives a copy of every audit record.
pub const AUDIT_NLGRP_READLOG: u32 = 1;

/// Record type of a seccomp event (`AUDIT_SECCOMP`).
pub const AUDIT_SECCOMP: u16 = 1326;

/// `sizeof(struct nlmsghdr)`.
const NLMSG_HDRLEN: usize = 16;

/// Largest audit message (`MAX_AUDIT_MESSAGE_LENGTH`) plus the header.
const RECV_BUF: usize = 8970 + NLMSG_HDRLEN;

/// One audit record: its type and its text
/// (`audit(1700000000.123:42): key=value ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Record type (`AUDIT_SECCOMP` is 1326).
    pub record_type: u16,
    /// The record text, without trailing NUL bytes or newline.
    pub text: String,
}

/// Receive buffer asked for: bursts of records (a complain-mode run of a
/// busy program logs hundreds of thousands a second) must not overflow
/// between two reads. Each record costs about 1 KiB of socket memory, so
/// 64 MiB absorbs a burst of some 60,000; it is only used while the reader
/// lags. Measured: 4 MiB dropped 39% of a 1,000,000-record flood produced at
/// 240,000 records/s on an idle machine.
const RCVBUF_BYTES: libc::c_int = 64 << 20;

/// A socket receiving every audit record the kernel emits.
#[derive(Debug)]
pub struct AuditSocket {
    fd: OwnedFd,
    buf: Vec<u8>,
    pending: Vec<AuditRecord>,
    overruns: u64,
}

impl AuditSocket {
    /// Open the socket and join `AUDIT_NLGRP_READLOG` (needs
    /// `CAP_AUDIT_READ`). Records emitted from now on are queued until read.
    pub fn open() -> Result<AuditSocket, NodeError> {
        let fd = crate::netlink::bound_socket(libc::SOCK_RAW, libc::NETLINK_AUDIT, AUDIT_NLGRP_READLOG).map_err(
            |(op, source)| NodeError::AuditSocket {
                op: if op == "bind" { "bind to the read-log group of" } else { op },
                source,
            },
        )?;
        // Best effort: the forced size needs CAP_NET_ADMIN, the plain one is
        // capped by net.core.rmem_max; either beats the default.
        for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
            // SAFETY: passes a live c_int and its size.
            let rc = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&RCVBUF_BYTES as *const libc::c_int).cast(),
                    mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc == 0 {
                break;
            }
        }
        Ok(AuditSocket { fd, buf: vec![0; RECV_BUF], pending: Vec::new(), overruns: 0 })
    }

    /// How many times the kernel reported that records were dropped
    /// because this socket's buffer was full (`ENOBUFS`).
    pub fn overruns(&self) -> u64 {
        self.overruns
    }

    /// The next record, waiting at most `timeout`; `None` when none arrived
    /// in time.
    pub fn recv(&mut self, timeout: Duration) -> Result<Option<AuditRecord>, NodeError> {
        if !self.pending.is_empty() {
            return Ok(Some(self.pending.remove(0)));
        }
        let deadline = Instant::now() + timeout;
        loop {
            // Try first, poll only when nothing is queued: under a flood
            // this is one system call per record instead of two.
            // SAFETY: `buf` is a live, writable buffer of the given length.
            let n = unsafe {
                libc::recv(self.fd.as_raw_fd(), self.buf.as_mut_ptr().cast(), self.buf.len(), libc::MSG_DONTWAIT)
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() || !self.wait_readable(left)? {
                            return Ok(None);
                        }
                        continue;
                    }
                    Some(libc::EINTR) => continue,
                    // Records were lost, but the socket still works.
                    Some(libc::ENOBUFS) => {
                        self.overruns += 1;
                        continue;
                    }
                    _ => return Err(NodeError::AuditSocket { op: "receive from", source: e }),
                }
            }
            self.pending = split_messages(&self.buf[..n as usize]);
            if !self.pending.is_empty() {
                return Ok(Some(self.pending.remove(0)));
            }
        }
    }

    /// Read records until one satisfies `pred` or `timeout` passes.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&AuditRecord) -> bool,
    ) -> Result<Option<AuditRecord>, NodeError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left)? {
                Some(r) if pred(&r) => return Ok(Some(r)),
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }

    fn wait_readable(&self, timeout: Duration) -> Result<bool, NodeError> {
        let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
        loop {
            // SAFETY: one live pollfd.
            let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
            if rc >= 0 {
                return Ok(rc > 0);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(NodeError::AuditSocket { op: "poll", source: e });
            }
        }
    }
}

/// The records in one datagram. The audit subsystem sends one record per
/// datagram, but the netlink framing allows several, so walk them all.
/// A header whose length field is out of range is read up to the end of the
/// datagram rather than dropped.
fn split_messages(mut data: &[u8]) -> Vec<AuditRecord> {
    let mut out = Vec::new();
    while data.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let record_type = u16::from_ne_bytes([data[4], data[5]]);
        let end = if (NLMSG_HDRLEN..=data.len()).contains(&len) { len } else { data.len() };
        let payload = &data[NLMSG_HDRLEN..end];
        let text = String::from_utf8_lossy(payload);
        let text = text.trim_end_matches(['\0', '\n']).to_owned();
        out.push(AuditRecord { record_type, text });
        let next = (end + 3) & !3;
        data = data.get(next..).unwrap_or(&[]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(ty: u16, text: &str, len_field: Option<u32>) -> Vec<u8> {
        let len = (NLMSG_HDRLEN + text.len()) as u32;
        let mut v = len_field.unwrap_or(len).to_ne_bytes().to_vec();
        v.extend(ty.to_ne_bytes());
        v.extend([0u8; 10]);
        v.extend(text.as_bytes());
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
        v
    }

    #[test]
    fn datagrams_split_into_records() {
        let mut d = message(1326, "audit(1.2:3): pid=4\0", None);
        d.extend(message(1300, "audit(1.2:4): x=y", None));
        let recs = split_messages(&d);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0], AuditRecord { record_type: 1326, text: "audit(1.2:3): pid=4".into() });
        assert_eq!(recs[1].record_type, 1300);
        assert_eq!(recs[1].text, "audit(1.2:4): x=y");
    }

    #[test]
    fn a_bad_length_field_reads_to_the_end() {
        let d = message(1326, "audit(1.2:3): a=b", Some(9999));
        let recs = split_messages(&d);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].text, "audit(1.2:3): a=b");
        assert!(split_messages(&[1, 2, 3]).is_empty());
    }
}
