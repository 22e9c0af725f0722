//! `spoc validate FILE...`: every problem of every file, located; exit
//! status 0 when all files are valid (warnings allowed), 1 otherwise.

use std::path::PathBuf;

use anyhow::Result;

use crate::render::{render, OutputFormat};

/// Arguments of `spoc validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Profiles to check: seccomp JSON, custom resources (YAML/JSON), CIL, AppArmor text.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format of the diagnostics.
    #[arg(long, value_enum, default_value = "human")]
    pub format: OutputFormat,
    /// CIL declarations to resolve names against instead of the built-in
    /// container base (a file or a directory; repeatable).
    #[arg(long = "cil-base", value_name = "PATH")]
    pub cil_base: Vec<PathBuf>,
    /// Where AppArmor `#include <...>` files are found (repeatable; default /etc/apparmor.d).
    #[arg(short = 'I', long = "include", value_name = "DIR")]
    pub include: Vec<PathBuf>,
    /// Print nothing for valid files.
    #[arg(short, long)]
    pub quiet: bool,
    /// Seccomp: refuse what runc and crun skip with a warning (unknown
    /// syscall names, rules with the default action).
    #[arg(long)]
    pub strict: bool,
}

/// Run `spoc validate`.
pub fn main(args: &Args) -> Result<u8> {
    let color = super::color();
    let mut failed = 0usize;
    let opts = crate::input::validate_options(&args.include, &args.cil_base, args.strict);
    // The checks live in `spo_validate`, shared with the admission webhook.
    let validator = spo_validate::Validator::new(&opts);
    for path in &args.files {
        let text = crate::input::read(path)?;
        let groups = validator.check_file(path, &text)?;
        let (mut errors, mut warnings) = (0, 0);
        for (p, t, diags) in &groups {
            errors += diags.iter().filter(|d| d.is_error()).count();
            warnings += diags.iter().filter(|d| !d.is_error()).count();
            let out = render(args.format, p, t, diags, color);
            match args.format {
                OutputFormat::Human => eprint!("{out}"),
                OutputFormat::Json => print!("{out}"),
            }
        }
        if errors > 0 {
            failed += 1;
        }
        if args.format == OutputFormat::Human && !(args.quiet && errors == 0) {
            let verdict = if errors > 0 { "invalid" } else { "valid" };
            eprintln!("{}: {verdict} ({errors} error(s), {warnings} warning(s))", path.display());
        }
    }
    Ok(u8::from(failed > 0))
}
