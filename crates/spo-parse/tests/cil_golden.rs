//! Golden diagnostics: every `tests/fixtures/cil/invalid/*.cil` is checked
//! against the default base and its rendered diagnostics compared with the
//! `.stderr` file beside it (`SPO_BLESS=1` rewrites them). Every valid
//! fixture and corpus file that secilc accepts must check clean.

mod cil_support;

use std::path::Path;

use spo_parse::cil::{self, Base};

#[test]
fn invalid_fixtures_match_their_stderr() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cil/invalid");
    let base = Base::default_container_base();
    let bless = std::env::var_os("SPO_BLESS").is_some();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cil"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut mismatches = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let diags = cil::validate(&text, &base);
        assert!(diags.iter().any(|d| d.is_error()), "{} has no error", f.display());
        let got = cil_support::render(&text, &diags);
        let golden = f.with_extension("stderr");
        if bless {
            std::fs::write(&golden, &got).expect("bless");
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if want != got {
            mismatches.push(format!("{}:\n--- expected\n{want}--- got\n{got}", f.display()));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn manifest_fixtures_match_their_stderr() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cil/manifests");
    let base = Base::default_container_base();
    let bless = std::env::var_os("SPO_BLESS").is_some();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let (_, diags) = cil::cr::validate_manifests(&text, &base, &spo_model::selinux::DenyLists::default());
        let got = cil_support::render(&text, &diags);
        let golden = f.with_extension("stderr");
        if bless {
            std::fs::write(&golden, &got).expect("bless");
        } else {
            assert_eq!(std::fs::read_to_string(&golden).unwrap_or_default(), got, "{}", f.display());
        }
    }
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
