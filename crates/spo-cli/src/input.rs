//! Every file `spoc` reads as input (profiles, bases, audit logs) goes
//! through [`read`], within the limits `--limit` set: the same
//! [`Limits`] spod and the admission webhook apply, so a file one of them
//! refuses is refused here with the same message.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use spo_parse::Limits;

static LIMITS: OnceLock<Limits> = OnceLock::new();

/// Set the limits for this run (once, from the command line).
pub fn set_limits(limits: Limits) {
    let _ = LIMITS.set(limits);
}

/// The limits of this run.
pub fn limits() -> Limits {
    LIMITS.get().copied().unwrap_or_default()
}

/// Read `path` as text: a regular file (a symlink named on the command line
/// is followed), no larger than the `file-size` limit.
pub fn read(path: &Path) -> anyhow::Result<String> {
    Ok(spo_parse::files::read_text(path, &limits())?)
}

/// Validation options for this run: `include` and `cil_base` as given,
/// quoted AppArmor includes also read from the current directory (where
/// `apparmor_parser` resolves them), seccomp `strict` or following the
/// runtimes, and this run's limits.
pub fn validate_options(include: &[PathBuf], cil_base: &[PathBuf], strict: bool) -> spo_validate::Options {
    spo_validate::Options {
        cil_base: cil_base.to_vec(),
        include: include.to_vec(),
        strict,
        quoted_include: std::env::current_dir().into_iter().collect(),
        limits: limits(),
    }
}

/// The `--limit` help: every limit with its default.
pub fn limits_help() -> String {
    format!(
        "Change a limit on input, as NAME=VALUE (repeatable). Input past a limit is refused with an error \
         naming the limit. Limits and defaults:\n{}",
        Limits::describe()
    )
}
