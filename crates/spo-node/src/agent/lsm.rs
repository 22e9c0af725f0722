//! AppArmor and SELinux profiles through the installers of their modules.
//!
//! Both follow the same recipe as seccomp: the manifest is validated and
//! compiled with the parsers `spoc` uses, the result is handed to the
//! kernel-facing tool (`apparmor_parser`, `semodule`), and only when the
//! tool accepted it is the text recorded, content-addressed, under
//! `STATE/{apparmor,selinux}/profiles`. The tool's refusal leaves the
//! version in force untouched (`apparmor_parser -r` and `semodule -i`
//! replace atomically or not at all) and is reported as `Error`.
//!
//! Complain mode: AppArmor profiles are rendered with `flags=(complain)`;
//! SELinux profiles get `(typepermissive process)` in their block.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use spo_parse::Diagnostic;

use super::installer::{Catalog, Compiled, Installed, Installer, ManifestDoc, Rejected};
use crate::apparmor::{AppArmorInstaller, KernelState, Outcome};
use crate::selinux::SelinuxInstaller;
use crate::status::{Mode, ProfileKind};
use crate::store::VersionedStore;
use crate::NodeError;

fn invalid(doc: &ManifestDoc, message: String) -> Rejected {
    Rejected::Invalid(vec![Diagnostic::error(doc.node.span, message)])
}

fn errors_only(diags: Vec<Diagnostic>) -> Option<Vec<Diagnostic>> {
    let errs: Vec<Diagnostic> = diags.into_iter().filter(Diagnostic::is_error).collect();
    (!errs.is_empty()).then_some(errs)
}

/// The AppArmor profile name of an agent name: AppArmor names are global
/// on a node; a name with a `/` (none reaches here from a cluster, whose
/// profiles are cluster-wide) loads under its last part.
fn profile_name(name: &str) -> &str {
    name.rsplit_once('/').map_or(name, |(_, n)| n)
}

/// A raw `spec.policy`, checked as `spoc validate` checks it (syntax,
/// vocabulary, includes, and a top-level profile named like the object,
/// which is what pods reference), and put in complain mode when asked.
/// Its problems are located in the manifest, line by line through the
/// block that holds the policy.
fn raw_policy(
    doc: &ManifestDoc,
    profile: &spo_model::apparmor::AppArmorProfile,
    policy: &str,
    complain: bool,
) -> Result<String, Rejected> {
    use spo_parse::apparmor::resource::{policy_name_problem, profile_headers};
    let mut validator = spo_parse::apparmor::Validator::new(spo_parse::apparmor::Options::default());
    let mut problems: Vec<Diagnostic> = validator
        .validate(Path::new("spec.policy"), policy)
        .into_iter()
        .next()
        .map(|r| r.diagnostics)
        .unwrap_or_default();
    problems.extend(policy_name_problem(profile.name(), policy));
    if let Some(errs) = errors_only(problems) {
        let located = spo_parse::apparmor::resource::locate_policy_diagnostics(&doc.source, &doc.node, policy, errs);
        return Err(Rejected::Invalid(located));
    }
    Ok(if complain {
        spo_compile::apparmor::set_complain(policy, &profile_headers(&spo_parse::apparmor::parse(policy).file))
    } else {
        policy.to_owned()
    })
}

/// `AppArmorProfile` manifests through an [`AppArmorInstaller`].
///
/// A profile is `enforced` (and so `Installed` in the status) only while
/// the kernel lists it; on a kernel without AppArmor it is compiled, kept,
/// and reported `Unsupported` with the reason. What is in force is asked
/// of the kernel, not remembered, so a restarted agent reloads a profile
/// the kernel lost (a reboot) instead of reporting it installed.
#[derive(Debug)]
pub struct AppArmorProfiles<T> {
    store: VersionedStore,
    tool: T,
}

impl<T: AppArmorInstaller> AppArmorProfiles<T> {
    /// Record installed texts under `state/apparmor/profiles`.
    pub fn new(state: &Path, tool: T) -> Result<Self, NodeError> {
        Ok(AppArmorProfiles { store: VersionedStore::open(state.join("apparmor/profiles"), "apparmor")?, tool })
    }
}

impl<T: AppArmorInstaller + Send + Sync> Installer for AppArmorProfiles<T> {
    fn kinds(&self) -> &[ProfileKind] {
        &[ProfileKind::AppArmorProfile]
    }

    fn compile(&self, doc: &ManifestDoc, _catalog: &Catalog<'_>) -> Result<Compiled, Rejected> {
        let (profile, diags) = spo_parse::apparmor::resource::lower_document(&doc.node);
        if let Some(errs) = errors_only(diags) {
            return Err(Rejected::Invalid(errs));
        }
        let Some(profile) = profile else {
            return Err(invalid(doc, "not an AppArmorProfile".into()));
        };
        let complain = doc.mode == Mode::Complain;
        let text = match &profile.spec.policy {
            Some(policy) => raw_policy(doc, &profile, policy, complain)?,
            None => {
                let opts = spo_compile::apparmor::Options { complain };
                spo_compile::apparmor::render(&profile, &opts).map_err(|e| invalid(doc, e.to_string()))?
            }
        };
        Ok(Compiled { bytes: text.into_bytes(), warnings: Vec::new() })
    }

    fn install(&mut self, _kind: ProfileKind, name: &str, compiled: &Compiled) -> Result<Installed, NodeError> {
        let text = String::from_utf8_lossy(&compiled.bytes);
        let outcome = self.tool.install(profile_name(name), &text)?;
        let s = self.store.install(name, &compiled.bytes)?;
        let (enforced, note) = match outcome {
            Outcome::CompiledOnly { reason } | Outcome::NotLoaded { reason } => (false, Some(reason)),
            Outcome::Loaded | Outcome::Removed => (true, None),
        };
        Ok(Installed {
            hash: s.hash,
            path: s.path,
            reference: Some(profile_name(name).to_owned()),
            written: s.written,
            note,
            enforced,
        })
    }

    fn remove(&mut self, _kind: ProfileKind, name: &str) -> Result<(), NodeError> {
        if let Ok(text) = std::fs::read_to_string(self.store.current_path(name)) {
            self.tool.remove(profile_name(name), &text)?;
        }
        self.store.remove_current(name)
    }

    fn prune(&mut self, _kind: ProfileKind, name: &str, keep: &BTreeSet<String>) -> Result<(), NodeError> {
        self.store.prune(name, keep).map(drop)
    }

    fn current(&self, _kind: ProfileKind, name: &str) -> Option<Installed> {
        let hash = self.store.current_hash(name)?;
        let (enforced, note) = match self.tool.kernel_state(profile_name(name)) {
            KernelState::Loaded => (true, None),
            // Stored but not in the kernel: nothing is in force, so the
            // agent installs it again.
            KernelState::NotLoaded => return None,
            KernelState::NoAppArmor { reason } => (false, Some(reason)),
        };
        Some(Installed {
            hash,
            path: self.store.current_path(name),
            reference: Some(profile_name(name).to_owned()),
            written: false,
            note,
            enforced,
        })
    }

    fn installed_names(&self, _kind: ProfileKind) -> BTreeSet<String> {
        self.store.names()
    }
}

/// `SelinuxProfile` and `RawSelinuxProfile` manifests through a
/// [`SelinuxInstaller`] (for a standalone node, `semodule` on a policy
/// store under `STATE/selinux/root`).
#[derive(Debug)]
pub struct SelinuxProfiles<T> {
    store: VersionedStore,
    tool: T,
    /// The cluster's deny lists and inheritable templates, when an agent
    /// follows a policy.
    shared: Option<std::sync::Arc<super::Shared>>,
}

impl<T: SelinuxInstaller> SelinuxProfiles<T> {
    /// Record installed modules under `state/selinux/profiles`.
    pub fn new(state: &Path, tool: T) -> Result<Self, NodeError> {
        Ok(SelinuxProfiles { store: VersionedStore::open(state.join("selinux/profiles"), "cil")?, tool, shared: None })
    }
}

/// The policy root a standalone agent uses: `STATE/selinux/root`, seeded
/// once from the system's store `/var/lib/selinux/STORE` (Debian's
/// `selinux-policy-default` is `default`, Fedora's and RHEL's `targeted`;
/// see [`store_name`]) when it has none. Returns why not when it cannot.
pub fn offline_policy_root(state: &Path, store: &str) -> Result<PathBuf, String> {
    if !spo_model::selinux::is_cil_identifier(store) {
        return Err(format!("`{store}` is not an SELinux store name (letters, digits, `_`, `-`)"));
    }
    let root = state.join("selinux/root");
    if root.join("var/lib/selinux").join(store).join("active").exists() {
        return Ok(root);
    }
    let system = Path::new("/var/lib/selinux").join(store);
    if !system.join("active").exists() {
        return Err(format!(
            "no SELinux policy store {}: install the node's policy (Debian: selinux-policy-default), \
             name another store with --selinux-store-name, or seed STATE/selinux/root",
            system.display()
        ));
    }
    std::fs::create_dir_all(root.join("var/lib/selinux")).map_err(|e| e.to_string())?;
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(&system)
        .arg(root.join("var/lib/selinux"))
        .status()
        .map_err(|e| format!("running cp: {e}"))?
        .success();
    if ok {
        Ok(root)
    } else {
        Err(format!("copying the policy store {} failed", system.display()))
    }
}

/// The SELinux policy store a node uses: `SELINUXTYPE=` in
/// `ETC_SELINUX/config` (`/etc/selinux` on a node, mounted into spod's
/// pod), else `default`, Debian's name when no configuration says.
pub fn store_name(etc_selinux: &Path) -> String {
    std::fs::read_to_string(etc_selinux.join("config"))
        .ok()
        .and_then(|text| parse_selinux_type(&text))
        .unwrap_or_else(|| "default".to_owned())
}

/// `SELINUXTYPE=` of an SELinux `config` file (comments and blanks
/// skipped, quotes removed), if it names a store.
fn parse_selinux_type(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix("SELINUXTYPE="))
        .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_owned())
        .filter(|v| !v.is_empty())
}

/// The module name of a compiled CIL text: its block name.
fn module_name(cil: &str) -> Option<&str> {
    cil.strip_prefix("(block ")?.split(|c: char| c.is_whitespace() || c == ')').next()
}

impl<T: SelinuxInstaller + Send + Sync> Installer for SelinuxProfiles<T> {
    fn kinds(&self) -> &[ProfileKind] {
        &[ProfileKind::SelinuxProfile, ProfileKind::RawSelinuxProfile]
    }

    fn compile(&self, doc: &ManifestDoc, _catalog: &Catalog<'_>) -> Result<Compiled, Rejected> {
        use spo_parse::cil::cr::{lower, Manifest};
        let mut diags = Vec::new();
        let manifest = lower(&doc.node, &mut diags);
        if let Some(errs) = errors_only(diags) {
            return Err(Rejected::Invalid(errs));
        }
        let mut cil = match manifest {
            Some(Manifest::Profile(p)) => {
                let deny = self.shared.as_ref().map(|s| s.policy().selinux).unwrap_or_default();
                // Each problem located in the manifest, as `spoc validate`
                // locates it.
                let errors: Vec<Diagnostic> = p
                    .validate(&deny)
                    .iter()
                    .filter(|p| p.severity == spo_model::Severity::Error)
                    .map(|p| spo_parse::value::lower::problem_to_diagnostic(&doc.node, p))
                    .collect();
                if !errors.is_empty() {
                    return Err(Rejected::Invalid(errors));
                }
                spo_compile::cil::selinux_profile_to_cil(&p, &deny).map_err(|e| invalid(doc, e.to_string()))?
            }
            Some(Manifest::Raw(r)) => spo_compile::cil::wrap_raw(&r).cil,
            None => return Err(invalid(doc, "not a SELinux profile".into())),
        };
        if doc.mode == Mode::Complain && !cil.contains("(typepermissive process)") {
            if let Some(end) = cil.trim_end().strip_suffix(')').map(str::len) {
                cil.insert_str(end, "    (typepermissive process)\n");
            }
        }
        Ok(Compiled { bytes: cil.into_bytes(), warnings: Vec::new() })
    }

    fn install(&mut self, _kind: ProfileKind, name: &str, compiled: &Compiled) -> Result<Installed, NodeError> {
        let cil = String::from_utf8_lossy(&compiled.bytes);
        let module = module_name(&cil).unwrap_or(name).to_owned();
        self.tool.install(&module, &cil)?;
        let s = self.store.install(name, &compiled.bytes)?;
        Ok(Installed {
            hash: s.hash,
            path: s.path,
            reference: Some(format!("{module}.process")),
            written: s.written,
            note: None,
            enforced: true,
        })
    }

    /// One policy rebuild for the whole batch (`semodule` rebuilds and
    /// reloads the entire policy per call: tens of seconds on a node).
    /// When the batch is refused, each module is tried alone so that every
    /// refusal is reported against its own profile and the good ones go in.
    fn install_many(&mut self, items: &[(ProfileKind, &str, &Compiled)]) -> Vec<Result<Installed, NodeError>> {
        if items.len() < 2 {
            return items.iter().map(|(k, n, c)| self.install(*k, n, c)).collect();
        }
        let texts: Vec<(String, String)> = items
            .iter()
            .map(|(_, name, c)| {
                let cil = String::from_utf8_lossy(&c.bytes).into_owned();
                (module_name(&cil).unwrap_or(name).to_owned(), cil)
            })
            .collect();
        let batch: Vec<(&str, &str)> = texts.iter().map(|(m, c)| (m.as_str(), c.as_str())).collect();
        if self.tool.install_many(&batch).is_err() {
            return items.iter().map(|(k, n, c)| self.install(*k, n, c)).collect();
        }
        items
            .iter()
            .zip(&texts)
            .map(|((_, name, c), (module, _))| {
                let s = self.store.install(name, &c.bytes)?;
                Ok(Installed {
                    hash: s.hash,
                    path: s.path,
                    reference: Some(format!("{module}.process")),
                    written: s.written,
                    note: None,
                    enforced: true,
                })
            })
            .collect()
    }

    fn remove(&mut self, _kind: ProfileKind, name: &str) -> Result<(), NodeError> {
        if let Ok(cil) = std::fs::read_to_string(self.store.current_path(name)) {
            if let Some(module) = module_name(&cil) {
                self.tool.remove(module)?;
            }
        }
        self.store.remove_current(name)
    }

    fn prune(&mut self, _kind: ProfileKind, name: &str, keep: &BTreeSet<String>) -> Result<(), NodeError> {
        self.store.prune(name, keep).map(drop)
    }

    fn current(&self, _kind: ProfileKind, name: &str) -> Option<Installed> {
        let cil = std::fs::read_to_string(self.store.current_path(name)).ok()?;
        Some(Installed {
            hash: self.store.current_hash(name)?,
            path: self.store.current_path(name),
            reference: module_name(&cil).map(|m| format!("{m}.process")),
            written: false,
            note: None,
            enforced: true,
        })
    }

    fn installed_names(&self, _kind: ProfileKind) -> BTreeSet<String> {
        self.store.names()
    }

    fn follow_policy(&mut self, shared: std::sync::Arc<super::Shared>) {
        self.shared = Some(shared);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_come_from_the_block() {
        assert_eq!(module_name("(block web_ns\n    (blockinherit container)\n)\n"), Some("web_ns"));
        assert_eq!(module_name("(type x)"), None);
    }

    #[test]
    fn the_store_name_comes_from_the_selinux_config() {
        let fedora =
            "# This file controls the state of SELinux\nSELINUX=enforcing\n#SELINUXTYPE=mls\nSELINUXTYPE=targeted\n";
        assert_eq!(parse_selinux_type(fedora).as_deref(), Some("targeted"));
        assert_eq!(parse_selinux_type("SELINUXTYPE=\"default\"\n").as_deref(), Some("default"));
        assert_eq!(parse_selinux_type("SELINUX=disabled\nSELINUXTYPE=\n"), None);
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(store_name(dir.path()), "default", "no config: Debian's name");
        std::fs::write(dir.path().join("config"), fedora).expect("write");
        assert_eq!(store_name(dir.path()), "targeted");
    }

    #[test]
    fn a_missing_or_bad_store_is_named() {
        let state = tempfile::tempdir().expect("tempdir");
        let err = offline_policy_root(state.path(), "no_such_store").expect_err("missing store");
        assert!(err.contains("/var/lib/selinux/no_such_store") && err.contains("--selinux-store-name"), "{err}");
        let err = offline_policy_root(state.path(), "../etc").expect_err("not a name");
        assert!(err.contains("not an SELinux store name"), "{err}");
    }
}
