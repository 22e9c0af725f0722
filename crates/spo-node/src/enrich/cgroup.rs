//! From a process to its container: the cgroup path names it.
//!
//! Every runtime puts a container's processes in a cgroup whose path
//! carries the container id, in one of a few shapes:
//!
//! | runtime | cgroup v2 / systemd driver | cgroupfs driver or v1 |
//! |---|---|---|
//! | containerd CRI | `.../cri-containerd-ID.scope` | `/kubepods/.../podUID/ID` |
//! | CRI-O | `.../crio-ID.scope` | `/kubepods/.../podUID/crio-ID` |
//! | Docker | `.../docker-ID.scope` | `/docker/ID` |
//! | podman | `.../libpod-ID.scope` | `/libpod_parent/libpod-ID` |
//! | `ctr run` | `/NAMESPACE/ID` (any id the user chose) | same |
//!
//! Conmon's own cgroups (`crio-conmon-ID`, `libpod-conmon-ID`) are not the
//! container. v1 lists one line per hierarchy; any line naming an id will
//! do. Ids that are not 64 hex digits (`ctr run NAME`) are only recognised
//! when a runtime bundle of that name exists, which the caller checks
//! through the `candidates` order.

/// The container id candidates of one `/proc/PID/cgroup` text, best first:
/// 64-hex ids from runtime-specific components, then the last path
/// component of each line (for runtimes that take user-chosen ids).
pub fn container_candidates(cgroup: &str) -> Vec<String> {
    let mut hex = Vec::new();
    let mut plain = Vec::new();
    for line in cgroup.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        if path == "/" || path.is_empty() {
            continue;
        }
        for comp in path.split('/').rev() {
            if let Some(id) = id_of_component(comp) {
                if !hex.contains(&id) {
                    hex.push(id);
                }
            }
        }
        if let Some(last) = path.rsplit('/').find(|c| !c.is_empty() && !c.ends_with(".slice")) {
            let last = last.strip_suffix(".scope").unwrap_or(last);
            if !last.is_empty() && !plain.iter().any(|p| p == last) && !is_system_unit(last) {
                plain.push(last.to_owned());
            }
        }
    }
    let plain: Vec<String> = plain.into_iter().filter(|p| !hex.contains(p)).collect();
    hex.extend(plain);
    hex
}

fn is_system_unit(s: &str) -> bool {
    matches!(s, "init" | "user" | "system" | "kubepods" | "burstable" | "besteffort")
        || s.starts_with("session-")
        || s.starts_with("user@")
        || s.ends_with(".service")
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The container id in one path component, if it is a container's cgroup.
fn id_of_component(comp: &str) -> Option<String> {
    let c = comp.strip_suffix(".scope").unwrap_or(comp);
    if c.contains("conmon") {
        return None;
    }
    let id = ["cri-containerd-", "crio-", "docker-", "libpod-"].iter().find_map(|p| c.strip_prefix(p)).unwrap_or(c);
    is_hex64(id).then(|| id.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4b8f3f8a1d2c4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f";

    #[test]
    fn every_runtime_shape_yields_the_id() {
        let shapes = [
            format!("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234.slice/cri-containerd-{ID}.scope"),
            format!("0::/kubepods/besteffort/pod1234/{ID}"),
            format!("0::/kubepods.slice/kubepods-burstable.slice/crio-{ID}.scope"),
            format!("12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n0::/"),
            format!("0::/system.slice/docker-{ID}.scope"),
            format!("0::/machine.slice/libpod-{ID}.scope/container"),
            format!("1:name=systemd:/libpod_parent/libpod-{ID}"),
        ];
        for s in shapes {
            assert_eq!(container_candidates(&s).first().map(String::as_str), Some(ID), "{s}");
        }
    }

    #[test]
    fn conmon_and_host_processes_have_no_hex_id() {
        let c = container_candidates(&format!("0::/machine.slice/libpod-conmon-{ID}.scope"));
        assert!(!c.iter().any(|x| x == ID), "{c:?}");
        assert!(container_candidates("0::/user.slice/user-0.slice/session-3.scope").is_empty());
        assert!(container_candidates("0::/init.scope").is_empty());
        assert!(container_candidates("0::/").is_empty());
        assert_eq!(container_candidates("0::/default/web"), ["web"]);
    }
}
