//! The profile controllers: what the cluster sees of a profile's life.
//!
//! For every `SeccompProfile`, `SelinuxProfile`, `RawSelinuxProfile` and
//! `AppArmorProfile` the operator
//!
//! - aggregates the per-node `SecurityProfileNodeStatus` objects the node
//!   agents write into the profile's `status.status`, a `Ready` condition
//!   carrying the nodes' error messages, and the reference pods write
//!   (`status.localhostProfile`, `operator/NAME.json` as SPO publishes
//!   it, and `status.pinnedProfile`, the content-addressed version every
//!   node runs; `status.usage` for SELinux);
//! - lists the pods using the profile in `status.activeWorkloads`;
//! - holds deletion with the finalizer
//!   `security-profiles-operator.x-k8s.io/in-use` while a pod uses the
//!   profile or a node still has it installed, and releases it as soon as
//!   neither is true. A node agent removes a deleted profile from its node
//!   (and then its node status) only when the status says `Terminating`
//!   with no active workloads.
//!
//! A node's install error or refusal also becomes a Warning Event on the
//! profile, with SPO's reasons ([`events`]).
//!
//! Beside them, [`daemon`] keeps the daemon configuration `spod` (SPO's
//! `SecurityProfilesOperatorDaemon`).
//!
//! The API server is the only state: caches of its objects feed pure
//! functions ([`aggregate`], [`references`], [`status`]) and every write
//! is idempotent, so the operator can be killed at any moment and a fresh
//! one carries on where it stopped.

pub mod aggregate;
pub mod daemon;
pub mod events;
pub mod finalizer;
pub mod kinds;
pub mod metrics;
pub mod pods;
mod reconcile;
pub mod recordings;
pub mod references;
mod runner;
pub mod status;

pub use finalizer::FINALIZER;
pub use kinds::ProfileKind;
pub use metrics::Metrics;
pub use runner::{chain, run, ControllerOptions};
pub use status::FIELD_MANAGER;
