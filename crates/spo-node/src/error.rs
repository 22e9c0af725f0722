use thiserror::Error;

/// Errors of the node agent library.
#[derive(Debug, Error)]
pub enum NodeError {
    /// An external tool could not be started.
    #[error("cannot run `{tool}`")]
    Spawn {
        /// The program.
        tool: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file operation failed.
    #[error("cannot {op} `{path}`")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// On which path.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A BPF program's byte length is not a whole number of instructions.
    #[error("a BPF program is a whole number of 8-byte instructions, got {bytes} bytes")]
    BpfLength {
        /// Length in bytes.
        bytes: usize,
    },
    /// A BPF program is empty or longer than the kernel accepts.
    #[error("the kernel accepts 1 to {max} BPF instructions, got {insns}")]
    BpfSize {
        /// Instructions in the program.
        insns: usize,
        /// `BPF_MAXINSNS`.
        max: usize,
    },
    /// `prctl(PR_SET_NO_NEW_PRIVS)` failed.
    #[error("cannot set no_new_privs before installing the seccomp filter")]
    NoNewPrivs {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The kernel does not accept these seccomp(2) flags.
    #[error("the kernel does not accept the seccomp flags {flags}")]
    SeccompFlags {
        /// The flags, by name.
        flags: String,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
    /// The kernel refused a seccomp filter.
    #[error("the kernel refused the seccomp filter ({insns} instructions, flags {flags}): {why}")]
    SeccompRefused {
        /// Program length.
        insns: usize,
        /// The flags, by name.
        flags: String,
        /// What the errno means here.
        why: &'static str,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
    /// The audit netlink socket failed.
    #[error("cannot {op} the audit netlink socket")]
    AuditSocket {
        /// What was attempted.
        op: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The process-events netlink socket (the proc connector) failed.
    #[error("cannot {op} the process-events netlink socket")]
    ProcEvents {
        /// What was attempted.
        op: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An audit record lacks a field or has a malformed one.
    #[error("audit record has no valid `{field}`: {text}")]
    AuditRecord {
        /// The field.
        field: &'static str,
        /// The record text.
        text: String,
    },
    /// An external tool ran and refused its input.
    #[error("`{tool}` failed for `{subject}` (exit status {status:?})")]
    ToolFailed {
        /// The program.
        tool: String,
        /// What it was working on (a module name).
        subject: String,
        /// Exit status, if it exited.
        status: Option<i32>,
        /// What it printed.
        output: String,
    },
    /// A recorder could not set up, run or read its kernel facility.
    #[error("{recorder} recorder: cannot {op}")]
    Recorder {
        /// Which recorder (`ebpf`, `ptrace`, `logs`).
        recorder: &'static str,
        /// What was attempted.
        op: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The kernel's verifier refused the recorder's eBPF program.
    #[error("the kernel refused the eBPF recorder program: {log}")]
    BpfRefused {
        /// The verifier's log, last lines.
        log: String,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
    /// The recorded workload could not be run as asked.
    #[error("{what}")]
    Workload {
        /// What went wrong.
        what: String,
    },
    /// An agent's HTTP endpoint could not be reached.
    #[error("cannot reach the agent at `{addr}`")]
    Connect {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server could not listen.
    #[error("cannot listen on `{addr}`: {reason}")]
    Listen {
        /// The address.
        addr: String,
        /// Why (the server library reports no typed error).
        reason: String,
    },
}
