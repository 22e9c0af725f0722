//! Booting a scenario: assemble its initramfs, run qemu with a time bound,
//! read the results.
//!
//! The console (`ttyS0`, kernel messages and the scenario's own output)
//! goes to one file and the result port (`ttyS1`) to another, which is
//! polled while the guest runs so the boot time is measured on the host
//! (qemu start to the guest's `SPO-BOOTED`). Past the bound qemu is
//! killed and the console's tail is the error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::guest::Scenario;
use crate::initramfs::Initramfs;
use crate::kernel::{self, Kernel};
use crate::tools::{require, workspace_binary};
use crate::VmError;

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Exit status.
    pub rc: i32,
    /// Output (stdout and stderr).
    pub out: String,
}

/// What a finished boot brought back.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Host time from starting qemu to the guest's `/init` running.
    pub boot: Duration,
    /// Host time from starting qemu to its exit.
    pub total: Duration,
    /// The guest's uptime when `/init` started.
    pub guest_uptime_at_init: f64,
    /// `spo_check`/`spo_note` results by name.
    pub checks: BTreeMap<String, Check>,
    /// `spo_file` contents by name.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The console.
    pub console: String,
}

impl Outcome {
    /// The result `name`; panics (for tests) with the console when absent.
    pub fn check(&self, name: &str) -> &Check {
        self.checks.get(name).unwrap_or_else(|| {
            panic!("no result `{name}` (have {:?}); console:\n{}", self.checks.keys().collect::<Vec<_>>(), self.tail())
        })
    }

    /// The file `name` as text; panics with the console when absent.
    pub fn file(&self, name: &str) -> String {
        let f = self.files.get(name).unwrap_or_else(|| {
            panic!("no file `{name}` (have {:?}); console:\n{}", self.files.keys().collect::<Vec<_>>(), self.tail())
        });
        String::from_utf8_lossy(f).into_owned()
    }

    /// The last 60 console lines.
    pub fn tail(&self) -> String {
        tail(&self.console, 60)
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Everything a boot needs that does not change between scenarios.
#[derive(Debug, Clone)]
pub struct Boot {
    /// qemu.
    pub qemu: PathBuf,
    /// The kernel.
    pub kernel: Kernel,
    /// `spod`.
    pub spod: PathBuf,
    /// `spoc`.
    pub spoc: PathBuf,
    /// `spo-vm-record`, the BPF LSM recorder's command line.
    pub record: PathBuf,
    /// busybox (static).
    pub busybox: PathBuf,
}

impl Boot {
    /// Find qemu, the kernel (fetched into the cache when missing),
    /// busybox, spod and spoc; [`VmError::Missing`] when one is not there.
    pub fn prepare() -> Result<Boot, VmError> {
        let qemu = require("qemu-system-x86_64", "qemu-system-x86")?;
        let busybox = require("busybox", "busybox-static")?;
        let kernel = kernel::ensure(&crate::cache_dir())?;
        Ok(Boot {
            qemu,
            kernel,
            spod: workspace_binary("SPOD_BIN", "spod")?,
            spoc: workspace_binary("SPOC_BIN", "spoc")?,
            record: workspace_binary("SPO_VM_RECORD_BIN", "spo-vm-record")?,
            busybox,
        })
    }

    /// The initramfs of `scenario`, written into `dir`.
    pub fn initramfs(&self, scenario: &Scenario, dir: &Path) -> Result<PathBuf, VmError> {
        let mut i = Initramfs::new();
        i.host_file(&self.busybox, "/usr/bin/busybox")?;
        i.symlink("/usr/bin/sh", "busybox");
        i.program_stripped(&self.spod, "/usr/local/bin/spod", dir)?;
        i.program_stripped(&self.spoc, "/usr/local/bin/spoc", dir)?;
        i.program_stripped(&self.record, "/usr/local/bin/spo-vm-record", dir)?;
        if scenario.apparmor {
            i.program(&require("apparmor_parser", "apparmor")?)?;
            for d in ["abi", "abstractions", "tunables"] {
                let host = Path::new("/etc/apparmor.d").join(d);
                i.tree(&host, &host.to_string_lossy())?;
            }
            i.dir("/var/cache/apparmor");
        }
        if scenario.selinux {
            crate::selinux::add_to(&mut i)?;
        }
        for p in &scenario.programs {
            i.program(p)?;
        }
        scenario.add_to(&mut i);
        let out = dir.join("initrd.cpio");
        i.write(&out)?;
        Ok(out)
    }

    /// Boot `scenario` and wait for it to power off.
    pub fn run(&self, scenario: &Scenario) -> Result<Outcome, VmError> {
        let dir = tempfile::Builder::new()
            .prefix("spo-vm-")
            .tempdir()
            .map_err(VmError::io("create", std::env::temp_dir()))?;
        let initrd = self.initramfs(scenario, dir.path())?;
        let console = dir.path().join("console.log");
        let results = dir.path().join("results.log");
        // Kernel messages stay off the (slow, emulated) serial console but in
        // the kernel log, which is large enough for every audit record.
        let mut cmdline = format!(
            "console=ttyS0 panic=-1 loglevel=1 log_buf_len=16M audit=1 audit_backlog_limit=8192 {}",
            scenario.lsm.cmdline()
        );
        if let Ok(extra) = std::env::var("SPO_VM_CMDLINE") {
            cmdline.push(' ');
            cmdline.push_str(&extra);
        }
        let start = Instant::now();
        let mut child = Command::new(&self.qemu)
            .args(["-accel", "tcg", "-cpu", "max", "-smp", "1", "-nodefaults", "-display", "none", "-no-reboot"])
            .arg("-m")
            .arg(scenario.memory_mb.to_string())
            .arg("-kernel")
            .arg(&self.kernel.vmlinuz)
            .arg("-initrd")
            .arg(&initrd)
            .arg("-append")
            .arg(&cmdline)
            .arg("-serial")
            .arg(format!("file:{}", console.display()))
            .arg("-serial")
            .arg(format!("file:{}", results.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(VmError::io("start", &self.qemu))?;
        let mut boot = None;
        let status = loop {
            if boot.is_none() && std::fs::read(&results).is_ok_and(|r| r.windows(10).any(|w| w == b"SPO-BOOTED")) {
                boot = Some(start.elapsed());
            }
            if let Some(st) = child.try_wait().map_err(VmError::io("wait for", &self.qemu))? {
                break st;
            }
            if start.elapsed() > scenario.timeout {
                let _ = child.kill();
                let _ = child.wait();
                return Err(VmError::Timeout {
                    secs: scenario.timeout.as_secs(),
                    console: tail(&String::from_utf8_lossy(&std::fs::read(&console).unwrap_or_default()), 60),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let total = start.elapsed();
        let console_text = String::from_utf8_lossy(&std::fs::read(&console).unwrap_or_default()).into_owned();
        let results_text = String::from_utf8_lossy(&std::fs::read(&results).unwrap_or_default()).into_owned();
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut stderr);
        }
        let mut out = Outcome {
            boot: boot.unwrap_or(total),
            total,
            guest_uptime_at_init: 0.0,
            checks: BTreeMap::new(),
            files: BTreeMap::new(),
            console: console_text,
        };
        let mut done = false;
        for line in results_text.lines().map(|l| l.trim_end_matches('\r')) {
            let mut parts = line.splitn(4, ' ');
            match parts.next() {
                Some("SPO-BOOTED") => {
                    out.guest_uptime_at_init = parts.next().and_then(|u| u.parse().ok()).unwrap_or(0.0)
                }
                Some("SPO-DONE") => done = true,
                Some("SPO-RESULT") => {
                    let (Some(name), Some(rc)) = (parts.next(), parts.next()) else {
                        return Err(VmError::BadResult { line: line.into(), why: "fewer than 3 fields".into() });
                    };
                    let rc = rc
                        .parse()
                        .map_err(|_| VmError::BadResult { line: line.into(), why: "status is not a number".into() })?;
                    let body = decode(parts.next().unwrap_or(""), line)?;
                    out.checks.insert(name.to_owned(), Check { rc, out: String::from_utf8_lossy(&body).into_owned() });
                }
                Some("SPO-FILE") => {
                    let name = parts.next().unwrap_or_default().to_owned();
                    let rest: Vec<&str> = parts.collect();
                    out.files.insert(name, decode(&rest.join(" "), line)?);
                }
                _ => {}
            }
        }
        if !done {
            let why =
                if status.success() { "no SPO-DONE".to_owned() } else { format!("qemu {status}: {}", stderr.trim()) };
            return Err(VmError::Incomplete { why, console: out.tail() });
        }
        Ok(out)
    }
}

fn decode(b64: &str, line: &str) -> Result<Vec<u8>, VmError> {
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| VmError::BadResult { line: line.chars().take(200).collect(), why: e.to_string() })
}
