//! `spo-vm-record NAME OUT PROGRAM [ARGS...]`: run a workload under the BPF
//! LSM recorder (`spo_node::record::lsm`) and write the `AppArmorProfile`
//! named NAME that allows what it did to OUT, as JSON (a manifest spod
//! reads; the workload keeps stdout and stderr).
//! Runs inside the VM tier's guests, whose kernel has the BPF LSM; what it
//! could not express goes to stderr, and its exit status is the
//! workload's.

use std::process::{Command, ExitCode};

use spo_model::apparmor::{AppArmorProfile, AppArmorSpec};
use spo_node::record::lsm;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, out, program, rest @ ..] = args.as_slice() else {
        eprintln!("usage: spo-vm-record NAME OUT PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    let mut cmd = Command::new(program);
    cmd.args(rest);
    let rec = match lsm::record(cmd) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("spo-vm-record: {e}");
            return ExitCode::from(1);
        }
    };
    let (abstract_, notes) = lsm::to_abstract(&rec.accesses);
    for n in notes {
        eprintln!("spo-vm-record: {n}");
    }
    eprintln!("spo-vm-record: {} distinct accesses", rec.accesses.len());
    let profile = AppArmorProfile::new(name, AppArmorSpec { abstract_: Some(abstract_), ..AppArmorSpec::default() });
    let written = serde_json::to_string_pretty(&profile)
        .map_err(|e| e.to_string())
        .and_then(|json| std::fs::write(out, json + "\n").map_err(|e| format!("cannot write {out}: {e}")));
    if let Err(e) = written {
        eprintln!("spo-vm-record: {e}");
        return ExitCode::from(1);
    }
    match rec.status.and_then(|s| s.code()) {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(c as u8),
        None => ExitCode::from(1),
    }
}
