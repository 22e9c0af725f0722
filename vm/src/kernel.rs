//! The guest kernel: Debian's `linux-image-cloud-amd64`, fetched once per
//! version and cached.
//!
//! The metapackage names the versioned image package
//! (`linux-image-6.1.0-57-cloud-amd64`); that package at its candidate
//! version is downloaded with `apt-get download` and unpacked with
//! `dpkg -x` (no maintainer scripts, nothing installed on the host) into
//! `CACHE/PACKAGE_VERSION/`, which holds `vmlinuz` and `config`. The
//! directory appears by one rename, so an interrupted fetch leaves nothing
//! half-made. Without package lists (`apt-get update` not run) the newest
//! cached version is used.
//!
//! That kernel is built with AppArmor, SELinux (policy version 33), the
//! BPF LSM, BTF, kprobes and fentry; the serial console, securityfs and
//! cgroup v2 are built in, so no module needs loading.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tools::{output, require};
use crate::VmError;

/// The metapackage that follows Debian's current cloud kernel.
pub const METAPACKAGE: &str = "linux-image-cloud-amd64";

/// A cached kernel.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// `PACKAGE_VERSION`.
    pub key: String,
    /// The bootable image.
    pub vmlinuz: PathBuf,
    /// Its build configuration.
    pub config: PathBuf,
}

impl Kernel {
    fn at(dir: &Path) -> Option<Kernel> {
        let k = Kernel {
            key: dir.file_name()?.to_string_lossy().into_owned(),
            vmlinuz: dir.join("vmlinuz"),
            config: dir.join("config"),
        };
        k.vmlinuz.is_file().then_some(k)
    }

    /// Whether the kernel was built with `option` (`CONFIG_BPF_LSM`) set to `y`.
    pub fn has(&self, option: &str) -> bool {
        std::fs::read_to_string(&self.config).is_ok_and(|c| c.lines().any(|l| l == format!("{option}=y")))
    }
}

/// The versioned image package and its candidate version, from the
/// package lists.
fn candidate() -> Result<(String, String), VmError> {
    let apt_cache = require("apt-cache", "apt")?;
    let deps = output(Command::new(&apt_cache).args(["depends", "--important", METAPACKAGE]))?;
    let package = deps
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .map(str::trim)
        .find(|p| p.starts_with("linux-image-"))
        .ok_or_else(|| VmError::Missing {
            what: format!("{METAPACKAGE} in the package lists"),
            fix: "apt-get update".into(),
        })?
        .to_owned();
    let show = output(Command::new(&apt_cache).args(["show", "--no-all-versions", &package]))?;
    let version = show
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .ok_or_else(|| VmError::Missing { what: format!("a version of {package}"), fix: "apt-get update".into() })?
        .trim()
        .to_owned();
    Ok((package, version))
}

/// The newest kernel already in `cache`.
fn newest_cached(cache: &Path) -> Option<Kernel> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cache)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("linux-image-")))
        .collect();
    dirs.sort();
    dirs.iter().rev().find_map(|d| Kernel::at(d))
}

/// The kernel to boot: `$SPO_VM_KERNEL` (a `vmlinuz`), else the cached
/// candidate version, fetched when missing.
pub fn ensure(cache: &Path) -> Result<Kernel, VmError> {
    if let Some(v) = std::env::var_os("SPO_VM_KERNEL") {
        let vmlinuz = PathBuf::from(v);
        let config = vmlinuz.with_file_name("config");
        return Ok(Kernel { key: vmlinuz.display().to_string(), vmlinuz, config });
    }
    let (package, version) = match candidate() {
        Ok(c) => c,
        Err(e) => return newest_cached(cache).ok_or(e),
    };
    let key = format!("{package}_{}", version.replace([':', '/'], "_"));
    let dir = cache.join(&key);
    if let Some(k) = Kernel::at(&dir) {
        return Ok(k);
    }
    std::fs::create_dir_all(cache).map_err(VmError::io("create", cache))?;
    let tmp = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(cache)
        .map_err(VmError::io("create a directory in", cache))?;
    let apt_get = require("apt-get", "apt")?;
    let dpkg = require("dpkg", "dpkg")?;
    output(Command::new(apt_get).current_dir(tmp.path()).args(["download", "-qq", &format!("{package}={version}")]))?;
    let deb = std::fs::read_dir(tmp.path())
        .map_err(VmError::io("list", tmp.path()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .ok_or_else(|| VmError::Missing { what: format!("the downloaded {package}"), fix: "apt-get update".into() })?;
    let x = tmp.path().join("x");
    output(Command::new(dpkg).arg("-x").arg(&deb).arg(&x))?;
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).map_err(VmError::io("create", &out))?;
    for (prefix, name) in [("vmlinuz-", "vmlinuz"), ("config-", "config")] {
        let boot = x.join("boot");
        let found = std::fs::read_dir(&boot)
            .map_err(VmError::io("list", &boot))?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
            .ok_or_else(|| VmError::Missing {
                what: format!("boot/{prefix}* in {package}"),
                fix: "check the package".into(),
            })?;
        std::fs::copy(&found, out.join(name)).map_err(VmError::io("copy", &found))?;
    }
    // Another run may have fetched the same version meanwhile: either
    // directory is complete.
    if std::fs::rename(&out, &dir).is_err() && Kernel::at(&dir).is_none() {
        return Err(VmError::Missing {
            what: format!("{}", dir.display()),
            fix: "check the cache directory's permissions".into(),
        });
    }
    Kernel::at(&dir)
        .ok_or_else(|| VmError::Missing { what: dir.display().to_string(), fix: "remove it and retry".into() })
}
