//! The seam between the agent and each kind of profile.
//!
//! The agent only scans, orders and reports; an [`Installer`] knows how to
//! turn one manifest document into bytes (validating with the same parsers
//! as `spoc`) and how to put those bytes where their consumer reads them.
//! Seccomp is built in ([`super::seccomp::SeccompInstaller`]); AppArmor and
//! SELinux installers plug in through the same trait.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use spo_parse::value::Node;
use spo_parse::Diagnostic;

use crate::status::{Location, Mode, ProfileKind};
use crate::NodeError;

/// One profile document found in a manifest file.
#[derive(Debug, Clone)]
pub struct ManifestDoc {
    /// Its kind.
    pub kind: ProfileKind,
    /// Its name (already checked with `check_object_name`).
    pub name: String,
    /// Where it starts.
    pub location: Location,
    /// The spanned tree (spans index the file's text).
    pub node: Node,
    /// `spec.disabled: true` or `spec.state: Disabled`.
    pub disabled: bool,
    /// `spec.baseProfileName`, when set.
    pub base: Option<String>,
    /// Enforce or complain.
    pub mode: Mode,
    /// The whole file's text (shared, not copied), so text nested in a
    /// field (a raw policy) can be located line by line.
    pub source: std::sync::Arc<str>,
    /// The limits its file was read within; compiling it later (rules,
    /// names) stays within them.
    pub limits: spo_parse::Limits,
}

impl ManifestDoc {
    /// Whether the tree was dropped to save memory (see
    /// [`super::manifests::ParsedFile::strip`]); the span is kept.
    pub fn is_stripped(&self) -> bool {
        matches!(self.node.kind, spo_parse::value::Kind::Null)
    }
}

/// Every document currently in the manifests, by kind and name, for
/// installers that resolve references between profiles.
pub type Catalog<'a> = BTreeMap<(ProfileKind, String), &'a ManifestDoc>;

/// A document turned into what gets installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// The bytes to install.
    pub bytes: Vec<u8>,
    /// Warnings worth reporting even though the profile is valid.
    pub warnings: Vec<Diagnostic>,
}

/// Why a document could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// It is invalid: every problem, with spans into the file's text.
    Invalid(Vec<Diagnostic>),
    /// It is valid but waits for something (a base profile).
    Waiting(String),
    /// The cluster's policy forbids it (the daemon configuration's
    /// `allowedSyscalls`): unlike an invalid profile, no earlier version
    /// stays in force either.
    Forbidden(Vec<Diagnostic>),
}

/// Where an installed version is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// SHA-256 of the installed bytes.
    pub hash: String,
    /// The file consumers reference.
    pub path: PathBuf,
    /// How consumers name it (seccomp: `operator/NAME.json`).
    pub reference: Option<String>,
    /// Whether anything was written.
    pub written: bool,
    /// Something the user should know (compiled but not loaded, ...).
    pub note: Option<String>,
    /// Whether the kernel enforces it: false where the node cannot (an
    /// AppArmor profile without AppArmor), which the status reports as
    /// [`Phase::Unsupported`](crate::status::Phase::Unsupported), not
    /// `Installed`.
    pub enforced: bool,
}

/// Compiles and installs one or more profile kinds.
pub trait Installer: Send + Sync {
    /// The kinds this installer handles.
    fn kinds(&self) -> &[ProfileKind];

    /// Validate and compile `doc` (complain mode applied).
    fn compile(&self, doc: &ManifestDoc, catalog: &Catalog<'_>) -> Result<Compiled, Rejected>;

    /// Put `compiled` in force as the current version of `name`, without
    /// disturbing the version in force until the new one is complete.
    fn install(&mut self, kind: ProfileKind, name: &str, compiled: &Compiled) -> Result<Installed, NodeError>;

    /// Install several at once; the default installs one by one. Stores
    /// that can share the cost of durability (one sync for the batch)
    /// override it. One result per item, in order.
    fn install_many(&mut self, items: &[(ProfileKind, &str, &Compiled)]) -> Vec<Result<Installed, NodeError>> {
        items.iter().map(|(k, n, c)| self.install(*k, n, c)).collect()
    }

    /// Take `name` out of force.
    fn remove(&mut self, kind: ProfileKind, name: &str) -> Result<(), NodeError>;

    /// Drop stored versions of `name` other than `keep`.
    fn prune(&mut self, kind: ProfileKind, name: &str, keep: &BTreeSet<String>) -> Result<(), NodeError>;

    /// The hash of the version of `name` currently in force, if any (read
    /// from disk, so a restarted agent knows what survived).
    fn current(&self, kind: ProfileKind, name: &str) -> Option<Installed>;

    /// Every name this installer has something installed for.
    fn installed_names(&self, kind: ProfileKind) -> BTreeSet<String>;

    /// Judge profiles by the policy in `shared` (the cluster's limits);
    /// called when the installer is added to an agent. Installers that
    /// the policy does not concern ignore it.
    fn follow_policy(&mut self, _shared: std::sync::Arc<super::Shared>) {}
}
