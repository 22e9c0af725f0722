//! `spoc merge A B... -o OUT`: the union of seccomp profiles, for
//! combining recordings of several runs (or a recording and a runtime's
//! base list) into one profile. Profiles must agree on the default action.

use std::path::PathBuf;

use anyhow::{Context, Result};
use spo_model::seccomp::{merge, SeccompSpec};

use super::record::{read_one, write_profile, ProfileFormat};

/// Arguments of `spoc merge`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The profiles to merge (each file may hold several).
    #[arg(required = true, num_args = 1.., value_name = "PROFILE")]
    pub profiles: Vec<PathBuf>,
    /// Where to write the merged profile.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "crd")]
    pub format: ProfileFormat,
    /// Profile name (default: `merged`).
    #[arg(long, default_value = "merged")]
    pub name: String,
}

/// Run `spoc merge`.
pub fn main(args: &Args) -> Result<u8> {
    spo_model::objname::check_object_name(&args.name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let specs = read_all(&args.profiles)?;
    let merged = merge(&specs).context("cannot merge")?;
    write_profile(&args.output, &args.name, &merged, args.format)?;
    eprintln!("spoc: merged {} profiles into {}", specs.len(), args.output.display());
    Ok(0)
}

/// The profile of each file, in order.
pub fn read_all(paths: &[PathBuf]) -> Result<Vec<SeccompSpec>> {
    paths
        .iter()
        .map(|p| {
            let text = crate::input::read(p)?;
            read_one(&p.display().to_string(), &text)
        })
        .collect()
}
