//! Validation of profiles exactly as `spoc validate` does it, for every
//! place that must judge a profile: the command line, and the operator's
//! admission webhook, which must reject what `spoc validate` rejects with
//! the same located message. One implementation keeps the two from
//! drifting apart.
//!
//! [`check_file`] takes any file (seccomp JSON, custom resources in YAML or
//! JSON, CIL, AppArmor text); [`check_documents`] takes JSON/YAML text
//! whatever its name (the webhook names an object `kind/namespace/name`).
//! Both return diagnostics grouped by file, with the text they point into,
//! and [`render`] prints them rustc-style or as JSON lines.

pub mod apparmor;
mod detect;
mod error;
pub mod render;
pub mod schema;
pub mod selinux;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use spo_parse::cil::Base;
use spo_parse::document::{kind_of, parse_documents_with, DocKind};

pub use detect::{detect, has_resource, FileKind};
pub use error::ValidateError;
pub use spo_model::seccomp::policy::SyscallLimit;
pub use spo_parse::{Diagnostic, Limits, SourceMap};

/// Diagnostics of one file, with the text they point into.
pub type FileDiagnostics = (PathBuf, String, Vec<Diagnostic>);

/// Resource kinds handled by the SELinux checks.
const SELINUX_KINDS: &[&str] = &["SelinuxProfile", "RawSelinuxProfile"];
/// Every resource kind validation reads: the profiles, and SPO's other
/// kinds (judged against their CRD schemas, [`schema`]).
pub const KNOWN_KINDS: &[&str] = &[
    "SeccompProfile",
    "SelinuxProfile",
    "RawSelinuxProfile",
    "AppArmorProfile",
    "ProfileBinding",
    "ProfileRecording",
    "SecurityProfileNodeStatus",
    "SecurityProfilesOperatorDaemon",
];

/// What a validation checks against.
#[derive(Debug, Clone)]
pub struct Options {
    /// CIL declarations to resolve names against instead of the built-in
    /// container base (files or directories of `.cil` files).
    pub cil_base: Vec<PathBuf>,
    /// Where AppArmor `#include <...>` files are found (default
    /// `/etc/apparmor.d`).
    pub include: Vec<PathBuf>,
    /// Seccomp: refuse what runc and crun skip with a warning (unknown
    /// syscall names, rules with the default action). On by default, so
    /// the admission webhook refuses a typo a runtime would silently
    /// drop; `spoc validate` follows the runtimes unless `--strict`.
    pub strict: bool,
    /// Further directories AppArmor `#include "..."` may read from (none
    /// by default; `spoc` adds the current directory, where such names are
    /// resolved).
    pub quoted_include: Vec<PathBuf>,
    /// What the input may cost: the same limits for `spoc`, `spod` and
    /// the admission webhook.
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cil_base: Vec::new(),
            include: Vec::new(),
            strict: true,
            quoted_include: Vec::new(),
            limits: Limits::default(),
        }
    }
}

/// A validator that loads its CIL base once, when a profile first needs
/// it, for callers that check many profiles (the base is the costly part
/// to build, and files of other kinds never need it).
#[derive(Debug)]
pub struct Validator {
    opts: Options,
    base: OnceLock<Base>,
}

impl Validator {
    /// A validator checking against what `opts` names.
    pub fn new(opts: &Options) -> Validator {
        Validator { opts: opts.clone(), base: OnceLock::new() }
    }

    /// The CIL base, loaded on first use.
    pub fn base(&self) -> Result<&Base, ValidateError> {
        if let Some(b) = self.base.get() {
            return Ok(b);
        }
        let loaded = selinux::load_base_limited(&self.opts.cil_base, &self.opts.limits)?;
        Ok(self.base.get_or_init(|| loaded))
    }

    /// Check one file of any kind; the result may include other files
    /// (AppArmor includes). The first group is always `path`'s.
    pub fn check_file(&self, path: &Path, text: &str) -> Result<Vec<FileDiagnostics>, ValidateError> {
        let own = |d: Vec<Diagnostic>| vec![(path.to_path_buf(), text.to_owned(), d)];
        Ok(match detect(path, text) {
            FileKind::Documents => self.check_documents(path, text)?,
            FileKind::Cil => own(selinux::validate_limited(path, text, self.base()?, &self.opts.limits)),
            FileKind::AppArmor => apparmor::validate_opts(path, text, &self.opts),
        })
    }

    /// Check JSON/YAML documents (OCI seccomp profiles, custom resources),
    /// whatever `path` is called. The first group is always `path`'s.
    pub fn check_documents(&self, path: &Path, text: &str) -> Result<Vec<FileDiagnostics>, ValidateError> {
        self.check_documents_limited(path, text, &SyscallLimit::default())
    }

    /// [`Validator::check_documents`], and every `SeccompProfile` must stay
    /// within the cluster's `limit` (the daemon configuration's
    /// `security.allowedSyscalls`), each crossing located.
    pub fn check_documents_limited(
        &self,
        path: &Path,
        text: &str,
        limit: &SyscallLimit,
    ) -> Result<Vec<FileDiagnostics>, ValidateError> {
        let limits = &self.opts.limits;
        let (stray, blanked) = spo_parse::seccomp::stray_bytes(text).unzip();
        let (docs, mut diags) = parse_documents_with(blanked.as_deref().unwrap_or(text), limits);
        diags.extend(stray);
        let seccomp = spo_model::seccomp::ValidateOptions { strict: self.opts.strict };
        // Everything found so far is a syntax error; the other kinds'
        // readers would only repeat it.
        let syntax_ok = diags.iter().all(|d| !d.is_error());
        let (mut selinux, mut apparmor) = (false, false);
        for doc in &docs {
            match kind_of(doc) {
                DocKind::SeccompJson => diags.extend(spo_parse::seccomp::lower_document_with(doc, &seccomp, limits).1),
                DocKind::Resource(k) if k == "SeccompProfile" => {
                    let (lowered, d) = spo_parse::seccomp::lower_document_with(doc, &seccomp, limits);
                    diags.extend(d);
                    if let Some(l) = lowered {
                        for p in limit.problems(&l.spec) {
                            let mut d = Diagnostic::error(doc.span_of(&p.path), p.message);
                            d.help = p.help;
                            diags.push(d);
                        }
                    }
                    diags.extend(oci_base(doc));
                }
                DocKind::Resource(k) if SELINUX_KINDS.contains(&k.as_str()) => selinux = true,
                DocKind::Resource(k) if k == "AppArmorProfile" => apparmor = true,
                DocKind::Resource(k) if schema::SCHEMA_KINDS.contains(&k.as_str()) => {
                    diags.extend(schema::check(doc, &k))
                }
                DocKind::Resource(k) => {
                    let span = doc.get("kind").map_or(doc.span, |n| n.span);
                    let known = KNOWN_KINDS.iter().copied();
                    let mut d = Diagnostic::error(span, format!("unsupported kind `{k}`"));
                    d.help = Some(match spo_model::suggest::did_you_mean(&k, known) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("spoc validates {}", KNOWN_KINDS.join(", ")),
                    });
                    diags.push(d);
                }
                DocKind::Unknown => diags.push(
                    Diagnostic::error(
                        spo_parse::Span::new(doc.span.start, doc.span.start + 1),
                        "not a profile: no `kind` and no `defaultAction`",
                    )
                    .with_help("write a custom resource (apiVersion, kind, spec) or an OCI seccomp object"),
                ),
            }
        }
        if selinux && syntax_ok {
            diags.extend(selinux::validate_limited(path, text, self.base()?, limits));
        }
        let mut others = Vec::new();
        if apparmor && syntax_ok {
            for (p, t, d) in apparmor::validate_opts(path, text, &self.opts) {
                if p == path {
                    diags.extend(d);
                } else {
                    others.push((p, t, d));
                }
            }
        }
        if docs.is_empty() && diags.is_empty() {
            diags.push(Diagnostic::error(spo_parse::Span::point(0), "the file holds no profile"));
        }
        spo_parse::snap_to_text(text, &mut diags);
        diags.sort_by_key(|d| d.span.start);
        diags.dedup();
        let mut groups = vec![(path.to_path_buf(), text.to_owned(), diags)];
        groups.extend(others);
        Ok(groups)
    }
}

/// A warning for an `oci://` base profile: it lives in a registry, so its
/// rules are neither checked here nor known to spod.
fn oci_base(doc: &spo_parse::value::Node) -> Option<Diagnostic> {
    let base = doc.get("spec")?.get("baseProfileName")?;
    let name = base.as_str()?;
    name.starts_with("oci://").then(|| {
        Diagnostic::warning(base.span, format!("base profile `{name}` is an OCI artifact: its rules are not checked"))
            .with_help(
                "spod cannot pull profiles from a registry and reports the profile as Error; \
                 copy the base into a SeccompProfile and name it here",
            )
    })
}

/// Check one file of any kind with `opts` (see [`Validator::check_file`]).
pub fn check_file(path: &Path, text: &str, opts: &Options) -> Result<Vec<FileDiagnostics>, ValidateError> {
    Validator::new(opts).check_file(path, text)
}

/// Check JSON/YAML text with `opts` (see [`Validator::check_documents`]).
pub fn check_documents(path: &Path, text: &str, opts: &Options) -> Result<Vec<FileDiagnostics>, ValidateError> {
    Validator::new(opts).check_documents(path, text)
}

/// Number of (errors, warnings) over every group.
pub fn counts(groups: &[FileDiagnostics]) -> (usize, usize) {
    groups.iter().flat_map(|(_, _, d)| d).fold((0, 0), |(e, w), d| if d.is_error() { (e + 1, w) } else { (e, w + 1) })
}

/// Every group rendered rustc-style, in order, without colour.
pub fn render_human(groups: &[FileDiagnostics]) -> String {
    groups.iter().map(|(p, t, d)| render::human(p, t, d, false)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPO: &str = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\nmetadata:\n  name: web\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n  syscalls:\n  - action: SCMP_ACT_ALLOW\n    names:\n    - mkdirr\n";

    #[test]
    fn documents_are_checked_whatever_their_name() {
        let groups = check_documents(Path::new("seccompprofile/prod/web"), TYPO, &Options::default()).unwrap();
        // Strict by default (admission): an unknown syscall name is an error.
        assert_eq!(counts(&groups).0, 1, "{}", render_human(&groups));
        let out = render_human(&groups);
        assert!(out.contains("--> seccompprofile/prod/web:10:7"), "{out}");
        assert!(out.contains("did you mean `mkdir`?"), "{out}");
    }

    #[test]
    fn the_cluster_syscall_limit_is_located() {
        let ok = TYPO.replace("mkdirr", "mkdir");
        let limit = SyscallLimit { allowed_syscalls: vec!["read".into()], checked_actions: vec![] };
        let v = Validator::new(&Options::default());
        let groups = v.check_documents_limited(Path::new("seccompprofile/web"), &ok, &limit).unwrap();
        let out = render_human(&groups);
        assert_eq!(counts(&groups).0, 1, "{out}");
        assert!(out.contains("`mkdir` is not in the cluster's allowed syscalls"), "{out}");
        assert!(out.contains("--> seccompprofile/web:10:7"), "{out}");
        assert_eq!(counts(&v.check_documents(Path::new("w"), &ok).unwrap()).0, 0, "no limit, no error");
    }

    #[test]
    fn oci_bases_are_warned_about() {
        let text = TYPO
            .replace("mkdirr", "mkdir")
            .replace("  syscalls:", "  baseProfileName: oci://ghcr.io/x/y:1\n  syscalls:");
        let groups = check_documents(Path::new("w.yaml"), &text, &Options::default()).unwrap();
        assert_eq!(counts(&groups).0, 0, "{}", render_human(&groups));
        assert!(render_human(&groups).contains("is an OCI artifact"), "{}", render_human(&groups));
        let plain = TYPO.replace("mkdirr", "mkdir");
        assert!(
            !render_human(&check_documents(Path::new("w.yaml"), &plain, &Options::default()).unwrap()).contains("OCI")
        );
    }

    #[test]
    fn lenient_validation_follows_the_runtimes() {
        let opts = Options { strict: false, ..Options::default() };
        let groups = check_documents(Path::new("web.yaml"), TYPO, &opts).unwrap();
        assert_eq!(counts(&groups).0, 0, "{}", render_human(&groups));
        assert!(render_human(&groups).contains("unknown syscall `mkdirr`; runc and crun skip it"));
        let stray = check_documents(Path::new("p.json"), "x{\"defaultAction\": \"SCMP_ACT_ALLOW\"}", &opts).unwrap();
        assert!(render_human(&stray).contains("stray bytes `x` before the JSON object"), "{}", render_human(&stray));
    }

    #[test]
    fn unknown_kinds_get_a_suggestion() {
        let text = "apiVersion: v1\nkind: SeccompProfil\nspec: {}\n";
        let groups = check_file(Path::new("x.yaml"), text, &Options::default()).unwrap();
        assert_eq!(counts(&groups).0, 1);
        assert_eq!(groups[0].2[0].help.as_deref(), Some("did you mean `SeccompProfile`?"));
    }

    #[test]
    fn selinux_manifests_use_the_cil_base() {
        let text = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SelinuxProfile\nmetadata:\n  name: web\nspec:\n  inherit:\n  - name: container\n  allow:\n    var_log_t:\n      file: [opne]\n";
        let groups = check_documents(Path::new("selinuxprofile/prod/web"), text, &Options::default()).unwrap();
        assert!(counts(&groups).0 >= 1, "{}", render_human(&groups));
        let missing = Options { cil_base: vec![PathBuf::from("/nonexistent/base.cil")], ..Options::default() };
        let err = check_documents(Path::new("x"), text, &missing).unwrap_err();
        assert!(err.to_string().starts_with("cannot read /nonexistent/base.cil"), "{err}");
    }
}
