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
