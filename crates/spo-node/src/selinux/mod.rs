//! Installing CIL modules into an SELinux policy store.
//!
//! `semodule -p ROOT -s STORE -n -i FILE.cil` compiles the module against
//! everything in the store and installs it without needing an SELinux
//! kernel, so the same code path works on a node and offline in tests. The
//! installer is a trait so the node agent can be driven without a policy
//! store; [`Semodule`] is the real one, and [`semodule_errors`] turns its
//! messages into line numbers of the module.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::NodeError;

/// Puts CIL modules into a policy and takes them out again.
pub trait SelinuxInstaller {
    /// Install (or replace) module `name` with `cil`.
    fn install(&self, name: &str, cil: &str) -> Result<(), NodeError>;
    /// Install several modules in one transaction: all or none. The
    /// default installs them one by one.
    fn install_many(&self, modules: &[(&str, &str)]) -> Result<(), NodeError> {
        modules.iter().try_for_each(|(name, cil)| self.install(name, cil))
    }
    /// Remove module `name`.
    fn remove(&self, name: &str) -> Result<(), NodeError>;
}

/// The installer that runs `semodule`.
#[derive(Debug, Clone)]
pub struct Semodule {
    /// Alternate root (`-p`), for offline stores.
    pub root: Option<PathBuf>,
    /// Store name (`-s`), `default` on Debian.
    pub store: String,
    /// Skip reloading the policy into the kernel (`-n`).
    pub no_reload: bool,
    /// The program to run.
    pub program: PathBuf,
}

impl Semodule {
    /// Install into the store under `root` without touching the kernel.
    pub fn offline(root: &Path) -> Self {
        Semodule { root: Some(root.to_owned()), store: "default".into(), no_reload: true, program: "semodule".into() }
    }

    /// Install into the running system's store and load the policy.
    pub fn system() -> Self {
        Semodule { root: None, store: "default".into(), no_reload: false, program: "semodule".into() }
    }

    /// The same installer on store `store` (`-s`) instead of `default`.
    pub fn with_store(mut self, store: &str) -> Self {
        store.clone_into(&mut self.store);
        self
    }

    fn run(&self, args: &[&std::ffi::OsStr], module: &str) -> Result<(), NodeError> {
        let mut cmd = Command::new(&self.program);
        if let Some(r) = &self.root {
            cmd.arg("-p").arg(r);
        }
        cmd.arg("-s").arg(&self.store);
        if self.no_reload {
            cmd.arg("-n");
        }
        cmd.args(args);
        let out =
            cmd.output().map_err(|source| NodeError::Spawn { tool: self.program.display().to_string(), source })?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
        Err(NodeError::ToolFailed {
            tool: "semodule".into(),
            subject: module.to_owned(),
            status: out.status.code(),
            output: stderr,
        })
    }
}

/// Whether `name` can be a module (file) name: a CIL identifier.
fn check_module_name(name: &str) -> Result<(), NodeError> {
    if spo_model::selinux::is_cil_identifier(name) {
        Ok(())
    } else {
        Err(NodeError::ToolFailed {
            tool: "semodule".into(),
            subject: name.to_owned(),
            status: None,
            output: format!("`{name}` is not a valid module name"),
        })
    }
}

impl SelinuxInstaller for Semodule {
    fn install(&self, name: &str, cil: &str) -> Result<(), NodeError> {
        self.install_many(&[(name, cil)])
    }

    /// `semodule -i A.cil -i B.cil ...`: one transaction, one policy
    /// rebuild and reload.
    fn install_many(&self, modules: &[(&str, &str)]) -> Result<(), NodeError> {
        for (name, _) in modules {
            check_module_name(name)?;
        }
        // semodule names each module after its file.
        let dir = tempfile::tempdir().map_err(|source| NodeError::Io {
            op: "create a directory in",
            path: std::env::temp_dir(),
            source,
        })?;
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        for (name, cil) in modules {
            let file = dir.path().join(format!("{name}.cil"));
            std::fs::write(&file, cil).map_err(|source| NodeError::Io { op: "write", path: file.clone(), source })?;
            args.push("-i".into());
            args.push(file.into_os_string());
        }
        let subject: Vec<&str> = modules.iter().map(|(n, _)| *n).collect();
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        self.run(&args, &subject.join(", "))
    }

    fn remove(&self, name: &str) -> Result<(), NodeError> {
        check_module_name(name)?;
        self.run(&["-r".as_ref(), name.as_ref()], name)
    }
}

/// One error semodule (libsepol) reported, with the line of the module it
/// points at when it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemoduleError {
    /// 1-based line in the module, if the message has one.
    pub line: Option<usize>,
    /// The message, with the store's temporary path removed.
    pub message: String,
}

/// Parse semodule's output for module `name` into errors with lines.
/// libsepol writes `... at /PATH/modules/400/NAME/cil:LINE` (or
/// `NAME.cil:LINE`); the lines that name nothing are kept as context.
pub fn semodule_errors(name: &str, output: &str) -> Vec<SemoduleError> {
    let mut out = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut found = None;
        for marker in [format!("/{name}/cil:"), format!("{name}.cil:")] {
            if let Some(i) = line.rfind(&marker) {
                let digits: String = line[i + marker.len()..].chars().take_while(char::is_ascii_digit).collect();
                if let Ok(n) = digits.parse() {
                    let msg = line[..line[..i].rfind(" at ").unwrap_or(i)].trim().to_owned();
                    found = Some(SemoduleError { line: Some(n), message: msg });
                    break;
                }
            }
        }
        out.push(found.unwrap_or(SemoduleError { line: None, message: line.to_owned() }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_module_lines() {
        let out = "Failed to resolve permission raed\nFailed to resolve allow statement at /r/var/lib/selinux/default/tmp/modules/400/web_ns/cil:3\nsemodule:  Failed!\n";
        let e = semodule_errors("web_ns", out);
        assert_eq!(e[1], SemoduleError { line: Some(3), message: "Failed to resolve allow statement".into() });
        assert_eq!(e[0].line, None);
    }

    /// A copy of Debian's policy store in a temporary root, or `None` (with
    /// a loud skip) when the store or semodule is missing.
    fn offline_store() -> Option<tempfile::TempDir> {
        let store = Path::new("/var/lib/selinux/default");
        if !store.join("active").exists() || Command::new("semodule").arg("-h").output().is_err() {
            spo_test_support::skip("needs semodule and Debian's selinux-policy-default store (apt-get install policycoreutils selinux-policy-default)");
            return None;
        }
        let root = tempfile::tempdir().ok()?;
        let dest = root.path().join("var/lib/selinux");
        std::fs::create_dir_all(&dest).ok()?;
        let ok = Command::new("cp").arg("-a").arg(store).arg(&dest).status().ok()?.success();
        assert!(ok, "copying the policy store failed");
        Some(root)
    }

    #[test]
    fn semodule_rejects_a_bad_module_with_its_line() {
        let Some(root) = offline_store() else { return };
        let s = Semodule::offline(root.path());
        let cil = "(type spo_test_t)\n(allow spo_test_t var_log_t (file (raed)))\n";
        match s.install("spo_test", cil) {
            Err(NodeError::ToolFailed { output, .. }) => {
                let errs = semodule_errors("spo_test", &output);
                assert!(errs.iter().any(|e| e.line == Some(2)), "{errs:?}");
            }
            other => panic!("expected semodule to fail, got {other:?}"),
        }
        // Installing for real rebuilds the whole policy (tens of seconds).
        if std::env::var_os("SPO_SEMODULE_INSTALL").is_some() {
            s.install("spo_test", "(type spo_test_t)\n(roletype object_r spo_test_t)\n").expect("install");
            s.remove("spo_test").expect("remove");
        }
    }

    #[test]
    fn refuses_module_names_that_are_paths() {
        let s = Semodule::offline(Path::new("/nonexistent"));
        assert!(s.install("../x", "(type t)").is_err());
    }
}
