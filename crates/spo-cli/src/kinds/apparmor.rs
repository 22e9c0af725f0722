//! `spoc` verbs for AppArmor: validate profile text or `AppArmorProfile`
//! manifests, compile manifests (and raw text, for complain mode) to
//! profile text, install with `apparmor_parser`. Thin: the work is in
//! `spo_parse::apparmor`, `spo_compile::apparmor` and `spo_node::apparmor`.

use std::path::{Path, PathBuf};

use spo_compile::apparmor::{render, set_complain, Options as RenderOptions};
use spo_node::apparmor::{AppArmorInstaller, ApparmorParser, Outcome};
use spo_parse::apparmor::resource::{looks_like_resource, profile_headers, validate_resource};
use spo_parse::apparmor::{parse, Validator};
use spo_parse::{Diagnostic, Span};
pub use spo_validate::apparmor::{options_of, to_reports, Reports};

fn has_errors(reports: &Reports) -> bool {
    reports.iter().any(|(_, _, d)| d.iter().any(Diagnostic::is_error))
}

/// The profile text for `path`: a manifest rendered (every profile in it),
/// or profile text as written; with `complain`, every profile's flags say
/// `complain`. Diagnostics instead when the input has errors.
pub fn compile(path: &Path, text: &str, complain: bool) -> anyhow::Result<Result<String, Reports>> {
    compile_with(path, text, complain, &[])
}

fn compile_with(
    path: &Path,
    text: &str,
    complain: bool,
    includes: &[PathBuf],
) -> anyhow::Result<Result<String, Reports>> {
    let mut v = Validator::new(options_of(&crate::input::validate_options(includes, &[], false)));
    if !looks_like_resource(text) {
        let reports = to_reports(v.validate(path, text));
        if has_errors(&reports) {
            return Ok(Err(reports));
        }
        return Ok(Ok(if complain {
            set_complain(text, &profile_headers(&parse(text).file))
        } else {
            text.to_owned()
        }));
    }
    let (docs, reports) = validate_resource(path, text, &mut v);
    let mut reports = to_reports(reports);
    if has_errors(&reports) {
        return Ok(Err(reports));
    }
    let mut out = Vec::new();
    for doc in &docs {
        let p = &doc.profile;
        let complain = complain || p.is_complain();
        match &p.spec.policy {
            Some(policy) if complain => out.push(set_complain(policy, &profile_headers(&parse(policy).file))),
            Some(policy) => out.push(policy.clone()),
            None => match render(p, &RenderOptions { complain }) {
                Ok(t) => out.push(t),
                Err(e) => {
                    // Validation passed, so this is not expected; report it
                    // at the document all the same.
                    let d = Diagnostic::error(Span::new(doc.root.span.start, doc.root.span.start + 1), e.to_string());
                    reports[0].2.push(d);
                    return Ok(Err(reports));
                }
            },
        }
    }
    Ok(Ok(out.join("\n")))
}

/// Compile `path` and load it with `apparmor_parser -r` where the kernel
/// has AppArmor; elsewhere compile it offline with `apparmor_parser -Q -K`
/// and say that the kernel cannot load it. Returns what happened, or the
/// diagnostics when the input has errors.
pub fn install(
    path: &Path,
    text: &str,
    complain: bool,
    includes: &[PathBuf],
) -> anyhow::Result<Result<String, Reports>> {
    let profile = match compile_with(path, text, complain, includes)? {
        Ok(t) => t,
        Err(r) => return Ok(Err(r)),
    };
    let name = install_name(path);
    let mut parser = ApparmorParser::default();
    if !includes.is_empty() {
        parser.include_dirs = includes.to_vec();
    }
    let outcome = parser.install(&name, &profile)?;
    Ok(Ok(match outcome {
        Outcome::Loaded => format!("{}: loaded into the kernel", path.display()),
        Outcome::CompiledOnly { reason } => format!("{}: {reason}", path.display()),
        Outcome::Removed | Outcome::NotLoaded { .. } => format!("{}: nothing loaded", path.display()),
    }))
}

/// A file name for the profile on the node: the input's stem, made a
/// valid object name.
fn install_name(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let cleaned: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' }).collect();
    let trimmed = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_owned();
    if trimmed.is_empty() {
        "profile".into()
    } else {
        trimmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_with_policy_errors_do_not_compile() {
        let text = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: AppArmorProfile\nmetadata:\n  name: p\nspec:\n  policy: |\n    profile p {\n      /etc/hosts rz,\n    }\n";
        let reports = compile(Path::new("p.yaml"), text, false).expect("compile").expect_err("invalid policy");
        assert!(has_errors(&reports));
    }

    #[test]
    fn compile_renders_manifests_and_sets_complain_on_text() {
        let yaml = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: AppArmorProfile\nmetadata:\n  name: web\nspec:\n  abstract:\n    filesystem:\n      readOnlyPaths: [/etc/hosts]\n";
        let out = compile(Path::new("web.yaml"), yaml, true).expect("compile").expect("no errors");
        assert!(out.contains("profile web flags=(complain,attach_disconnected,mediate_deleted) {"), "{out}");
        assert!(out.contains("  /etc/hosts r,"), "{out}");
        let text = "profile p flags=(attach_disconnected) {\n  /etc/hosts r,\n}\n";
        let out = compile(Path::new("p"), text, true).expect("compile").expect("no errors");
        assert!(out.starts_with("profile p flags=(complain,attach_disconnected) {"), "{out}");
    }

    #[test]
    fn install_compiles_or_loads() {
        let ok =
            std::process::Command::new("apparmor_parser").arg("--version").output().is_ok_and(|o| o.status.success())
                && Path::new("/usr/share/apparmor-features/features").exists()
                && Path::new("/etc/apparmor.d/tunables/global").exists();
        if !ok {
            spo_test_support::skip("apparmor_parser or Debian's profiles missing");
            return;
        }
        let text =
            "include <tunables/global>\nprofile spoc-test {\n  include <abstractions/base>\n  /etc/hosts r,\n}\n";
        let msg = install(Path::new("spoc-test.profile"), text, false, &[]).expect("install").expect("no errors");
        assert!(msg.contains("loaded") || msg.contains("cannot be loaded"), "{msg}");
    }
}
