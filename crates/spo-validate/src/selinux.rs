//! SELinux: CIL files and `SelinuxProfile`/`RawSelinuxProfile` manifests,
//! checked against a CIL base (the shipped container base unless the user
//! names other declarations).

use std::path::{Path, PathBuf};

use spo_model::selinux::DenyLists;
use spo_parse::cil::cr::validate_manifests_with;
use spo_parse::cil::{self, Base};
use spo_parse::files::{read_text, resolve_within};
use spo_parse::{Diagnostic, Limits, SourceMap};

use crate::ValidateError;

/// Whether `path`/`text` is plain CIL rather than a YAML/JSON manifest.
pub fn is_cil(path: &Path, text: &str) -> bool {
    path.extension().is_some_and(|e| e == "cil") || text.trim_start().starts_with(['(', ';'])
}

/// The base to check against: the shipped default, or the CIL files (or
/// directories of them) in `bases`.
pub fn load_base(bases: &[PathBuf]) -> Result<Base, ValidateError> {
    load_base_limited(bases, &Limits::default())
}

/// [`load_base`] within `limits`. A directory's files are read only if
/// they lie in it (a symlink leading out is refused), and only regular
/// files are read.
pub fn load_base_limited(bases: &[PathBuf], limits: &Limits) -> Result<Base, ValidateError> {
    if bases.is_empty() {
        return Ok(Base::default_container_base());
    }
    let mut base = Base::empty();
    for p in bases {
        let files = if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|source| ValidateError::ReadDir { path: p.clone(), source })?
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|e| e == "cil"))
                .map(|f| resolve_within(p, &f).map_err(ValidateError::Input))
                .collect::<Result<_, _>>()?;
            v.sort();
            v
        } else {
            vec![p.clone()]
        };
        for f in files {
            let text = read_text(&f, limits).map_err(ValidateError::Input)?;
            let errs = base.add_cil(&text);
            if let Some(e) = errs.first() {
                let (line, column) = SourceMap::new(&text).line_col(e.span.start);
                return Err(ValidateError::BadBase { path: f, line, column, message: e.message.clone() });
            }
        }
    }
    Ok(base)
}

/// Every diagnostic of a `.cil` file or a SelinuxProfile/RawSelinuxProfile
/// manifest, checked against `base`.
pub fn validate_with(path: &Path, text: &str, base: &Base) -> Vec<Diagnostic> {
    validate_limited(path, text, base, &Limits::default())
}

/// [`validate_with`] within `limits`.
pub fn validate_limited(path: &Path, text: &str, base: &Base, limits: &Limits) -> Vec<Diagnostic> {
    if is_cil(path, text) {
        return cil::validate_with(text, base, limits);
    }
    validate_manifests_with(text, base, &DenyLists::default(), limits).1
}

/// [`validate_with`] against the default base or `bases`.
pub fn validate(path: &Path, text: &str, bases: &[PathBuf]) -> Result<Vec<Diagnostic>, ValidateError> {
    Ok(validate_with(path, text, &load_base(bases)?))
}
