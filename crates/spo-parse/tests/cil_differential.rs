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

use spo_parse::cil::{self, Base};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

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

/// Token positions: (start, end) of every symbol in `text` outside comments.
fn symbols(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b';' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            c if cil::is_symbol_byte(c) => {
                let s = i;
                while i < b.len() && cil::is_symbol_byte(b[i]) {
                    i += 1;
                }
                out.push((s, i));
            }
            _ => i += 1,
        }
    }
    out
}

/// One deterministic mutation of `text`, and its description.
fn mutate(text: &str, rng: &mut Rng) -> (String, String) {
    let syms = symbols(text);
    for _ in 0..20 {
        match rng.below(5) {
            0 => {
                // Delete a parenthesis.
                let parens: Vec<usize> = text.match_indices(['(', ')']).map(|(i, _)| i).collect();
                if parens.is_empty() {
                    continue;
                }
                let at = parens[rng.below(parens.len())];
                return (
                    format!("{}{}", &text[..at], &text[at + 1..]),
                    format!("deleted `{}` at byte {at}", &text[at..at + 1]),
                );
            }
            1 => {
                // Misspell a keyword (the symbol after a `(`).
                let kws: Vec<_> = syms
                    .iter()
                    .filter(|(s, _)| *s > 0 && text.as_bytes()[s - 1] == b'(')
                    .collect();
                if kws.is_empty() {
                    continue;
                }
                let (s, e) = *kws[rng.below(kws.len())];
                let word = &text[s..e];
                let bad = if word.len() > 3 {
                    format!("{}{}", &word[..1], &word[2..])
                } else {
                    format!("{word}x")
                };
                return (
                    format!("{}{bad}{}", &text[..s], &text[e..]),
                    format!("keyword `{word}` -> `{bad}`"),
                );
            }
            2 | 3 => {
                // Rename (2) or drop (3) a type declaration.
                let decls: Vec<usize> = text.match_indices("(type ").map(|(i, _)| i).collect();
                if decls.is_empty() {
                    continue;
                }
                let at = decls[rng.below(decls.len())];
                let end = text[at..].find(')').map_or(text.len(), |n| at + n + 1);
                let name = text[at + 6..end - 1].trim().to_owned();
                if rng.below(2) == 0 {
                    return (
                        format!("{}(type {name}_renamed){}", &text[..at], &text[end..]),
                        format!("renamed type `{name}`"),
                    );
                }
                return (
                    format!("{}{}", &text[..at], &text[end..]),
                    format!("dropped `(type {name})`"),
                );
            }
            _ => {
                // Misspell a name argument (not a keyword).
                let args: Vec<_> = syms
                    .iter()
                    .filter(|(s, _)| *s > 0 && text.as_bytes()[s - 1] != b'(')
                    .collect();
                if args.is_empty() {
                    continue;
                }
                let (s, e) = *args[rng.below(args.len())];
                let word = &text[s..e];
                return (
                    format!("{}{word}q{}", &text[..s], &text[e..]),
                    format!("name `{word}` -> `{word}q`"),
                );
            }
        }
    }
    (text.to_owned(), "unchanged".into())
}

#[test]
fn verdicts_agree_with_secilc() {
    if Command::new("secilc").arg("--help").output().is_err() {
        eprintln!("SKIPPED: secilc is not installed (apt-get install secilc)");
        return;
    }
    let per_file: usize = std::env::var("SPO_CIL_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let seed: u64 = std::env::var("SPO_CIL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5e11_0c11);
    let tmp = std::env::temp_dir().join(format!("spo-cil-diff-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let data = data();
    let templates: Vec<PathBuf> = {
        let mut v: Vec<_> = std::fs::read_dir(data.join("templates"))
            .expect("templates")
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    };
    let core = vec![
        fixtures().join("minimal-core.cil"),
        data.join("refpolicy.cil"),
        data.join("container-shim.cil"),
    ];

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
        cases.push((
            t.display().to_string(),
            std::fs::read_to_string(t).expect("read"),
            files,
            base,
        ));
    }
    let mut corpus: Vec<_> = std::fs::read_dir(fixtures().join("corpus"))
        .expect("corpus")
        .flatten()
        .map(|e| e.path())
        .collect();
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
                if !errors
                    .iter()
                    .any(|d| d.message.contains(new) || d.message.contains(old))
                {
                    unnamed.push(format!(
                        "{name} [{what}]: {}",
                        cil_support::render(&v, &errors[..errors.len().min(2)])
                    ));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let pct = 100.0 * agree as f64 / total as f64;
    eprintln!("secilc agreement: {agree}/{total} = {pct:.1}% (seed {seed:#x}, {per_file} mutations per file)");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    assert!(
        unnamed.is_empty(),
        "errors that do not name the identifier:\n{}",
        unnamed.join("\n")
    );
}
