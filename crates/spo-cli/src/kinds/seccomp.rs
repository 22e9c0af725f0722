//! Seccomp glue: read a profile file, pick the document, resolve it for a
//! target, and map `--arch` names.

use std::path::Path;

use anyhow::{bail, Context, Result};
use spo_model::seccomp::{resolve, Action, Filter, KernelVersion, Target, ValidateOptions, DOCKER_DEFAULT_CAPS};
use spo_model::Arch;
use spo_parse::seccomp::{parse_file_with, SeccompDocument, SeccompFile};

/// What a call from an architecture the filter does not accept gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum BadArch {
    /// Kill the calling thread: libseccomp's default, which runc and crun keep.
    #[default]
    KillThread,
    /// Kill the whole process.
    KillProcess,
}

/// Options that choose what a Docker-style profile is evaluated against.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TargetArgs {
    /// Architectures to compile for instead of the profile's own list
    /// (`x86_64`, `x86`, `x32`, `aarch64`, ... or `SCMP_ARCH_*`; repeatable).
    #[arg(long = "arch", value_name = "ARCH")]
    pub arches: Vec<String>,
    /// Native architecture for `archMap` and `includes.arches` (default: this machine's).
    #[arg(long, value_name = "ARCH")]
    pub native_arch: Option<String>,
    /// Capabilities of the container, for `includes.caps` (repeatable; default: Docker's default set).
    #[arg(long = "cap", value_name = "CAP_NAME")]
    pub caps: Vec<String>,
    /// Kernel version for `minKernel` conditions (default: this machine's).
    #[arg(long, value_name = "MAJOR.MINOR")]
    pub kernel: Option<String>,
    /// Action for a call from an architecture the profile does not accept.
    #[arg(long, value_enum, default_value_t = BadArch::KillThread)]
    pub bad_arch_action: BadArch,
    /// Refuse what runc and crun skip with a warning: unknown syscall
    /// names and rules with the default action.
    #[arg(long)]
    pub strict: bool,
}

/// Parse an architecture name given on the command line.
pub fn parse_arch(s: &str) -> Result<Arch> {
    let arch: Arch = s.parse().map_err(|_| {
        let hint = spo_model::suggest::did_you_mean(s, Arch::all_names())
            .map(|x| format!(" (did you mean `{x}`?)"))
            .unwrap_or_default();
        anyhow::anyhow!("unknown architecture `{s}`{hint}")
    })?;
    if !arch.is_supported() {
        bail!("spo-rs has no syscall table for {arch}");
    }
    Ok(arch)
}

fn running_kernel() -> Option<KernelVersion> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?.parse().ok()
}

impl TargetArgs {
    /// The target these options describe.
    pub fn target(&self) -> Result<Target> {
        let native = match &self.native_arch {
            Some(a) => parse_arch(a)?,
            None => Arch::native().unwrap_or(Arch::X86_64),
        };
        let caps = if self.caps.is_empty() {
            DOCKER_DEFAULT_CAPS.iter().map(|s| (*s).to_owned()).collect()
        } else {
            self.caps.iter().map(|c| c.to_ascii_uppercase()).collect()
        };
        let kernel = match &self.kernel {
            Some(k) => Some(k.parse().with_context(|| format!("--kernel {k}"))?),
            None => running_kernel(),
        };
        Ok(Target { native, caps, kernel })
    }

    /// Resolve `doc` for this target, applying `--arch`.
    pub fn filter(&self, doc: &SeccompDocument) -> Result<Filter> {
        let mut filter = resolve(&doc.spec, &self.target()?);
        filter.bad_arch_action = match self.bad_arch_action {
            BadArch::KillThread => Action::KillThread,
            BadArch::KillProcess => Action::KillProcess,
        };
        if !self.arches.is_empty() {
            filter.arches = self.arches.iter().map(|a| parse_arch(a)).collect::<Result<_>>()?;
        }
        Ok(filter)
    }
}

/// Read `path` and return its parsed content and text (`strict`: see
/// [`TargetArgs::strict`]).
pub fn read(path: &Path, strict: bool) -> Result<(String, SeccompFile)> {
    let text = crate::input::read(path)?;
    let file = parse_file_with(&text, &ValidateOptions { strict }, &crate::input::limits());
    Ok((text, file))
}
