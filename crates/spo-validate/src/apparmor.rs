//! AppArmor: profile-language files (with their includes) and
//! `AppArmorProfile` manifests (their `policy` text located in the
//! manifest).

use std::path::{Path, PathBuf};

use spo_parse::apparmor::resource::{looks_like_resource, validate_resource};
use spo_parse::apparmor::{FileReport, Options, Validator};
use spo_parse::Diagnostic;

/// Diagnostics grouped by file: (path, text, diagnostics).
pub type Reports = Vec<(PathBuf, String, Vec<Diagnostic>)>;

/// Parser options finding includes in `includes` (default `/etc/apparmor.d`).
pub fn options(includes: &[PathBuf]) -> Options {
    if includes.is_empty() {
        Options::default()
    } else {
        Options { include_dirs: includes.to_vec(), ..Options::default() }
    }
}

/// Parser options for a validation with `opts`: its include directories,
/// the directories quoted includes may also read, its limits.
pub fn options_of(opts: &crate::Options) -> Options {
    Options { local_dirs: opts.quoted_include.clone(), limits: opts.limits, ..options(&opts.include) }
}

/// The parser's reports as (path, text, diagnostics) groups.
pub fn to_reports(reports: Vec<FileReport>) -> Reports {
    reports.into_iter().map(|r| (r.path, r.text, r.diagnostics)).collect()
}

/// Every diagnostic of a profile-language file (with its includes, found
/// in `includes`, default `/etc/apparmor.d`) or of an `AppArmorProfile`
/// manifest, grouped by file; the first group is `path`'s.
pub fn validate(path: &Path, text: &str, includes: &[PathBuf]) -> Reports {
    validate_opts(path, text, &crate::Options { include: includes.to_vec(), ..crate::Options::default() })
}

/// [`validate`] with every option of a validation (includes, limits).
pub fn validate_opts(path: &Path, text: &str, opts: &crate::Options) -> Reports {
    let mut v = Validator::new(options_of(opts));
    if looks_like_resource(text) {
        return to_reports(validate_resource(path, text, &mut v).1);
    }
    to_reports(v.validate(path, text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spo_parse::SourceMap;

    fn first_error_line(reports: &Reports) -> (PathBuf, usize) {
        let (p, text, diags) = reports.iter().find(|(_, _, d)| d.iter().any(Diagnostic::is_error)).expect("an error");
        let d = diags.iter().find(|d| d.is_error()).expect("an error");
        (p.clone(), SourceMap::new(text).line_col(d.span.start).0)
    }

    #[test]
    fn raw_text_errors_carry_their_line() {
        let text = "profile p {\n  /etc/hosts r,\n  capability sys_admn,\n}\n";
        let r = validate(Path::new("p.profile"), text, &[]);
        assert_eq!(first_error_line(&r), (PathBuf::from("p.profile"), 3));
    }

    #[test]
    fn policy_errors_are_located_in_the_manifest() {
        let text = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: AppArmorProfile\nmetadata:\n  name: p\nspec:\n  policy: |\n    profile p {\n      /etc/hosts rz,\n    }\n";
        let r = validate(Path::new("p.yaml"), text, &[]);
        assert_eq!(first_error_line(&r), (PathBuf::from("p.yaml"), 8));
        let d = r[0].2.iter().find(|d| d.is_error()).expect("an error");
        assert_eq!(&text[d.span.start..d.span.end], "z");
    }

    #[test]
    fn a_policy_must_name_its_profile_like_the_object() {
        let manifest = |profile: &str| {
            format!(
                "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: AppArmorProfile\nmetadata:\n  \
                 name: web\nspec:\n  policy: |\n    profile helper {{\n    }}\n    profile {profile} flags=(attach_disconnected) {{\n      /etc/hosts r,\n    }}\n"
            )
        };
        let ok = validate(Path::new("web.yaml"), &manifest("web"), &[]);
        assert!(ok.iter().all(|(_, _, d)| !d.iter().any(Diagnostic::is_error)), "{ok:?}");

        let text = manifest("nginx");
        let r = validate(Path::new("web.yaml"), &text, &[]);
        assert_eq!(first_error_line(&r), (PathBuf::from("web.yaml"), 7));
        let d = r[0].2.iter().find(|d| d.is_error()).expect("an error");
        assert_eq!(&text[d.span.start..d.span.end], "helper");
        assert_eq!(
            d.message,
            "spec.policy declares no profile named `web`; its top-level profiles are `helper`, `nginx`"
        );
        assert!(d.help.as_deref().unwrap_or_default().contains("`localhost/web`"), "{d:?}");
    }
}
