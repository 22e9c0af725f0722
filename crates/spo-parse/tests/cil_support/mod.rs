//! Helpers shared by the CIL integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

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
        out.push((
            m.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            text,
        ));
    }
    out
}
