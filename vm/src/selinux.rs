//! The guest's SELinux: Debian's reference policy (`selinux-policy-default`)
//! with the container templates `SelinuxProfile`s inherit from.
//!
//! A `SelinuxProfile` compiles to `(block NAME (blockinherit container)
//! ...)`, so the policy must hold the `container` template block, which
//! container-selinux provides on Fedora-family nodes and Debian's policy
//! lacks. The host adds `data/selinux/container-shim.cil`, the base
//! template and `vm/selinux/runtime.cil` (the rules a container runtime's
//! domain has over container domains, given to the guest's init, which
//! plays the runtime) to a copy of the system store once (`semodule -p ROOT -n`,
//! about ten seconds) and caches the result under
//! `CACHE/selinux-HASH`, keyed by the policy package's version and the
//! CIL files. The guest gets that store, the policy it built and the
//! system's `/etc/selinux`, plus the userspace the tests use
//! (`load_policy`, `semodule`, `secilc`, `runcon`, `setfiles`).

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::initramfs::Initramfs;
use crate::tools::{find, output, require};
use crate::VmError;

/// The CIL files added to the policy, relative to the repository: the
/// shim and base template every node needs, and the guest's stand-in for
/// a container runtime (`vm/selinux/runtime.cil`).
const TEMPLATES: [&str; 3] =
    ["data/selinux/container-shim.cil", "data/selinux/templates/base_container.cil", "vm/selinux/runtime.cil"];

/// The SELinux programs the guest gets (with their libraries).
pub const PROGRAMS: [&str; 8] =
    ["load_policy", "semodule", "secilc", "runcon", "setfiles", "sefcontext_compile", "getenforce", "chcon"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The prepared policy root (`ROOT/var/lib/selinux/default` and
/// `ROOT/etc/selinux/default/policy/policy.33`), made when missing.
pub fn prepared_root() -> Result<PathBuf, VmError> {
    let system = Path::new("/var/lib/selinux/default");
    if !system.join("active").exists() {
        return Err(VmError::Missing {
            what: "Debian's SELinux policy store".into(),
            fix: "apt-get install selinux-policy-default (scripts/install-deps.sh)".into(),
        });
    }
    let semodule = require("semodule", "semodule-utils policycoreutils")?;
    let version = output(Command::new("dpkg-query").args(["-W", "-f=${Version}", "selinux-policy-default"]))
        .unwrap_or_else(|_| "unknown".into());
    let mut h = Sha256::new();
    h.update(version.as_bytes());
    for t in TEMPLATES {
        let p = repo().join(t);
        h.update(std::fs::read(&p).map_err(VmError::io("read", &p))?);
    }
    let key: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let cache = crate::cache_dir();
    let root = cache.join(format!("selinux-{key}"));
    if root.join("etc/selinux/default/policy/policy.33").exists() {
        return Ok(root);
    }
    std::fs::create_dir_all(&cache).map_err(VmError::io("create", &cache))?;
    let tmp = tempfile::Builder::new()
        .prefix(".selinux-")
        .tempdir_in(&cache)
        .map_err(VmError::io("create a directory in", &cache))?;
    let store = tmp.path().join("root/var/lib/selinux");
    std::fs::create_dir_all(&store).map_err(VmError::io("create", &store))?;
    output(Command::new("cp").arg("-a").arg(system).arg(&store))?;
    let mut cmd = Command::new(semodule);
    cmd.arg("-p").arg(tmp.path().join("root")).args(["-s", "default", "-n"]);
    for t in TEMPLATES {
        cmd.arg("-i").arg(repo().join(t));
    }
    output(&mut cmd)?;
    if std::fs::rename(tmp.path().join("root"), &root).is_err()
        && !root.join("etc/selinux/default/policy/policy.33").exists()
    {
        return Err(VmError::Missing { what: root.display().to_string(), fix: "check the cache's permissions".into() });
    }
    Ok(root)
}

/// The SELinux userspace, configuration and prepared policy into `i`.
pub fn add_to(i: &mut Initramfs) -> Result<(), VmError> {
    let root = prepared_root()?;
    for p in PROGRAMS {
        if let Some(path) = find(p) {
            i.program(&path)?;
        } else if matches!(p, "load_policy" | "semodule" | "runcon") {
            return Err(VmError::Missing {
                what: p.into(),
                fix: "apt-get install policycoreutils semodule-utils".into(),
            });
        }
    }
    i.tree(Path::new("/etc/selinux"), "/etc/selinux")?;
    i.tree(&root.join("etc/selinux/default"), "/etc/selinux/default")?;
    i.tree(&root.join("var/lib/selinux/default"), "/var/lib/selinux/default")?;
    // /init sets the mode itself after loading the policy.
    i.text("/etc/selinux/config", "SELINUX=permissive\nSELINUXTYPE=default\n", 0o644);
    Ok(())
}
