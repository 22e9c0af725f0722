//! One module per `spoc` verb.

pub mod compile;
pub mod crds;
pub mod diff;
pub mod install;
pub mod merge;
pub mod record;
pub mod run;
pub mod simulate;
pub mod status;
pub mod validate;
pub mod violations;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `spoc run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The seccomp profile to apply.
    #[arg(long, short, value_name = "FILE")]
    pub profile: PathBuf,
    /// Log instead of blocking: every non-allow action becomes SCMP_ACT_LOG.
    #[arg(long)]
    pub complain: bool,
    /// The command and its arguments.
    #[arg(required = true, last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// Write `bytes` to standard output; a reader that went away (`| head`) is
/// not an error.
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().write_all(bytes).and_then(|()| std::io::stdout().flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to standard output"))
        }
        _ => Ok(()),
    }
}

/// Whether stderr is a terminal that wants colour.
pub fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}
