//! Golden diagnostics: every `tests/fixtures/cil/invalid/*.cil` is checked
//! against the default base and its rendered diagnostics compared with the
//! `.stderr` file beside it (`SPO_BLESS=1` rewrites them). Every valid
//! fixture and corpus file that secilc accepts must check clean.

mod cil_support;

use std::path::{Path, PathBuf};

use spo_parse::cil::{self, Base};
use spo_parse::Diagnostic;

/// The fixtures of `dir` ending in `.ext`, sorted; there must be some.
fn fixtures(dir: &str, ext: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .{ext} fixtures in {}", dir.display());
    files
}

/// Compare every fixture's rendered diagnostics with the `.stderr` beside
/// it, or rewrite those files under `SPO_BLESS=1`.
fn check_golden(files: Vec<PathBuf>, diagnose: impl Fn(&str) -> Vec<Diagnostic>) {
    let mut golden = spo_test_support::Golden::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        golden.check(&f.with_extension("stderr"), &cil_support::render(&text, &diagnose(&text)));
    }
    golden.finish();
}

#[test]
fn invalid_fixtures_match_their_stderr() {
    let base = Base::default_container_base();
    check_golden(fixtures("tests/fixtures/cil/invalid", "cil"), |text| {
        let diags = cil::validate(text, &base);
        assert!(diags.iter().any(|d| d.is_error()), "no error in:\n{text}");
        diags
    });
}

#[test]
fn manifest_fixtures_match_their_stderr() {
    let base = Base::default_container_base();
    check_golden(fixtures("tests/fixtures/cil/manifests", "yaml"), |text| {
        cil::cr::validate_manifests(text, &base, &spo_model::selinux::DenyLists::default()).1
    });
}

#[test]
fn templates_check_clean_against_the_default_base() {
    let base = Base::default_container_base();
    for (name, text) in cil::base::TEMPLATES {
        let (ast, d) = cil::parse(text);
        assert!(d.is_empty(), "{name}: {d:?}");
        let errs: Vec<_> = cil::check_with_own_names(&ast, &base).into_iter().filter(|d| d.is_error()).collect();
        assert!(errs.is_empty(), "{name}: {}", cil_support::render(text, &errs));
    }
}
