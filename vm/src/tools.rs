//! Host programs the tier runs or copies into the guest.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::VmError;

/// Run `cmd`, returning its standard output, or the failure with both
/// streams.
pub fn output(cmd: &mut Command) -> Result<String, VmError> {
    let line = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| VmError::Tool {
        command: line.clone(),
        status: "not run".into(),
        output: e.to_string(),
    })?;
    if !out.status.success() {
        let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        return Err(VmError::Tool {
            command: line,
            status: out.status.to_string(),
            output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The path of `tool` on `PATH` or in the usual system directories (a
/// test's `PATH` may lack `/usr/sbin`).
pub fn find(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(tool))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `tool`, or why the tier cannot run.
pub fn require(tool: &str, package: &str) -> Result<PathBuf, VmError> {
    find(tool).ok_or_else(|| VmError::Missing {
        what: tool.to_owned(),
        fix: format!("apt-get install {package} (scripts/install-deps.sh)"),
    })
}

/// One of this workspace's binaries (`spod`, `spoc`): `$VAR`, else beside
/// the running test's target directory.
pub fn workspace_binary(var: &str, name: &str) -> Result<PathBuf, VmError> {
    if let Some(p) = std::env::var_os(var) {
        return Ok(p.into());
    }
    let exe = std::env::current_exe().map_err(VmError::io("find", "/proc/self/exe"))?;
    let candidates: Vec<PathBuf> = exe.ancestors().skip(1).take(2).map(|d| d.join(name)).collect();
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| VmError::Missing {
        what: name.to_owned(),
        fix: format!(
            "build it with `cargo build -p spo-node -p spo-cli` (looked at {}) or set {var}",
            candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        ),
    })
}
