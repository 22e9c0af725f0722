//! Every profile, abstraction and tunable shipped by Debian's `apparmor`,
//! `apparmor-profiles` and `apparmor-profiles-extra` packages, and the
//! profiles under `tests/fixtures/apparmor/valid`, validate without error.

use std::path::{Path, PathBuf};

use spo_parse::apparmor::{FileReport, Options, Validator};
use spo_parse::SourceMap;

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // `abi/` holds kernel feature files, not profile language; README
        // files are prose.
        if name == "abi" || name == "README" || name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            files_under(&p, out);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

fn render(reports: &[FileReport]) -> String {
    let mut s = String::new();
    for r in reports {
        let map = SourceMap::new(&r.text);
        for d in &r.diagnostics {
            let (l, c) = map.line_col(d.span.start);
            s += &format!("{}:{l}:{c}: {}: {}\n    {}\n", r.path.display(), d.severity, d.message, map.line_text(l));
        }
    }
    s
}

fn check_all(files: &[PathBuf], opts: Options) -> (usize, String) {
    let mut v = Validator::new(opts);
    let mut failures = String::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("read {}: {e}", f.display()));
        let reports = v.validate(f, &text);
        if reports.iter().any(|r| r.diagnostics.iter().any(|d| d.is_error())) {
            failures += &format!("== {}\n", f.display());
            failures += &render(&reports);
        }
    }
    (files.len(), failures)
}

#[test]
fn debian_profiles_abstractions_and_tunables_validate() {
    let roots = ["/etc/apparmor.d", "/usr/share/apparmor/extra-profiles"];
    let mut files = Vec::new();
    for r in roots {
        if Path::new(r).is_dir() {
            files_under(Path::new(r), &mut files);
        } else {
            spo_test_support::skip(format!(
                "{r} is absent (install Debian's apparmor, apparmor-profiles, apparmor-profiles-extra)"
            ));
        }
    }
    if files.is_empty() {
        spo_test_support::skip("no Debian AppArmor profiles on this machine");
        return;
    }
    let (n, failures) = check_all(&files, Options::default());
    assert!(failures.is_empty(), "{n} files checked; errors:\n{failures}");
    eprintln!("{n} Debian AppArmor files validated");
}

#[test]
fn repository_fixtures_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apparmor/valid");
    let mut files = Vec::new();
    files_under(&dir, &mut files);
    assert!(!files.is_empty(), "no fixtures under {}", dir.display());
    let opts = Options { include_dirs: vec![dir.join("include")], ..Options::default() };
    let files: Vec<PathBuf> = files.into_iter().filter(|f| !f.starts_with(dir.join("include"))).collect();
    let (_, failures) = check_all(&files, opts);
    assert!(failures.is_empty(), "errors:\n{failures}");
}
