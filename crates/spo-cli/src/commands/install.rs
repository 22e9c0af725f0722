//! `spoc install FILE`: try a profile against the real policy tools. SELinux
//! modules go into a policy store under `--root` through `semodule -p ROOT
//! -n`, without touching the running system; AppArmor profiles are loaded
//! with `apparmor_parser -r` where the kernel has AppArmor and compiled
//! offline (`-Q -K`) where it does not. The tools' errors are mapped back to
//! the user's file and line.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::kinds::{self, FileKind};
use crate::render::{render, OutputFormat};

/// Arguments of `spoc install`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A SELinux profile (CIL, SelinuxProfile, RawSelinuxProfile) or an
    /// AppArmor profile (profile text, AppArmorProfile).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// SELinux: root of the policy store to install into.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// AppArmor: install in complain mode.
    #[arg(long)]
    pub complain: bool,
    /// AppArmor: where `#include <...>` files are found (repeatable).
    #[arg(short = 'I', long = "include", value_name = "DIR")]
    pub include: Vec<PathBuf>,
}

fn is_apparmor(path: &std::path::Path, text: &str) -> bool {
    match kinds::detect(path, text) {
        FileKind::AppArmor => true,
        FileKind::Cil => false,
        FileKind::Documents => kinds::has_resource(text, "AppArmorProfile"),
    }
}

/// Run `spoc install`.
pub fn main(args: &Args) -> Result<u8> {
    let text = crate::input::read(&args.file)?;
    if is_apparmor(&args.file, &text) {
        return match kinds::apparmor::install(&args.file, &text, args.complain, &args.include)? {
            Ok(what) => {
                println!("{what}");
                Ok(0)
            }
            Err(groups) => {
                for (p, t, d) in &groups {
                    eprint!("{}", render(OutputFormat::Human, p, t, d, super::color()));
                }
                eprintln!("{}: not installed", args.file.display());
                Ok(1)
            }
        };
    }
    let root =
        args.root.as_deref().context("installing a SELinux module needs --root DIR (an offline policy store)")?;
    match kinds::selinux::install(&args.file, &text, root)? {
        Ok(modules) => {
            for m in &modules {
                println!("installed SELinux module {m} into {}", root.display());
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
