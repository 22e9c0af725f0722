//! Helpers shared by the CIL integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use spo_parse::cil;
use spo_parse::{Diagnostic, SourceMap};

/// Render diagnostics as `LINE:COL: severity: message` lines, with the
/// label, help and notes indented below.
pub fn render(text: &str, diags: &[Diagnostic]) -> String {
    let map = SourceMap::new(text);
    let mut out = String::new();
    for d in diags {
        let (l, c) = map.line_col(d.span.start);
        out.push_str(&format!("{l}:{c}: {}: {}\n", d.severity, d.message));
        if let Some(h) = &d.help {
            out.push_str(&format!("    help: {h}\n"));
        }
        for lab in &d.labels {
            let (l, c) = map.line_col(lab.span.start);
            out.push_str(&format!("    {l}:{c}: {}\n", lab.message));
        }
        for n in &d.notes {
            out.push_str(&format!("    note: {n}\n"));
        }
    }
    out
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Debian's policy store modules, decompressed: (name, text). Empty when
/// the store is not installed.
pub fn debian_store() -> Vec<(String, String)> {
    let dir = Path::new("/var/lib/selinux/default/active/modules/100");
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut mods: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    mods.sort();
    let mut out = Vec::new();
    for m in mods {
        let cil = m.join("cil");
        let Ok(bytes) = std::fs::read(&cil) else {
            continue;
        };
        let text = if bytes.starts_with(b"BZh") {
            let o = std::process::Command::new("bzcat").arg(&cil).output();
            match o {
                Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
                _ => continue,
            }
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        out.push((m.file_name().unwrap_or_default().to_string_lossy().into_owned(), text));
    }
    out
}

/// xorshift64: deterministic mutations from a seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Token positions: (start, end) of every symbol in `text` outside comments.
pub fn symbols(text: &str) -> Vec<(usize, usize)> {
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
pub fn mutate(text: &str, rng: &mut Rng) -> (String, String) {
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
                let kws: Vec<_> = syms.iter().filter(|(s, _)| *s > 0 && text.as_bytes()[s - 1] == b'(').collect();
                if kws.is_empty() {
                    continue;
                }
                let (s, e) = *kws[rng.below(kws.len())];
                let word = &text[s..e];
                let bad = if word.len() > 3 { format!("{}{}", &word[..1], &word[2..]) } else { format!("{word}x") };
                return (format!("{}{bad}{}", &text[..s], &text[e..]), format!("keyword `{word}` -> `{bad}`"));
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
                return (format!("{}{}", &text[..at], &text[end..]), format!("dropped `(type {name})`"));
            }
            _ => {
                // Misspell a name argument (not a keyword).
                let args: Vec<_> = syms.iter().filter(|(s, _)| *s > 0 && text.as_bytes()[s - 1] != b'(').collect();
                if args.is_empty() {
                    continue;
                }
                let (s, e) = *args[rng.below(args.len())];
                let word = &text[s..e];
                return (format!("{}{word}q{}", &text[..s], &text[e..]), format!("name `{word}` -> `{word}q`"));
            }
        }
    }
    (text.to_owned(), "unchanged".into())
}
