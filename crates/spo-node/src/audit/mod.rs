//! Audit records straight from the kernel.
//!
//! The kernel multicasts every audit record, including the `SECCOMP` (1326)
//! records that `SECCOMP_RET_LOG` and logged denials produce, to the netlink
//! group `AUDIT_NLGRP_READLOG`. Reading that group needs no auditd and
//! is not rate-limited like `/dev/kmsg`, which makes it the source of truth
//! for complain mode and for checking what a filter did. [`AuditSocket`]
//! reads the raw records; [`SeccompRecord`] decodes the one kind this crate
//! needs today.

mod netlink;
mod record;

pub use netlink::{AuditRecord, AuditSocket, AUDIT_NLGRP_READLOG, AUDIT_SECCOMP};
pub use record::SeccompRecord;
