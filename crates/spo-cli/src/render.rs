//! Diagnostics to text in the format chosen on the command line; the
//! renderers are `spo_validate::render`'s, shared with the operator's
//! admission webhook.

use std::path::Path;

use spo_parse::Diagnostic;
pub use spo_validate::render::{human, json};

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// rustc-style text.
    Human,
    /// One JSON object per diagnostic, one per line.
    Json,
}

/// Render in the chosen format.
pub fn render(format: OutputFormat, path: &Path, text: &str, diags: &[Diagnostic], color: bool) -> String {
    match format {
        OutputFormat::Human => human(path, text, diags, color),
        OutputFormat::Json => json(path, text, diags),
    }
}
