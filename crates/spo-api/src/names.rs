//! Names the programs of spo-rs agree on: labels, finalizers and where a
//! profile is found on a node.

pub use crate::crds::{GROUP, VERSION};

/// Namespace label that turns bindings on for the pods of a namespace.
pub const ENABLE_BINDING_LABEL: &str = "spo.x-k8s.io/enable-binding";

/// The finalizer the operator puts on every profile while pods use it.
pub const FINALIZER: &str = "security-profiles-operator.x-k8s.io/in-use";

/// Prefix of every seccomp file the node agent installs, relative to the
/// kubelet's seccomp directory.
pub const SECCOMP_PREFIX: &str = "operator/";

/// Localhost reference of a seccomp profile's current file,
/// `operator/NAME.json`, as SPO v1 writes it.
pub fn seccomp_current(name: &str) -> String {
    format!("{SECCOMP_PREFIX}{name}.json")
}

/// Localhost reference of one immutable version of a seccomp profile,
/// `operator/NAME/SHA256.json` (spo-rs: versioned rollouts).
pub fn seccomp_version(name: &str, digest: &str) -> String {
    format!("{SECCOMP_PREFIX}{name}/{digest}.json")
}

/// The SELinux type of a (raw) SELinux profile: `NAME.process`.
pub fn selinux_type(name: &str) -> String {
    format!("{name}.process")
}
