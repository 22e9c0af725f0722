//! Differential test against secilc: for a corpus of real CIL (udica and
//! container-selinux templates and profiles, SPO's examples) and for
//! deterministic mutations of it (a deleted parenthesis, a misspelt
//! keyword, a renamed or dropped declaration, a misspelt permission), our
//! accept/reject verdict must equal secilc's, compiled on the same base
//! (`minimal-core.cil` + the shipped reference-policy declarations + the
//! container shim + the templates). When we reject, our first error must
//! name a line and, for name errors, the identifier.
//!
//! The default run uses 3 mutations per corpus file (seconds);
//! `SPO_CIL_MUTATIONS=N` runs N per file, `SPO_CIL_SEED=S` changes the seed.
//! Skips loudly when secilc is not installed (Debian package `secilc`).

mod cil_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use cil_support::{mutate, Rng};
use spo_parse::cil::{self, Base};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cil")
}

fn data() -> PathBuf {
    cil_support::repo_root().join("data/selinux")
}

/// secilc's verdict on `file` compiled after `base_files`.
fn secilc_accepts(base_files: &[PathBuf], text: &str, dir: &Path) -> bool {
    let f = dir.join("under_test.cil");
    std::fs::write(&f, text).expect("write test file");
    let st = Command::new("secilc")
        .args(["-o", "/dev/null", "-f", "/dev/null"])
        .args(base_files)
        .arg(&f)
        .output()
        .expect("run secilc");
    st.status.success()
}

#[test]
fn verdicts_agree_with_secilc() {
    if Command::new("secilc").arg("--help").output().is_err() {
        spo_test_support::skip("secilc is not installed (apt-get install secilc)");
        return;
    }
    let per_file: usize = std::env::var("SPO_CIL_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let seed: u64 = std::env::var("SPO_CIL_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5e11_0c11);
    let tmp = std::env::temp_dir().join(format!("spo-cil-diff-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let data = data();
    let templates: Vec<PathBuf> = {
        let mut v: Vec<_> =
            std::fs::read_dir(data.join("templates")).expect("templates").flatten().map(|e| e.path()).collect();
        v.sort();
        v
    };
    let core = vec![fixtures().join("minimal-core.cil"), data.join("refpolicy.cil"), data.join("container-shim.cil")];

    // (name, text, secilc base files, our base)
    let mut cases: Vec<(String, String, Vec<PathBuf>, Base)> = Vec::new();
    let mut ref_base = Base::empty();
    ref_base.add_cil(cil::base::REFPOLICY_CIL);
    ref_base.add_cil(cil::base::CONTAINER_SHIM_CIL);
    for t in &templates {
        let mut files = core.clone();
        let mut base = ref_base.clone();
        for o in templates.iter().filter(|o| *o != t) {
            files.push(o.clone());
            base.add_cil(&std::fs::read_to_string(o).expect("read template"));
        }
        cases.push((t.display().to_string(), std::fs::read_to_string(t).expect("read"), files, base));
    }
    let mut corpus: Vec<_> =
        std::fs::read_dir(fixtures().join("corpus")).expect("corpus").flatten().map(|e| e.path()).collect();
    corpus.sort();
    let full = Base::default_container_base();
    let mut all_files = core.clone();
    all_files.extend(templates.iter().cloned());
    for f in corpus {
        cases.push((
            f.display().to_string(),
            std::fs::read_to_string(&f).expect("read"),
            all_files.clone(),
            full.clone(),
        ));
    }

    let mut rng = Rng(seed);
    let (mut total, mut agree) = (0usize, 0usize);
    let mut disagreements = Vec::new();
    let mut unnamed = Vec::new();
    for (name, text, files, base) in &cases {
        let mut variants = vec![(text.clone(), "original".to_string())];
        for _ in 0..per_file {
            variants.push(mutate(text, &mut rng));
        }
        let mut original_ok = false;
        for (v, what) in variants {
            let theirs = secilc_accepts(files, &v, &tmp);
            let diags = cil::validate(&v, base);
            let ours = !diags.iter().any(|d| d.is_error());
            total += 1;
            if ours == theirs {
                agree += 1;
            } else {
                disagreements.push(format!(
                    "{name} [{what}]: secilc {}, we {}\n{}",
                    if theirs { "accepts" } else { "rejects" },
                    if ours { "accept" } else { "reject" },
                    cil_support::render(&v, &diags[..diags.len().min(3)])
                ));
            }
            if what == "original" {
                original_ok = ours;
            }
            if original_ok && !ours && what.starts_with("name") {
                let old = what.split('`').nth(1).unwrap_or("");
                let new = what.split('`').nth(3).unwrap_or("");
                let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).cloned().collect();
                if !errors.iter().any(|d| d.message.contains(new) || d.message.contains(old)) {
                    unnamed
                        .push(format!("{name} [{what}]: {}", cil_support::render(&v, &errors[..errors.len().min(2)])));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let pct = 100.0 * agree as f64 / total as f64;
    eprintln!("secilc agreement: {agree}/{total} = {pct:.1}% (seed {seed:#x}, {per_file} mutations per file)");
    assert!(disagreements.is_empty(), "{} disagreements:\n{}", disagreements.len(), disagreements.join("\n"));
    assert!(unnamed.is_empty(), "errors that do not name the identifier:\n{}", unnamed.join("\n"));
}
