//! The harness's one error type.

use std::path::PathBuf;

/// What can go wrong while building, starting or stopping the cluster.
#[derive(Debug, thiserror::Error)]
pub enum E2eError {
    /// A file or directory could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A program could not be started.
    #[error("cannot run {program}")]
    Spawn {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A program ran and failed.
    #[error("{program} failed ({status}): {stderr}")]
    Command {
        /// The program.
        program: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The end of its standard error.
        stderr: String,
    },
    /// The control plane binaries are not built yet.
    #[error("Kubernetes binaries missing in {dir} (run `spo-e2e build` or e2e/k8s/build.sh)")]
    NotBuilt {
        /// Where they were looked for.
        dir: PathBuf,
    },
    /// A component exited while the cluster was starting.
    #[error("{component} exited during start-up; last log lines:\n{log_tail}")]
    Exited {
        /// Which component.
        component: String,
        /// The end of its log.
        log_tail: String,
    },
    /// A component did not become ready in time.
    #[error("{what} not ready after {seconds} s")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        seconds: u64,
    },
    /// The directory already holds a running cluster.
    #[error("{dir} already has a running cluster (stop it with `spo-e2e down --dir {dir}`)", dir = dir.display())]
    AlreadyRunning {
        /// The cluster directory.
        dir: PathBuf,
    },
    /// `spo-operator` or `spod` is not built.
    #[error(
        "{binary} not found (looked at {looked}; build it with `cargo build -p spo-operator -p spod` or set {var})"
    )]
    SpoNotBuilt {
        /// The binary.
        binary: String,
        /// Where it was looked for.
        looked: String,
        /// The variable that names it.
        var: String,
    },
    /// A manifest could not be understood.
    #[error("bad manifest {path}: {reason}")]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The in-cluster install cannot proceed.
    #[error("cannot install spo-rs in the cluster: {reason}")]
    InCluster {
        /// What is missing or went wrong, and what to do.
        reason: String,
    },
    /// The Kubernetes client failed.
    #[error("kubernetes client: {context}")]
    Kube {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
}

impl E2eError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> E2eError {
        let path = path.into();
        move |source| E2eError::Io { path, source }
    }
}
