//! `spoc diff A B`: what changed between two seccomp profiles, per
//! architecture: syscalls B permits that A does not (`+`), syscalls A
//! permits that B does not (`-`), and other changes of action (`~`).
//! Exits 0 when they are the same, 1 when they differ, like diff(1).

use std::path::PathBuf;

use anyhow::{bail, Result};
use spo_model::seccomp::{diff, ArchDiff};

use super::merge::read_all;

/// Arguments of `spoc diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The old profile.
    pub a: PathBuf,
    /// The new profile.
    pub b: PathBuf,
}

/// Run `spoc diff`.
pub fn main(args: &Args) -> Result<u8> {
    let specs = read_all(&[args.a.clone(), args.b.clone()])?;
    let [a, b] = specs.as_slice() else { bail!("expected two profiles") };
    let mut out = String::new();
    let da = (a.default_action, a.effective_default_errno());
    let db = (b.default_action, b.effective_default_errno());
    if da != db {
        out.push_str(&format!("default action: {} -> {}\n", describe(da), describe(db)));
    }
    let arches = diff(a, b);
    out.push_str(&render(&arches));
    print!("{out}");
    Ok(u8::from(!out.is_empty()))
}

fn describe((name, errno): (spo_model::seccomp::ActionName, Option<u32>)) -> String {
    match errno {
        Some(e) => format!("{name}({e})"),
        None => name.to_string(),
    }
}

/// The report, one block per architecture.
pub fn render(arches: &[ArchDiff]) -> String {
    let mut out = String::new();
    for d in arches {
        let note = match d.arch_added {
            Some(true) => " (only in the second profile)",
            Some(false) => " (only in the first profile)",
            None => "",
        };
        out.push_str(&format!("{}{note}:\n", d.arch));
        for n in &d.added {
            out.push_str(&format!("  + {n}\n"));
        }
        for n in &d.removed {
            out.push_str(&format!("  - {n}\n"));
        }
        for (n, before, after) in &d.changed {
            out.push_str(&format!("  ~ {n}: {before} -> {after}\n"));
        }
    }
    out
}
