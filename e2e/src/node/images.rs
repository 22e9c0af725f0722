//! Two OCI images built from Debian's static busybox, for a node with no
//! registry: `busybox` (entrypoint `/bin/sh`, every applet linked in
//! `/bin`) for test pods, and `pause`, the sandbox image, a shell that
//! sleeps until SIGTERM.
//!
//! An image is an OCI image layout (`oci-layout`, `index.json`, blobs named
//! by SHA-256) in a tar archive, with the name containerd imports it under
//! in the index annotation `io.containerd.image.name`. The one layer is an
//! uncompressed tar with fixed times and owners, so the same busybox always
//! gives the same image digest.

use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::E2eError;

/// The test image: `/bin/sh` and the busybox applets.
pub const BUSYBOX: &str = "localhost/spo-e2e/busybox:1";

/// The sandbox image.
pub const PAUSE: &str = "localhost/spo-e2e/pause:1";

const PAUSE_ENTRYPOINT: &[&str] = &["/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done"];

/// Build both images in `work` and import them into containerd's `k8s.io`
/// namespace over `sock`.
pub fn import(work: &Path, sock: &Path) -> Result<(), E2eError> {
    let rootfs = work.join("rootfs");
    busybox_rootfs(&rootfs)?;
    let layer = work.join("layer.tar");
    run(Command::new("tar")
        .args(["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-C"])
        .arg(&rootfs)
        .arg("-cf")
        .arg(&layer)
        .arg("."))?;
    let layer = std::fs::read(&layer).map_err(E2eError::io(&layer))?;
    for (name, entrypoint) in [(BUSYBOX, &["/bin/sh"][..]), (PAUSE, PAUSE_ENTRYPOINT)] {
        let file = work.join(format!("{}.tar", name.rsplit('/').next().unwrap_or(name).replace(':', "-")));
        write_layout(&work.join("layout"), name, entrypoint, &layer)?;
        run(Command::new("tar").arg("-C").arg(work.join("layout")).arg("-cf").arg(&file).arg("."))?;
        run(Command::new("ctr").arg("--address").arg(sock).args(["-n", "k8s.io", "images", "import"]).arg(&file))?;
        std::fs::remove_dir_all(work.join("layout")).map_err(E2eError::io(work.join("layout")))?;
    }
    Ok(())
}

/// `/bin/busybox` with a link per applet, and the usual empty directories.
fn busybox_rootfs(rootfs: &Path) -> Result<(), E2eError> {
    for d in ["bin", "tmp", "proc", "dev", "sys", "etc", "var/run"] {
        std::fs::create_dir_all(rootfs.join(d)).map_err(E2eError::io(rootfs.join(d)))?;
    }
    let busybox = super::which("busybox").ok_or_else(|| E2eError::Spawn {
        program: "busybox".into(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "not on PATH"),
    })?;
    std::fs::copy(&busybox, rootfs.join("bin/busybox")).map_err(E2eError::io(&busybox))?;
    let out = Command::new(&busybox)
        .arg("--list")
        .output()
        .map_err(|source| E2eError::Spawn { program: "busybox".into(), source })?;
    for applet in String::from_utf8_lossy(&out.stdout).lines().filter(|a| *a != "busybox" && !a.contains('/')) {
        let link = rootfs.join("bin").join(applet);
        if !link.exists() {
            std::os::unix::fs::symlink("busybox", &link).map_err(E2eError::io(&link))?;
        }
    }
    let etc = rootfs.join("etc");
    std::fs::write(etc.join("passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        .map_err(E2eError::io(&etc))?;
    std::fs::write(etc.join("group"), "root:x:0:\nnobody:x:65534:\n").map_err(E2eError::io(&etc))?;
    Ok(())
}

/// An OCI image layout with one layer in `dir`.
fn write_layout(dir: &Path, name: &str, entrypoint: &[&str], layer: &[u8]) -> Result<(), E2eError> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(E2eError::io(&blobs))?;
    let blob = |bytes: &[u8]| -> Result<(String, usize), E2eError> {
        let hex = hex(&Sha256::digest(bytes));
        std::fs::write(blobs.join(&hex), bytes).map_err(E2eError::io(blobs.join(&hex)))?;
        Ok((format!("sha256:{hex}"), bytes.len()))
    };
    let (layer_digest, layer_size) = blob(layer)?;
    let config = serde_json::json!({
        "architecture": goarch(),
        "os": "linux",
        "config": {"Entrypoint": entrypoint, "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    });
    let (config_digest, config_size) = blob(config.to_string().as_bytes())?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}],
    });
    let (manifest_digest, manifest_size) = blob(manifest.to_string().as_bytes())?;
    let tag = name.rsplit(':').next().unwrap_or("latest");
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag},
        }],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).map_err(E2eError::io(dir.join("index.json")))?;
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(E2eError::io(dir.join("oci-layout")))?;
    Ok(())
}

fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn run(cmd: &mut Command) -> Result<(), E2eError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd.output().map_err(|source| E2eError::Spawn { program: program.clone(), source })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(E2eError::Command {
            program,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_digests_name_their_blobs() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_layout(dir.path(), BUSYBOX, &["/bin/sh"], b"not really a tar").expect("layout");
        let index: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("index.json")).expect("index"))
                .expect("json");
        let m = &index["manifests"][0];
        assert_eq!(m["annotations"]["io.containerd.image.name"], BUSYBOX);
        let digest = m["digest"].as_str().expect("digest").strip_prefix("sha256:").expect("sha256");
        let bytes = std::fs::read(dir.path().join("blobs/sha256").join(digest)).expect("manifest blob");
        assert_eq!(hex(&Sha256::digest(&bytes)), digest);
        assert_eq!(m["size"].as_u64(), Some(bytes.len() as u64));
        let manifest: serde_json::Value = serde_json::from_slice(&bytes).expect("manifest json");
        let layer = manifest["layers"][0]["digest"].as_str().expect("layer").strip_prefix("sha256:").expect("sha");
        assert_eq!(std::fs::read(dir.path().join("blobs/sha256").join(layer)).expect("layer"), b"not really a tar");
    }
}
