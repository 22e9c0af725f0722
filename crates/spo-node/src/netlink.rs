//! The one way spod opens a netlink socket: a descriptor of the given
//! protocol bound to multicast `groups`, the kernel choosing the port.
//! Used by the audit socket and by the process-events subscription.
#![allow(unsafe_code)]

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Open an `AF_NETLINK` socket of `kind` (`SOCK_RAW`, `SOCK_DGRAM`) for
/// `protocol` and bind it to `groups`. On failure, which step failed
/// (`"open"`, `"bind"`) and why.
pub(crate) fn bound_socket(
    kind: libc::c_int,
    protocol: libc::c_int,
    groups: u32,
) -> Result<OwnedFd, (&'static str, io::Error)> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_NETLINK, kind | libc::SOCK_CLOEXEC, protocol) };
    if raw < 0 {
        return Err(("open", io::Error::last_os_error()));
    }
    // SAFETY: `raw` is a fresh descriptor owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
    let mut addr: libc::sockaddr_nl = unsafe { mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_groups = groups;
    // SAFETY: `addr` is a live sockaddr_nl and its exact size is passed.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(("bind", io::Error::last_os_error()));
    }
    Ok(fd)
}
