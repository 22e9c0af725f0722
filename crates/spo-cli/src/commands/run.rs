//! `spoc run --profile FILE [--complain] -- CMD ARGS...`: run a command
//! under a seccomp profile, the way a container runtime would apply it.
//!
//! The filter is installed in this process at the last moment before
//! `execve` (a `pre_exec` hook, after the standard library's own signal
//! setup), so it governs the command from its first instruction and the
//! command's exit status is spoc's by construction. Everything that can go
//! wrong is checked first, while errors can still be reported: the profile
//! must be valid, must accept this machine's architecture, and must let
//! `execve` through, or the command could never start.
#![allow(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use spo_model::seccomp::{Action, FilterFlag};
use spo_model::Arch;
use spo_node::seccomp::{flag_bits, Program};

use crate::kinds::seccomp::{read, TargetArgs};
use crate::render::{render, OutputFormat};

/// Run `cmd` under the seccomp profile in `profile`; with `complain`, every
/// action but allow becomes `SCMP_ACT_LOG`. Returns only when the command
/// could not be started, with the exit status a shell would give (126 or
/// 127); refusals before the start are errors.
pub fn run(profile: &Path, complain: bool, cmd: &[OsString]) -> Result<i32> {
    let Some((program, args)) = cmd.split_first() else { bail!("no command to run") };
    let (text, file) = read(profile, false)?;
    if file.has_errors() {
        eprint!("{}", render(OutputFormat::Human, profile, &text, &file.diagnostics, super::color()));
        bail!("{} is not a valid seccomp profile; nothing was run", profile.display());
    }
    let doc = match file.documents.as_slice() {
        [doc] => doc,
        docs => bail!("{} holds {} seccomp profiles; spoc run needs exactly one", profile.display(), docs.len()),
    };
    if doc.spec.disabled == Some(true) {
        bail!("{} is marked `disabled: true`; nothing was run", profile.display());
    }
    let mut filter = TargetArgs::default().filter(doc)?;
    if complain {
        filter = filter.to_complain();
        warn_if_log_is_not_logged();
    }
    let native = Arch::native().context("spo-rs has no syscall table for this machine's architecture")?;
    if !filter.arches.contains(&native) {
        let listed: Vec<String> = filter.arches.iter().map(Arch::to_string).collect();
        bail!(
            "{} does not accept {native}, this machine's architecture (it lists {}): every call would get {}",
            profile.display(),
            listed.join(", "),
            filter.bad_arch_action
        );
    }
    check_exec_allowed(&filter, native, profile)?;
    if filter.flags.contains(&FilterFlag::NewListener) {
        eprintln!(
            "spoc: warning: {} asks for a user-notification listener, which spoc run does not provide; \
             SCMP_ACT_NOTIFY calls will fail with ENOSYS",
            profile.display()
        );
        filter.flags.retain(|f| *f != FilterFlag::NewListener && *f != FilterFlag::WaitKillableRecv);
    }
    let insns =
        spo_compile::seccomp::compile(&filter).with_context(|| format!("cannot compile {}", profile.display()))?;
    let prog = Program::from_bytes(&spo_compile::bpf::to_bytes(&insns))?;
    let flags = flag_bits(&filter.flags);

    // Find the program now: once the filter is in place, reporting a
    // missing program may itself be blocked.
    let path = match find_program(program) {
        Ok(path) => path,
        Err(code) => {
            let why = if code == 127 { "not found" } else { "not an executable file" };
            eprintln!("spoc: cannot execute {}: {why}", program.to_string_lossy());
            return Ok(code);
        }
    };
    let installed = Arc::new(AtomicBool::new(false));
    let mark = Arc::clone(&installed);
    let mut command = Command::new(path);
    command.arg0(program).args(args);
    // Tell the node agent's verifier what this process was given: the
    // profile's name and the hash of the JSON it would install for it.
    let name =
        doc.metadata.as_ref().and_then(|m| m.name.clone()).unwrap_or_else(|| {
            profile.file_stem().map_or_else(|| "profile".into(), |s| s.to_string_lossy().into_owned())
        });
    let version = spo_node::store::sha256_hex(&spo_node::agent::seccomp::to_oci_json(&filter));
    command.env("SPO_PROFILE", name).env("SPO_PROFILE_VERSION", version);
    // SAFETY: `exec` does not fork: the hook runs in this process, which is
    // single-threaded here, so allocating on the error path is sound. The
    // hook only installs the filter and records that it did.
    unsafe {
        command.pre_exec(move || {
            prog.install(flags).map_err(|e| io::Error::other(chain(&e)))?;
            mark.store(true, Ordering::SeqCst);
            Ok(())
        });
    }
    let err = command.exec();
    if !installed.load(Ordering::SeqCst) {
        return Err(anyhow::Error::new(err).context(format!("cannot install the filter from {}", profile.display())));
    }
    eprintln!("spoc: cannot execute {}: {err}", program.to_string_lossy());
    Ok(if err.kind() == io::ErrorKind::NotFound { 127 } else { 126 })
}

/// Refuse a profile under which `execve` itself would not go ahead: the
/// command would fail to start with a confusing error, or be killed.
fn check_exec_allowed(filter: &spo_model::seccomp::Filter, native: Arch, profile: &Path) -> Result<()> {
    let Some(nr) = native.syscall_number("execve") else {
        return Ok(());
    };
    // execve's arguments are pointers; judge with no arguments and with
    // typical pointer values, and refuse only when both are blocked.
    let pointers = [0x7ffd_0000_1000, 0x7ffd_0000_2000, 0x7ffd_0000_3000, 0, 0, 0];
    let verdicts = [filter.evaluate(native, nr, &[0; 6]), filter.evaluate(native, nr, &pointers)];
    if let Some(blocked) = verdicts.iter().copied().find(|a| !a.permits()) {
        if !verdicts.iter().any(|a| a.permits()) {
            bail!(
                "{} does not let the command start: execve gets {} on {native}; allow execve \
                 (or try --complain to see what the command needs)",
                profile.display(),
                describe(blocked)
            );
        }
    }
    Ok(())
}

fn describe(a: Action) -> String {
    match a {
        Action::Errno(e) => {
            let text = io::Error::from_raw_os_error(i32::from(e)).to_string();
            let text = text.split(" (os error").next().unwrap_or_default().to_owned();
            format!("{a}, \"{text}\"")
        }
        other => other.to_string(),
    }
}

/// The file `execvp` would run for `program`, or the shell's exit status
/// for the failure: 127 when there is none, 126 when it is not executable.
fn find_program(program: &OsStr) -> std::result::Result<PathBuf, i32> {
    let executable = |p: &Path| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.as_bytes().contains(&b'/') {
        let p = PathBuf::from(program);
        return if executable(&p) {
            Ok(p)
        } else if p.exists() {
            Err(126)
        } else {
            Err(127)
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut found_unexecutable = false;
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        if executable(&candidate) {
            return Ok(candidate);
        }
        found_unexecutable |= candidate.exists();
    }
    Err(if found_unexecutable { 126 } else { 127 })
}

/// `LOG` actions are written to the audit log only when the kernel is told
/// to log them; say so instead of letting complain mode look clean.
fn warn_if_log_is_not_logged() {
    const KNOB: &str = "/proc/sys/kernel/seccomp/actions_logged";
    if let Ok(logged) = std::fs::read_to_string(KNOB) {
        if !logged.split_whitespace().any(|a| a == "log") {
            eprintln!("spoc: warning: {KNOB} lacks `log`, so complain mode will record nothing");
        }
    }
}

/// An error and its sources on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use spo_model::seccomp::{Filter, FilterRule};

    #[test]
    fn programs_are_found_like_execvp_finds_them() {
        let sh = find_program(OsStr::new("sh")).expect("sh is on PATH");
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{}", sh.display());
        assert_eq!(find_program(OsStr::new("/bin/sh")), Ok(PathBuf::from("/bin/sh")));
        assert_eq!(find_program(OsStr::new("/no/such/program")), Err(127));
        assert_eq!(find_program(OsStr::new("no-such-program-anywhere")), Err(127));
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(find_program(plain.as_os_str()), Err(126));
        assert_eq!(find_program(dir.path().as_os_str()), Err(126), "a directory is not a program");
    }

    #[test]
    fn a_filter_that_blocks_execve_is_refused() {
        let native = Arch::native().unwrap();
        let p = Path::new("p.json");
        let mut f = Filter::new(Action::Allow, vec![native]);
        assert!(check_exec_allowed(&f, native, p).is_ok());
        f.rules.push(FilterRule { syscall: "execve".into(), action: Action::Errno(1), args: vec![] });
        let err = check_exec_allowed(&f, native, p).unwrap_err().to_string();
        assert!(err.contains("execve gets SCMP_ACT_ERRNO(1)"), "{err}");
        assert!(check_exec_allowed(&f.to_complain(), native, p).is_ok());
        let f = Filter::new(Action::KillProcess, vec![native]);
        assert!(check_exec_allowed(&f, native, p).is_err());
    }
}
