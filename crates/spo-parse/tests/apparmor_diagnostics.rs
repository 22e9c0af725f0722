//! Golden diagnostics: every file under `tests/fixtures/apparmor/invalid`
//! (profile text or an `AppArmorProfile` manifest) is validated with
//! `invalid/include` as the include directory, and its diagnostics,
//! rendered as `LINE:COL: severity: message` with labels, help and notes,
//! must equal the `.stderr` file beside it (`SPO_BLESS=1` rewrites them).

use std::path::{Path, PathBuf};

use spo_parse::apparmor::resource::{looks_like_resource, validate_resource};
use spo_parse::apparmor::{FileReport, Options, Validator};
use spo_parse::SourceMap;

fn render(reports: &[FileReport], root: &Path) -> String {
    let strip = |s: &str| s.replace(&format!("{}/", root.display()), "").replace(&root.display().to_string(), ".");
    let mut out = String::new();
    for (i, r) in reports.iter().enumerate() {
        if r.diagnostics.is_empty() {
            continue;
        }
        if i > 0 {
            out += &format!("== {}\n", strip(&r.path.display().to_string()));
        }
        let map = SourceMap::new(&r.text);
        for d in &r.diagnostics {
            let (l, c) = map.line_col(d.span.start);
            out += &format!("{l}:{c}: {}: {}\n", d.severity, strip(&d.message));
            if let Some(label) = &d.label {
                out += &format!("  label: {label}\n");
            }
            for s in &d.labels {
                let (l, c) = map.line_col(s.span.start);
                out += &format!("  {l}:{c}: {}\n", s.message);
            }
            if let Some(h) = &d.help {
                out += &format!("  help: {}\n", strip(h));
            }
            for n in &d.notes {
                out += &format!("  note: {}\n", strip(n));
            }
        }
    }
    out
}

#[test]
fn invalid_fixtures_match_their_stderr() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apparmor/invalid");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e != "stderr"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 8, "fixtures missing under {}", dir.display());
    let mut v = Validator::new(Options { include_dirs: vec![dir.join("include")], ..Options::default() });
    let mut golden = spo_test_support::Golden::new();
    for input in inputs {
        let text = std::fs::read_to_string(&input).expect("read");
        let reports = if looks_like_resource(&text) {
            validate_resource(&input, &text, &mut v).1
        } else {
            v.validate(&input, &text)
        };
        assert!(reports.iter().any(|r| r.diagnostics.iter().any(|d| d.is_error())), "{} has no error", input.display());
        golden.check(&input.with_extension("stderr"), &render(&reports, &dir));
    }
    golden.finish();
}
