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
}
