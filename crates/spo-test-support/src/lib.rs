//! What every spo-rs test shares, so each rule lives in one place:
//!
//! - **Skips are loud.** A test that cannot run here (not root, a tool or a
//!   kernel feature missing) calls [`skip`], which prints one
//!   `SKIPPED: <test>: <why>` line that `scripts/test.sh` collects and
//!   counts. With `SPO_REQUIRE=1` (what `.ci/run` sets on the machine kind
//!   that provides everything) the same call fails the test instead, so a
//!   run that must cover everything cannot pass by skipping.
//! - **Optional data is not a skip.** A part that reads material outside
//!   the repository (`../shared/corpus`) calls [`skip_optional`]: it prints
//!   `SKIPPED (optional): ...` and never fails, because a clean clone has
//!   no such directory and the same subject is covered by in-repository
//!   fixtures.
//! - **Golden files** are compared and refreshed by one rule ([`Golden`]):
//!   `SPO_BLESS=1` rewrites the expected files, anything else compares, and
//!   every mismatch of a run is reported at once.
//! - The root check and tool lookup ([`is_root`], [`have`]).
//!
//! Unpublished; a dev-dependency only.

use std::fmt::Display;
use std::path::{Path, PathBuf};

/// Whether `SPO_REQUIRE=1` is set: skips become failures.
pub fn required() -> bool {
    std::env::var_os("SPO_REQUIRE").is_some_and(|v| v == "1")
}

/// The running test's name (the thread name the test harness gives it).
fn test_name() -> String {
    std::thread::current().name().unwrap_or("test").to_string()
}

/// Report that the calling test (or part of it) cannot run here and why;
/// the caller then returns. Under `SPO_REQUIRE=1` this panics instead,
/// naming the same reason, so the run fails.
///
/// `why` should name the missing preparation and how to get it, e.g.
/// `"needs root"` or `"crun needs a v1 hugetlb hierarchy (scripts/prepare-host.sh)"`.
#[track_caller]
pub fn skip(why: impl Display) {
    let line = format!("SKIPPED: {}: {why}", test_name());
    if required() {
        panic!("{line} (SPO_REQUIRE=1 makes every skip a failure)");
    }
    eprintln!("{line}");
}

/// Report that an optional part, one that reads material outside the
/// repository, did not run. Never fails, not even under `SPO_REQUIRE=1`.
pub fn skip_optional(why: impl Display) {
    eprintln!("SKIPPED (optional): {}: {why}", test_name());
}

/// Whether the process runs with effective uid 0.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:").map(|v| v.split_whitespace().nth(1) == Some("0"))))
        .unwrap_or(false)
}

/// The path of `tool` on `PATH`, if it is there and executable.
pub fn which(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if tool.contains('/') {
        return Some(PathBuf::from(tool)).filter(|p| is_executable(p));
    }
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path).map(|d| d.join(tool)).find(|p| is_executable(p));
    fn is_executable(p: &Path) -> bool {
        p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    found
}

/// Whether `tool` is on `PATH`.
pub fn have(tool: &str) -> bool {
    which(tool).is_some()
}

/// A static busybox (Debian's `busybox-static`), if installed.
pub fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"].into_iter().map(PathBuf::from).find(|p| p.is_file())
}

/// Whether `SPO_BLESS=1` asks golden tests to rewrite their expectations.
pub fn blessing() -> bool {
    std::env::var_os("SPO_BLESS").is_some_and(|v| v == "1")
}

/// A run of golden comparisons: check each actual output against its
/// expected file, then [`Golden::finish`] fails once with every mismatch.
/// Under `SPO_BLESS=1` the expected files are written instead (only those
/// that changed), and `finish` reports how many were rewritten.
#[derive(Debug, Default)]
pub struct Golden {
    failures: Vec<String>,
    checked: usize,
    blessed: usize,
}

impl Golden {
    /// A new, empty run.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compare `actual` with the contents of `expected` (or, when blessing,
    /// write it there). A missing expected file is a mismatch.
    pub fn check(&mut self, expected: &Path, actual: &str) {
        self.checked += 1;
        let want = std::fs::read_to_string(expected);
        if blessing() {
            if want.as_deref().ok() != Some(actual) {
                if let Some(dir) = expected.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                match std::fs::write(expected, actual) {
                    Ok(()) => self.blessed += 1,
                    Err(e) => self.failures.push(format!("{}: cannot write: {e}", expected.display())),
                }
            }
            return;
        }
        match want {
            Ok(want) if want == actual => {}
            Ok(want) => self.failures.push(format!("{}:\n--- expected\n{want}\n--- got\n{actual}", expected.display())),
            Err(e) => self.failures.push(format!("{}: {e}", expected.display())),
        }
    }

    /// Record a failure that is not a text comparison (an input that must
    /// have been refused, say), reported with the mismatches.
    pub fn fail(&mut self, what: impl Display) {
        self.failures.push(what.to_string());
    }

    /// How many comparisons were made.
    pub fn checked(&self) -> usize {
        self.checked
    }

    /// Fail with every mismatch of the run, if any.
    #[track_caller]
    pub fn finish(self) {
        if self.blessed > 0 {
            eprintln!("SPO_BLESS=1: rewrote {} of {} expected files", self.blessed, self.checked);
        }
        assert!(
            self.failures.is_empty(),
            "{} of {} golden comparisons failed (run with SPO_BLESS=1 to accept the new output):\n{}",
            self.failures.len(),
            self.checked,
            self.failures.join("\n")
        );
    }
}

/// Files directly in `dir` whose name ends with `suffix` (e.g. `".json"`),
/// sorted; panics when the directory cannot be read, since a fixture
/// directory that vanished must not pass as "no fixtures".
pub fn fixtures(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(suffix)))
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_reports_a_mismatch_and_a_missing_file() {
        if blessing() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("spo-golden-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a.txt");
        std::fs::write(&f, "one\n").unwrap();
        let mut g = Golden::new();
        g.check(&f, "one\n");
        assert!(g.failures.is_empty());
        g.check(&f, "two\n");
        g.check(&dir.join("missing.txt"), "x");
        assert_eq!(g.failures.len(), 2);
        let r = std::panic::catch_unwind(move || g.finish());
        assert!(r.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn which_finds_sh_and_not_a_nonsense_name() {
        assert!(have("sh"));
        assert!(!have("spo-no-such-tool-xyz"));
    }
}
