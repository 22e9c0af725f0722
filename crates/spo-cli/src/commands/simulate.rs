//! `spoc simulate FILE --syscall NAME`: run the compiled filter in the
//! classic-BPF interpreter and show the verdict and its cost.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use spo_compile::bpf::interp::{run, SeccompData};
use spo_model::seccomp::Action;
use spo_model::Arch;

use crate::kinds::seccomp::{parse_arch, read, TargetArgs};
use crate::render::{render, OutputFormat};

/// Arguments of `spoc simulate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The profile.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Syscall name or number.
    #[arg(long, value_name = "NAME|NUMBER")]
    pub syscall: String,
    /// Architecture of the call (default: the filter's first).
    #[arg(long = "call-arch", value_name = "ARCH")]
    pub call_arch: Option<String>,
    /// Syscall arguments, comma-separated (decimal or 0x hexadecimal).
    #[arg(long, value_delimiter = ',', value_name = "A0,A1,...")]
    pub args: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub target: TargetArgs,
}

fn parse_u64(s: &str) -> Result<u64> {
    let s = s.trim();
    let v = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => match s.strip_prefix('-') {
            Some(n) => n.parse::<u64>().map(|v| v.wrapping_neg()),
            None => s.parse(),
        },
    };
    v.with_context(|| format!("`{s}` is not a number"))
}

/// Run `spoc simulate`.
pub fn main(args: &Args) -> Result<u8> {
    let (text, file) = read(&args.file, args.target.strict)?;
    if file.has_errors() {
        eprint!("{}", render(OutputFormat::Human, &args.file, &text, &file.diagnostics, super::color()));
        return Ok(1);
    }
    let Some(doc) = file.documents.first() else { bail!("{} holds no profile", args.file.display()) };
    let filter = args.target.filter(doc)?;
    let arch = match &args.call_arch {
        Some(a) => parse_arch(a)?,
        None => *filter.arches.first().context("the filter accepts no architecture")?,
    };
    let (nr, name) = match args.syscall.parse::<u32>() {
        Ok(nr) => (nr, arch.syscall_name(nr).map(str::to_owned)),
        Err(_) => {
            let nr = arch.syscall_number(&args.syscall).with_context(|| {
                let hint = arch
                    .table()
                    .and_then(|t| spo_model::suggest::did_you_mean(&args.syscall, t.names()))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                format!("{arch} has no syscall `{}`{hint}", args.syscall)
            })?;
            (nr, Some(args.syscall.clone()))
        }
    };
    let mut data = SeccompData { nr, arch: arch.audit_arch(), ..SeccompData::default() };
    if args.args.len() > 6 {
        bail!("a syscall has at most 6 arguments, {} given", args.args.len());
    }
    for (i, a) in args.args.iter().enumerate() {
        data.args[i] = parse_u64(a)?;
    }
    let prog = spo_compile::seccomp::compile(&filter)?;
    let outcome = run(&prog, &data)?;
    let action = Action::from_ret(outcome.ret);
    print_result(args, arch, nr, name.as_deref(), action, outcome.executed);
    Ok(0)
}

fn print_result(args: &Args, arch: Arch, nr: u32, name: Option<&str>, action: Action, executed: usize) {
    match args.format {
        OutputFormat::Json => {
            let v = serde_json::json!({
                "arch": arch.scmp_name(),
                "syscall": name,
                "number": nr,
                "action": action.to_name().0.as_str(),
                "data": action.to_name().1,
                "executed": executed,
            });
            println!("{v}");
        }
        OutputFormat::Human => {
            let label = name.map_or_else(|| format!("syscall {nr}"), |n| format!("{n} ({nr})"));
            println!("{label} on {arch}: {action} after {executed} BPF instructions");
        }
    }
}
