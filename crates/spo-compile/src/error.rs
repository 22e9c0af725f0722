use thiserror::Error;

/// Errors of the compilers.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CompileError {
    /// The filter needs more instructions than the kernel accepts.
    #[error("the filter needs {len} BPF instructions, more than the kernel's limit of {max}")]
    TooLong {
        /// Instructions needed.
        len: usize,
        /// `BPF_MAXINSNS`.
        max: usize,
    },
    /// A filter names an architecture spo-rs has no syscall table for.
    #[error("architecture {arch} is not supported: spo-rs has no syscall table for it")]
    UnsupportedArch {
        /// The `SCMP_ARCH_*` name.
        arch: String,
    },
    /// A filter accepts no architecture at all.
    #[error("the filter accepts no architecture")]
    NoArch,
    /// Bytes that are not a whole number of `struct sock_filter`.
    #[error("{len} bytes are not a whole number of 8-byte BPF instructions")]
    BadBpfLength {
        /// Byte count.
        len: usize,
    },
    /// A program the kernel's seccomp checker would refuse.
    #[error("BPF instruction {index} is invalid for seccomp: {reason}")]
    BadProgram {
        /// Index of the offending instruction.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A SELinux profile failed validation, so no CIL was produced.
    #[error("the profile is invalid: {count} problem(s), first: {first}")]
    InvalidProfile {
        /// Number of errors.
        count: usize,
        /// The first, with its field path.
        first: String,
    },
    /// A compiled program returns something else than the filter's
    /// reference semantics.
    #[error("the program returns {got:#010x} for syscall {nr} of architecture {token:#x} with arguments {args:x?}, the filter says {want:#010x}")]
    Disagrees {
        /// `seccomp_data.arch`.
        token: u32,
        /// Syscall number.
        nr: u32,
        /// Arguments.
        args: [u64; 6],
        /// What the program returned.
        got: u32,
        /// What `Filter::evaluate` says.
        want: u32,
    },
}
