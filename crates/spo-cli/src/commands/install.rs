//! `spoc install FILE --root DIR`: try a profile against the real policy
//! tools without touching the running system. SELinux modules go into a
//! policy store under DIR through `semodule -p DIR -n`; the tool's errors
//! are mapped back to the user's file and line.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::kinds::{self, FileKind};
use crate::render::{render, OutputFormat};

/// Arguments of `spoc install`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A SELinux profile: CIL, SelinuxProfile or RawSelinuxProfile.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Root of the policy store to install into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
}

/// Run `spoc install`.
pub fn main(args: &Args) -> Result<u8> {
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    match kinds::detect(&args.file, &text) {
        FileKind::Cil | FileKind::Documents => {}
        FileKind::AppArmor => anyhow::bail!("spoc install handles SELinux profiles; AppArmor installation is done by spod"),
    }
    match kinds::selinux::install(&args.file, &text, &args.root)? {
        Ok(modules) => {
            for m in &modules {
                println!("installed SELinux module {m} into {}", args.root.display());
            }
            Ok(0)
        }
        Err(diags) => {
            eprint!("{}", render(OutputFormat::Human, &args.file, &text, &diags, super::color()));
            eprintln!("{}: not installed", args.file.display());
            Ok(1)
        }
    }
}
