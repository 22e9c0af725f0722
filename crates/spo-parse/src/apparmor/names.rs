//! The closed vocabularies of the profile language: keywords, capability
//! names, profile flags, network families and types, signal names and the
//! permission words of each mediation class. One table each, so that the
//! parser's checks and its did-you-mean suggestions agree.

/// Words that may start a rule or a preamble statement.
pub const KEYWORDS: &[&str] = &[
    "abi",
    "alias",
    "all",
    "allow",
    "audit",
    "capability",
    "change_profile",
    "dbus",
    "deny",
    "file",
    "hat",
    "if",
    "include",
    "io_uring",
    "link",
    "mount",
    "mqueue",
    "network",
    "owner",
    "pivot_root",
    "priority",
    "profile",
    "ptrace",
    "remount",
    "rlimit",
    "set",
    "signal",
    "umount",
    "unix",
    "userns",
];

/// Linux capabilities, without the `CAP_` prefix, lowercase (the model's
/// table, so the resource checks and the parser agree).
pub use spo_model::apparmor::CAPABILITIES;

/// Profile flags that `flags=(...)` accepts as plain words.
pub const FLAGS: &[&str] = &[
    "complain",
    "enforce",
    "kill",
    "unconfined",
    "audit",
    "mediate_deleted",
    "delegate_deleted",
    "attach_disconnected",
    "no_attach_disconnected",
    "chroot_relative",
    "namespace_relative",
    "chroot_attach",
    "chroot_no_attach",
];

/// Profile modes: at most one of them per profile.
pub const MODE_FLAGS: &[&str] = &["complain", "enforce", "kill", "unconfined"];

/// Address families (`network inet,`).
pub const NET_DOMAINS: &[&str] = &[
    "unspec",
    "unix",
    "local",
    "inet",
    "ax25",
    "ipx",
    "appletalk",
    "netrom",
    "bridge",
    "atmpvc",
    "x25",
    "inet6",
    "rose",
    "netbeui",
    "security",
    "key",
    "netlink",
    "packet",
    "ash",
    "econet",
    "atmsvc",
    "rds",
    "sna",
    "irda",
    "pppox",
    "wanpipe",
    "llc",
    "ib",
    "mpls",
    "can",
    "tipc",
    "bluetooth",
    "iucv",
    "rxrpc",
    "isdn",
    "phonet",
    "ieee802154",
    "caif",
    "alg",
    "nfc",
    "vsock",
    "kcm",
    "qipcrtr",
    "smc",
    "xdp",
    "mctp",
];

/// Socket types (`network inet stream,`).
pub const NET_TYPES: &[&str] = &["stream", "dgram", "seqpacket", "rdm", "raw", "packet"];

/// Protocols `network` accepts by name.
pub const NET_PROTOCOLS: &[&str] = &["tcp", "udp", "icmp"];

/// Signal names of `set=(...)`.
pub const SIGNALS: &[&str] = &[
    "hup", "int", "quit", "ill", "trap", "abrt", "bus", "fpe", "kill", "usr1", "segv", "usr2", "pipe", "alrm", "term",
    "stkflt", "chld", "cont", "stop", "stp", "ttin", "ttou", "urg", "xcpu", "xfsz", "vtalrm", "prof", "winch", "io",
    "pwr", "sys", "emt", "exists", "lost",
];

/// Permissions of `signal`.
pub const SIGNAL_PERMS: &[&str] = &["send", "receive", "r", "w", "rw", "read", "write"];
/// Permissions of `ptrace`.
pub const PTRACE_PERMS: &[&str] = &["trace", "tracedby", "read", "readby", "r", "w", "rw"];
/// Permissions of `dbus`.
pub const DBUS_PERMS: &[&str] = &["send", "receive", "bind", "eavesdrop", "r", "w", "rw", "read", "write"];
/// Permissions of `unix` (and of `network` in its newer, fine-grained form).
pub const UNIX_PERMS: &[&str] = &[
    "create", "bind", "listen", "accept", "connect", "shutdown", "getattr", "setattr", "getopt", "setopt", "send",
    "receive", "r", "w", "rw", "read", "write",
];
/// Permissions of `mqueue`.
pub const MQUEUE_PERMS: &[&str] =
    &["create", "open", "delete", "getattr", "setattr", "read", "write", "r", "w", "rw", "wr"];
/// Permissions of `userns`.
pub const USERNS_PERMS: &[&str] = &["create"];
/// Permissions of `io_uring`.
pub const IO_URING_PERMS: &[&str] = &["sqpoll", "override_creds"];

/// Resource limits of `set rlimit`.
pub const RLIMITS: &[&str] = &[
    "cpu",
    "fsize",
    "data",
    "stack",
    "core",
    "rss",
    "nproc",
    "nofile",
    "ofile",
    "memlock",
    "as",
    "locks",
    "sigpending",
    "msgqueue",
    "nice",
    "rtprio",
    "rttime",
];

/// Exec qualifiers: what may stand before `x`.
pub const EXEC_QUALIFIERS: &[&str] =
    &["i", "p", "P", "c", "C", "u", "U", "pi", "Pi", "ci", "Ci", "pu", "PU", "cu", "CU"];

/// Common whole permission words, for suggestions.
pub const COMMON_FILE_PERMS: &[&str] = &[
    "r", "w", "rw", "rwk", "rwl", "rwlk", "mr", "rm", "ix", "px", "Px", "cx", "Cx", "ux", "Ux", "pix", "Pix", "cix",
    "Cix", "pux", "PUx", "cux", "CUx", "rix", "mrix", "rpx", "rPx", "rcx", "rCx", "l", "k", "a",
];

/// Is `word` a capability name?
pub fn is_capability(word: &str) -> bool {
    CAPABILITIES.contains(&word)
}
