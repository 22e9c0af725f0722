//! Loading AppArmor profiles with `apparmor_parser`.
//!
//! Where the kernel has AppArmor (`/sys/kernel/security/apparmor`
//! exists), `apparmor_parser -r` replaces a profile in the kernel and `-R`
//! removes it; a load counts only once the kernel lists the profile in
//! `/sys/kernel/security/apparmor/profiles` (the same file the kubelet
//! reads before it admits a pod that asks for the profile). Where it has
//! not, a profile is still compiled in full against the feature set Debian
//! ships (`-Q -K -M FEATURES -o /dev/null`), so errors surface on any
//! machine, and the outcome says plainly that the kernel cannot load it.
//! The installer is a trait so the agent can be driven without the tool;
//! [`ApparmorParser`] is the real one.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::NodeError;

/// What an install or removal achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The kernel enforces (or logs, in complain mode) the profile now.
    Loaded,
    /// The profile was removed from the kernel.
    Removed,
    /// The profile compiled, but this kernel cannot load it.
    CompiledOnly {
        /// Why it was not loaded.
        reason: String,
    },
    /// Nothing to remove: this kernel cannot hold profiles.
    NotLoaded {
        /// Why.
        reason: String,
    },
}

/// What the kernel holds of one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelState {
    /// The kernel lists the profile.
    Loaded,
    /// The kernel has AppArmor but not this profile (unloaded by someone
    /// else, or the node rebooted).
    NotLoaded,
    /// The kernel has no AppArmor.
    NoAppArmor {
        /// Why it cannot hold profiles.
        reason: String,
    },
}

/// Puts AppArmor profiles into the kernel and takes them out.
pub trait AppArmorInstaller {
    /// Whether the kernel holds profile `name` now. Tools that cannot look
    /// say [`KernelState::Loaded`], trusting their own `install`.
    fn kernel_state(&self, _name: &str) -> KernelState {
        KernelState::Loaded
    }
    /// Compile `text` (the profile named `name`) and load it, replacing
    /// any profile of the same name.
    fn install(&self, name: &str, text: &str) -> Result<Outcome, NodeError>;
    /// Remove the profiles defined by `text` (named `name`).
    fn remove(&self, name: &str, text: &str) -> Result<Outcome, NodeError>;
}

/// The installer that runs `apparmor_parser`.
#[derive(Debug, Clone)]
pub struct ApparmorParser {
    /// The program.
    pub program: PathBuf,
    /// Include directories (`-I`), searched for `<...>` includes.
    pub include_dirs: Vec<PathBuf>,
    /// Feature file used when compiling without a kernel (`-M`).
    pub features: PathBuf,
    /// Where the kernel's AppArmor interface appears when it has one.
    pub securityfs: PathBuf,
}

impl Default for ApparmorParser {
    fn default() -> Self {
        ApparmorParser {
            program: "apparmor_parser".into(),
            include_dirs: vec!["/etc/apparmor.d".into()],
            features: "/usr/share/apparmor-features/features".into(),
            securityfs: "/sys/kernel/security/apparmor".into(),
        }
    }
}

impl ApparmorParser {
    /// Whether the kernel can load profiles.
    pub fn kernel_has_apparmor(&self) -> bool {
        self.securityfs.exists()
    }

    fn no_kernel_reason(&self) -> String {
        format!(
            "the kernel has no AppArmor ({} is absent): the profile compiled, but it cannot be loaded and is not enforced on this node",
            self.securityfs.display()
        )
    }

    /// The names the kernel lists in `SECURITYFS/profiles` (`NAME (MODE)`
    /// per line).
    pub fn loaded_profiles(&self) -> Result<Vec<String>, NodeError> {
        let path = self.securityfs.join("profiles");
        let text = std::fs::read_to_string(&path).map_err(|source| NodeError::Io { op: "read", path, source })?;
        Ok(text
            .lines()
            .map(|l| l.rsplit_once(" (").map_or(l, |(name, _)| name).to_owned())
            .filter(|n| !n.is_empty())
            .collect())
    }

    /// Compile without loading: every error `apparmor_parser` finds, and no
    /// kernel needed.
    pub fn compile_only(&self, name: &str, text: &str) -> Result<(), NodeError> {
        let (_dir, file) = write_temp(name, text)?;
        let mut args: Vec<std::ffi::OsString> =
            vec!["-Q".into(), "-K".into(), "-M".into(), self.features.clone().into()];
        args.extend(self.include_args());
        args.extend(["-o".into(), "/dev/null".into(), file.into_os_string()]);
        self.run(&args, name)
    }

    fn include_args(&self) -> Vec<std::ffi::OsString> {
        self.include_dirs.iter().flat_map(|d| ["-I".into(), d.clone().into_os_string()]).collect()
    }

    fn run(&self, args: &[std::ffi::OsString], subject: &str) -> Result<(), NodeError> {
        let out = Command::new(&self.program)
            .args(args)
            .output()
            .map_err(|source| NodeError::Spawn { tool: self.program.display().to_string(), source })?;
        if out.status.success() {
            return Ok(());
        }
        let output = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
        Err(NodeError::ToolFailed {
            tool: "apparmor_parser".into(),
            subject: subject.to_owned(),
            status: out.status.code(),
            output,
        })
    }
}

fn write_temp(name: &str, text: &str) -> Result<(tempfile::TempDir, PathBuf), NodeError> {
    if spo_model::objname::check_object_name(name).is_err() {
        return Err(NodeError::ToolFailed {
            tool: "apparmor_parser".into(),
            subject: name.to_owned(),
            status: None,
            output: format!("`{}` is not a valid profile name", name.escape_debug()),
        });
    }
    let dir = tempfile::tempdir().map_err(|source| NodeError::Io {
        op: "create a directory in",
        path: std::env::temp_dir(),
        source,
    })?;
    let file = dir.path().join(name);
    std::fs::write(&file, text).map_err(|source| NodeError::Io { op: "write", path: file.clone(), source })?;
    Ok((dir, file))
}

impl AppArmorInstaller for ApparmorParser {
    fn kernel_state(&self, name: &str) -> KernelState {
        if !self.kernel_has_apparmor() {
            return KernelState::NoAppArmor { reason: self.no_kernel_reason() };
        }
        match self.loaded_profiles() {
            Ok(names) if names.iter().any(|n| n == name) => KernelState::Loaded,
            _ => KernelState::NotLoaded,
        }
    }

    fn install(&self, name: &str, text: &str) -> Result<Outcome, NodeError> {
        if !self.kernel_has_apparmor() {
            self.compile_only(name, text)?;
            return Ok(Outcome::CompiledOnly { reason: self.no_kernel_reason() });
        }
        let (_dir, file) = write_temp(name, text)?;
        let mut args: Vec<std::ffi::OsString> = vec!["-r".into(), "-W".into()];
        args.extend(self.include_args());
        args.push(file.into_os_string());
        self.run(&args, name)?;
        // The parser's success is not the kernel's word: a policy whose
        // top-level profile has another name loads that one instead.
        if self.kernel_state(name) != KernelState::Loaded {
            return Err(NodeError::ToolFailed {
                tool: "apparmor_parser".into(),
                subject: name.to_owned(),
                status: Some(0),
                output: format!(
                    "apparmor_parser succeeded, but the kernel does not list profile `{name}` in {}",
                    self.securityfs.join("profiles").display()
                ),
            });
        }
        Ok(Outcome::Loaded)
    }

    fn remove(&self, name: &str, text: &str) -> Result<Outcome, NodeError> {
        if !self.kernel_has_apparmor() {
            return Ok(Outcome::NotLoaded { reason: self.no_kernel_reason() });
        }
        let (_dir, file) = write_temp(name, text)?;
        let mut args: Vec<std::ffi::OsString> = vec!["-R".into()];
        args.extend(self.include_args());
        args.push(file.into_os_string());
        self.run(&args, name)?;
        Ok(Outcome::Removed)
    }
}

/// One error `apparmor_parser` reported, with the file and line it names
/// when it names one (`AppArmor parser error for F in profile G at line N:
/// msg`: the line is a line of G, which is an included file when the error
/// is inside one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParserError {
    /// The file the line belongs to.
    pub file: Option<PathBuf>,
    /// 1-based line.
    pub line: Option<usize>,
    /// The message.
    pub message: String,
}

/// The errors in `apparmor_parser`'s output.
pub fn parser_errors(output: &str) -> Vec<ParserError> {
    output
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let located = l.strip_prefix("AppArmor parser error for ").and_then(|rest| {
                let (_, after) = rest.split_once(" in profile ")?;
                let (file, after) = after.split_once(" at line ")?;
                let (line, msg) = after.split_once(": ")?;
                Some(ParserError {
                    file: Some(Path::new(file).to_owned()),
                    line: line.parse().ok(),
                    message: msg.to_owned(),
                })
            });
            located.unwrap_or_else(|| ParserError { file: None, line: None, message: l.trim().to_owned() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool() -> Option<ApparmorParser> {
        let p = ApparmorParser::default();
        let ok = Command::new(&p.program).arg("--version").output().is_ok_and(|o| o.status.success())
            && p.features.exists()
            && Path::new("/etc/apparmor.d/tunables/global").exists();
        if !ok {
            spo_test_support::skip("apparmor_parser, its feature file or /etc/apparmor.d missing (Debian apparmor)");
        }
        ok.then_some(p)
    }

    const GOOD: &str =
        "include <tunables/global>\nprofile spo-test {\n  include <abstractions/base>\n  /etc/hosts r,\n}\n";

    #[test]
    fn installs_or_compiles_a_good_profile() {
        let Some(p) = tool() else { return };
        match p.install("spo-test", GOOD).expect("install") {
            Outcome::Loaded => assert!(p.kernel_has_apparmor()),
            Outcome::CompiledOnly { reason } => {
                assert!(!p.kernel_has_apparmor());
                assert!(reason.contains("cannot be loaded"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_bad_profile_fails_with_its_line() {
        let Some(p) = tool() else { return };
        let bad = "profile spo-bad {\n  /etc/hosts r,\n  capability sys_admn,\n}\n";
        // Compile-only is what this machine can always do; errors are the
        // same with a kernel.
        let err = p.compile_only("spo-bad", bad).expect_err("must fail");
        let NodeError::ToolFailed { output, .. } = &err else { panic!("{err}") };
        let errs = parser_errors(output);
        assert_eq!(errs.first().and_then(|e| e.line), Some(3), "{output}");
        assert!(errs[0].message.contains("sys_admn"), "{output}");
    }

    #[test]
    fn without_a_kernel_removal_says_so_and_loading_is_refused_for_bad_names() {
        let p = ApparmorParser { securityfs: "/nonexistent/apparmor".into(), ..ApparmorParser::default() };
        assert!(matches!(p.remove("x", GOOD), Ok(Outcome::NotLoaded { .. })));
        assert!(p.install("../etc/passwd", GOOD).is_err());
    }

    #[test]
    fn the_kernels_profile_list_is_what_counts() {
        let dir = tempfile::tempdir().unwrap();
        let p = ApparmorParser { securityfs: dir.path().to_owned(), ..ApparmorParser::default() };
        std::fs::write(
            dir.path().join("profiles"),
            "web-aa (enforce)\nnginx//null-/bin/sh (complain)\nspo test (enforce)\n",
        )
        .unwrap();
        assert_eq!(p.kernel_state("web-aa"), KernelState::Loaded);
        assert_eq!(p.kernel_state("spo test"), KernelState::Loaded);
        assert_eq!(p.kernel_state("web"), KernelState::NotLoaded);
        let none = ApparmorParser { securityfs: dir.path().join("absent"), ..ApparmorParser::default() };
        assert!(
            matches!(none.kernel_state("web-aa"), KernelState::NoAppArmor { reason } if reason.contains("not enforced"))
        );
    }

    #[test]
    fn parser_messages_are_split() {
        let e = parser_errors("AppArmor parser error for /tmp/a in profile /etc/apparmor.d/abstractions/base at line 13: syntax error\nFound reference to variable NOPE, but is never declared\n");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].line, Some(13));
        assert_eq!(e[0].file.as_deref(), Some(Path::new("/etc/apparmor.d/abstractions/base")));
        assert_eq!(e[1].line, None);
    }
}
