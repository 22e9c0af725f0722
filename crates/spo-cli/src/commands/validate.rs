//! `spoc validate FILE...`: every problem of every file, located; exit
//! status 0 when all files are valid (warnings allowed), 1 otherwise.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use spo_parse::document::{kind_of, parse_documents, DocKind};
use spo_parse::Diagnostic;

use crate::kinds::{self, FileKind};
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
}

/// Diagnostics of one file, with the text they point into.
pub type FileDiagnostics = (PathBuf, String, Vec<Diagnostic>);

/// Resource kinds handled by the SELinux glue.
const SELINUX_KINDS: &[&str] = &["SelinuxProfile", "RawSelinuxProfile"];
/// Every resource kind `spoc validate` reads.
const KNOWN_KINDS: &[&str] = &["SeccompProfile", "SelinuxProfile", "RawSelinuxProfile", "AppArmorProfile"];

/// Check one file; the result may include other files (AppArmor includes).
pub fn check_file(path: &Path, text: &str, args: &Args) -> Result<Vec<FileDiagnostics>> {
    let own = |d: Vec<Diagnostic>| vec![(path.to_path_buf(), text.to_owned(), d)];
    match kinds::detect(path, text) {
        FileKind::Documents => {
            let (docs, mut diags) = parse_documents(text);
            // Everything found so far is a syntax error; the other kinds'
            // readers would only repeat it.
            let syntax_ok = diags.iter().all(|d| !d.is_error());
            let (mut selinux, mut apparmor) = (false, false);
            for doc in &docs {
                match kind_of(doc) {
                    DocKind::SeccompJson => diags.extend(spo_parse::seccomp::lower_document(doc).1),
                    DocKind::Resource(k) if k == "SeccompProfile" => {
                        diags.extend(spo_parse::seccomp::lower_document(doc).1)
                    }
                    DocKind::Resource(k) if SELINUX_KINDS.contains(&k.as_str()) => selinux = true,
                    DocKind::Resource(k) if k == "AppArmorProfile" => apparmor = true,
                    DocKind::Resource(k) => {
                        let span = doc.get("kind").map_or(doc.span, |n| n.span);
                        let known = KNOWN_KINDS.iter().copied();
                        let mut d = Diagnostic::error(span, format!("unsupported kind `{k}`"));
                        d.help = Some(match spo_model::suggest::did_you_mean(&k, known) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("spoc validates {}", KNOWN_KINDS.join(", ")),
                        });
                        diags.push(d);
                    }
                    DocKind::Unknown => diags.push(
                        Diagnostic::error(
                            spo_parse::Span::new(doc.span.start, doc.span.start + 1),
                            "not a profile: no `kind` and no `defaultAction`",
                        )
                        .with_help("write a custom resource (apiVersion, kind, spec) or an OCI seccomp object"),
                    ),
                }
            }
            if selinux && syntax_ok {
                diags.extend(kinds::selinux::validate(path, text, &args.cil_base)?);
            }
            let mut others = Vec::new();
            if apparmor && syntax_ok {
                for (p, t, d) in kinds::apparmor::validate(path, text, &args.include)? {
                    if p == path {
                        diags.extend(d);
                    } else {
                        others.push((p, t, d));
                    }
                }
            }
            if docs.is_empty() && diags.is_empty() {
                diags.push(Diagnostic::error(spo_parse::Span::point(0), "the file holds no profile"));
            }
            diags.sort_by_key(|d| d.span.start);
            diags.dedup();
            let mut groups = own(diags);
            groups.extend(others);
            Ok(groups)
        }
        FileKind::Cil => Ok(own(kinds::selinux::validate(path, text, &args.cil_base)?)),
        FileKind::AppArmor => kinds::apparmor::validate(path, text, &args.include),
    }
}

/// Run `spoc validate`.
pub fn main(args: &Args) -> Result<u8> {
    let color = super::color();
    let mut failed = 0usize;
    for path in &args.files {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let groups = check_file(path, &text, args)?;
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
