//! `spoc compile FILE --emit ...`: a profile to the form the kernel or the
//! policy tools consume.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::kinds::seccomp::{read, TargetArgs};
use crate::render::{render, OutputFormat};

/// What to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    /// Raw seccomp BPF (`struct sock_filter` array, as `seccomp_export_bpf` writes it).
    Bpf,
    /// Readable seccomp BPF.
    Disasm,
    /// SELinux CIL (from a SelinuxProfile or RawSelinuxProfile).
    Cil,
    /// AppArmor profile text (from an AppArmorProfile, or profile text for `--complain`).
    Apparmor,
}

/// Arguments of `spoc compile`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The profile.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Output kind.
    #[arg(long, value_enum)]
    pub emit: Emit,
    /// Output file (default: standard output).
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Compile in complain mode: log instead of blocking.
    #[arg(long)]
    pub complain: bool,
    /// Which document of a multi-document file (by `metadata.name`).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Run `spoc compile`.
pub fn main(args: &Args) -> Result<u8> {
    let bytes = match args.emit {
        Emit::Bpf | Emit::Disasm => compile_seccomp(args)?,
        Emit::Cil => compile_cil(args)?,
        Emit::Apparmor => compile_apparmor(args)?,
    };
    let Some(bytes) = bytes else { return Ok(1) };
    match &args.output {
        Some(path) => std::fs::write(path, &bytes).with_context(|| format!("cannot write {}", path.display()))?,
        None => super::write_stdout(&bytes)?,
    }
    Ok(0)
}

fn compile_cil(args: &Args) -> Result<Option<Vec<u8>>> {
    let text = crate::input::read(&args.file)?;
    match crate::kinds::selinux::compile_cil(&args.file, &text)? {
        Ok(cil) => Ok(Some(cil.into_bytes())),
        Err(diags) => {
            eprint!("{}", render(OutputFormat::Human, &args.file, &text, &diags, super::color()));
            eprintln!("{}: invalid, nothing compiled", args.file.display());
            Ok(None)
        }
    }
}

fn compile_apparmor(args: &Args) -> Result<Option<Vec<u8>>> {
    let text = crate::input::read(&args.file)?;
    match crate::kinds::apparmor::compile(&args.file, &text, args.complain)? {
        Ok(profile) => Ok(Some(profile.into_bytes())),
        Err(groups) => {
            for (p, t, d) in &groups {
                eprint!("{}", render(OutputFormat::Human, p, t, d, super::color()));
            }
            eprintln!("{}: invalid, nothing compiled", args.file.display());
            Ok(None)
        }
    }
}

fn compile_seccomp(args: &Args) -> Result<Option<Vec<u8>>> {
    let (text, file) = read(&args.file, args.target.strict)?;
    if file.has_errors() {
        eprint!("{}", render(OutputFormat::Human, &args.file, &text, &file.diagnostics, super::color()));
        eprintln!("{}: invalid, nothing compiled", args.file.display());
        return Ok(None);
    }
    let doc = match &args.name {
        Some(n) => file
            .documents
            .iter()
            .find(|d| d.metadata.as_ref().and_then(|m| m.name.as_deref()) == Some(n))
            .with_context(|| format!("no profile named `{n}` in {}", args.file.display()))?,
        None if file.documents.len() == 1 => &file.documents[0],
        None => bail!("{} holds {} profiles; choose one with --name", args.file.display(), file.documents.len()),
    };
    let mut filter = args.target.filter(doc)?;
    if args.complain {
        filter = filter.to_complain();
    }
    let prog =
        spo_compile::seccomp::compile(&filter).with_context(|| format!("cannot compile {}", args.file.display()))?;
    Ok(Some(match args.emit {
        Emit::Bpf => spo_compile::bpf::to_bytes(&prog),
        Emit::Disasm => spo_compile::bpf::disassemble(&prog).into_bytes(),
        Emit::Cil | Emit::Apparmor => unreachable!("handled by compile_cil and compile_apparmor"),
    }))
}
