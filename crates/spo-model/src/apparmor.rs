//! AppArmor profiles: SPO's `AppArmorProfile` resource, in its abstract
//! form (executables, files, network, capabilities) or as raw profile text
//! (`spec.policy`), and the checks that keep both safe to render.
//!
//! Everything a user writes in the abstract form ends up inside a profile
//! that `apparmor_parser` loads as root, so every path, name and capability
//! is checked here to be exactly one token of the profile language: a path
//! with a `,` outside a `{...}` alternation, a newline, a stray `}` or a `#`
//! could otherwise end the rule and start another.

use serde::{Deserialize, Serialize};

use crate::seccomp::{ObjectMeta, API_GROUP};
use crate::{FieldPath, Problem};

/// API versions accepted for `AppArmorProfile` (SPO serves `v1alpha1`
/// and `v1`; spo-rs writes `v1`).
pub const API_VERSIONS: &[&str] = &["v1", "v1alpha1"];

/// Linux capabilities as AppArmor names them (lowercase, no `CAP_`).
pub const CAPABILITIES: &[&str] = &[
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// `AppArmorProfile`, the custom resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppArmorProfile {
    /// `security-profiles-operator.x-k8s.io/v1` (`v1alpha1` accepted).
    pub api_version: String,
    /// Always `AppArmorProfile`.
    pub kind: String,
    /// The name becomes the AppArmor profile name.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The profile.
    #[serde(default)]
    pub spec: AppArmorSpec,
}

impl AppArmorProfile {
    /// Wrap a spec in a resource named `name`.
    pub fn new(name: &str, spec: AppArmorSpec) -> Self {
        AppArmorProfile {
            api_version: format!("{API_GROUP}/v1"),
            kind: "AppArmorProfile".into(),
            metadata: ObjectMeta { name: Some(name.into()), ..ObjectMeta::default() },
            spec,
        }
    }

    /// The profile name (the resource name).
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }

    /// Whether the profile is to be loaded in complain mode.
    pub fn is_complain(&self) -> bool {
        self.spec.mode == Some(Mode::Complain) || self.spec.complain_mode == Some(true)
    }
}

/// Enforce or only log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Denials are enforced (the default).
    Enforce,
    /// Denials are logged, not enforced.
    Complain,
}

/// What an `AppArmorProfile` allows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppArmorSpec {
    /// `Enforce` (default) or `Complain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// SPO's older boolean for complain mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complain_mode: Option<bool>,
    /// The abstract form.
    #[serde(default, rename = "abstract", skip_serializing_if = "Option::is_none")]
    pub abstract_: Option<Abstract>,
    /// Raw profile text, instead of the abstract form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Do not install the profile.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

/// The abstract form of a profile: what the workload needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Abstract {
    /// Programs and libraries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<Executable>,
    /// Files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<Filesystem>,
    /// Sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// Capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<Capability>,
    /// ptrace between processes (SPO v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptrace: Option<Ptrace>,
}

/// The ptrace accesses allowed, optionally only with one peer profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ptrace {
    /// Of `read`, `readby`, `trace`, `tracedby`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_access: Vec<String>,
    /// The peer profile (a name or glob; `@{profile_name}` for this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
}

/// The ptrace accesses AppArmor knows.
pub const PTRACE_ACCESS: &[&str] = &["read", "readby", "trace", "tracedby"];

/// Whether `peer` may follow `peer=` in a rule: SPO's pattern, letters,
/// digits and `_./*?-`, or `@{profile_name}`, so nothing can end the rule.
pub fn check_ptrace_peer(peer: &str) -> Result<(), String> {
    let mut rest = peer;
    if rest.is_empty() || rest.len() > 256 {
        return Err("a ptrace peer is 1 to 256 characters".into());
    }
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("@{profile_name}") {
            rest = r;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if !(c.is_ascii_alphanumeric() || "_./*?-".contains(c)) {
            return Err(format!(
                "`{}` in ptrace peer `{}`: only letters, digits, `_./*?-` and `@{{profile_name}}` are allowed",
                c.escape_debug(),
                peer.escape_debug()
            ));
        }
        rest = &rest[c.len_utf8()..];
    }
    Ok(())
}

/// Programs the workload may run and libraries it may map.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Executable {
    /// Run in the same profile (`ix`).
    #[serde(default)]
    pub allowed_executables: Vec<String>,
    /// Map executable (`m`) and read.
    #[serde(default)]
    pub allowed_libraries: Vec<String>,
}

/// File access by path glob.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filesystem {
    /// `r`.
    #[serde(default)]
    pub read_only_paths: Vec<String>,
    /// `w` (with lock and link).
    #[serde(default)]
    pub write_only_paths: Vec<String>,
    /// `rw` (with lock and link).
    #[serde(default)]
    pub read_write_paths: Vec<String>,
}

/// Socket access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    /// Raw and packet sockets.
    #[serde(default)]
    pub allow_raw: bool,
    /// TCP and UDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_protocols: Option<Protocols>,
}

/// Which IP protocols.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Protocols {
    /// TCP over IPv4 and IPv6.
    #[serde(default)]
    pub allow_tcp: bool,
    /// UDP over IPv4 and IPv6.
    #[serde(default)]
    pub allow_udp: bool,
}

/// Capabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capability {
    /// Names, lowercase without `CAP_`.
    #[serde(default)]
    pub allowed_capabilities: Vec<String>,
}

/// Where a profile header's flags are in a text, so they can be rewritten
/// (to switch a raw profile to complain mode) without re-rendering it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileHeader {
    /// The profile name, for messages.
    pub name: String,
    /// Byte range of the whole `flags=(...)` clause, when there is one.
    pub flags_span: Option<(usize, usize)>,
    /// The flags as written.
    pub flags: Vec<String>,
    /// Byte offset of the `{` that opens the body (where a new clause
    /// goes).
    pub open: usize,
}

/// Check that `path` is one safe path token for a file rule: absolute (or
/// starting with a variable), no blanks or control characters, no `#`, `"`
/// or NUL, braces balanced, and `,` only inside `{...}`.
pub fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("path is empty".into());
    }
    if !(path.starts_with('/') || path.starts_with("@{")) {
        return Err(format!(
            "path `{}` must be absolute (start with `/` or a variable such as `@{{HOME}}`)",
            path.escape_debug()
        ));
    }
    if let Some(c) = path.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "path `{}` contains {c:?}: blanks and control characters could start another rule",
            path.escape_debug()
        ));
    }
    for bad in ['#', '"', '\0', '!'] {
        if path.contains(bad) {
            return Err(format!(
                "path `{}` contains `{bad}`, which the profile language does not allow in a path",
                path.escape_debug()
            ));
        }
    }
    if path.contains("->") {
        return Err(format!("path `{path}` contains `->`, which would start an exec or link target"));
    }
    let mut depth = 0usize;
    let mut parens = 0usize;
    for c in path.chars() {
        match c {
            '(' => parens += 1,
            ')' if parens == 0 => return Err(format!("path `{path}` has a `)` that closes no `(`")),
            ')' => parens -= 1,
            '{' => depth += 1,
            '}' if depth == 0 => {
                return Err(format!("path `{path}` has a `}}` that closes no `{{`, which would end the profile"))
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                return Err(format!(
                "path `{path}` has a `,` outside `{{...}}`, which would end the rule; write alternatives as `{{a,b}}`"
            ))
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("path `{path}` has an unclosed `{{`"));
    }
    if parens != 0 {
        return Err(format!("path `{path}` has an unclosed `(`"));
    }
    let mut rest = path;
    while let Some(i) = rest.find("@{") {
        let after = &rest[i + 2..];
        let end = after.find('}').unwrap_or(after.len());
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("path `{path}` has an invalid variable `@{{{name}}}`"));
        }
        rest = &after[end..];
    }
    Ok(())
}

/// The capability name as AppArmor spells it, if `name` is one (accepts
/// `CAP_NET_ADMIN` and `net_admin`).
pub fn capability_name(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let bare = lower.strip_prefix("cap_").unwrap_or(&lower);
    CAPABILITIES.iter().copied().find(|c| *c == bare)
}

/// Check a profile: its name, and in the abstract form every path and
/// capability; every problem with its field path.
pub fn validate(p: &AppArmorProfile) -> Vec<Problem> {
    let mut out = Vec::new();
    let root = FieldPath::root();
    match p.metadata.name.as_deref() {
        None => out.push(
            Problem::error(root.key("metadata").key("name"), "the profile has no name")
                .with_help("set `metadata.name`"),
        ),
        Some(n) => {
            if let Err(msg) = crate::objname::check_object_name(n) {
                out.push(
                    Problem::error(root.key("metadata").key("name"), format!("invalid profile name: {msg}"))
                        .with_help("the name becomes the AppArmor profile name and a file name on nodes"),
                );
            }
        }
    }
    if p.kind != "AppArmorProfile" {
        out.push(Problem::error(root.key("kind"), format!("expected kind `AppArmorProfile`, found `{}`", p.kind)));
    }
    let ok_version = p.api_version.split_once('/').is_some_and(|(g, v)| g == API_GROUP && API_VERSIONS.contains(&v));
    if !ok_version {
        out.push(
            Problem::error(root.key("apiVersion"), format!("unsupported apiVersion `{}`", p.api_version))
                .with_help(format!("use `{API_GROUP}/v1`")),
        );
    }
    let spec = root.key("spec");
    if let (Some(Mode::Enforce), Some(true)) = (p.spec.mode, p.spec.complain_mode) {
        out.push(
            Problem::error(spec.key("complainMode"), "`complainMode: true` contradicts `mode: Enforce`")
                .with_related(spec.key("mode"), "mode set here"),
        );
    }
    match (&p.spec.abstract_, &p.spec.policy) {
        (Some(_), Some(_)) => out.push(
            Problem::error(spec.key("policy"), "a profile has either `abstract` or `policy`, not both")
                .with_related(spec.key("abstract"), "abstract form here"),
        ),
        (None, None) => {
            out.push(Problem::error(spec.clone(), "the profile has neither `abstract` nor `policy`").with_help(
                "describe what the workload needs under `spec.abstract`, or give profile text in `spec.policy`",
            ))
        }
        _ => {}
    }
    if let Some(a) = &p.spec.abstract_ {
        validate_abstract(a, &spec.key("abstract"), &mut out);
    }
    out
}

fn validate_abstract(a: &Abstract, at: &FieldPath, out: &mut Vec<Problem>) {
    let mut paths = |list: &[String], field: FieldPath| {
        for (i, p) in list.iter().enumerate() {
            if let Err(msg) = check_path(p) {
                out.push(Problem::error(field.index(i), msg));
            }
        }
    };
    if let Some(e) = &a.executable {
        let f = at.key("executable");
        paths(&e.allowed_executables, f.key("allowedExecutables"));
        paths(&e.allowed_libraries, f.key("allowedLibraries"));
    }
    if let Some(fs) = &a.filesystem {
        let f = at.key("filesystem");
        paths(&fs.read_only_paths, f.key("readOnlyPaths"));
        paths(&fs.write_only_paths, f.key("writeOnlyPaths"));
        paths(&fs.read_write_paths, f.key("readWritePaths"));
    }
    if let Some(t) = &a.ptrace {
        let f = at.key("ptrace");
        if t.allowed_access.is_empty() {
            out.push(
                Problem::error(f.key("allowedAccess"), "ptrace needs at least one allowed access")
                    .with_help("list some of `read`, `readby`, `trace`, `tracedby`"),
            );
        }
        for (i, access) in t.allowed_access.iter().enumerate() {
            if !PTRACE_ACCESS.contains(&access.as_str()) {
                let mut p = Problem::error(
                    f.key("allowedAccess").index(i),
                    format!("unknown ptrace access `{}`", access.escape_debug()),
                );
                p = match crate::suggest::did_you_mean(access, PTRACE_ACCESS.iter().copied()) {
                    Some(s) => p.with_help(format!("did you mean `{s}`?")),
                    None => p.with_help("one of `read`, `readby`, `trace`, `tracedby`"),
                };
                out.push(p);
            }
        }
        if let Some(peer) = &t.peer {
            if let Err(msg) = check_ptrace_peer(peer) {
                out.push(Problem::error(f.key("peer"), msg));
            }
        }
    }
    if let Some(c) = &a.capability {
        let f = at.key("capability").key("allowedCapabilities");
        for (i, name) in c.allowed_capabilities.iter().enumerate() {
            if capability_name(name).is_none() {
                let mut p = Problem::error(f.index(i), format!("unknown capability `{}`", name.escape_debug()));
                p = match crate::suggest::did_you_mean(name, CAPABILITIES.iter().copied()) {
                    Some(s) => p.with_help(format!("did you mean `{s}`?")),
                    None => {
                        p.with_help("capability names are lowercase without `CAP_`, for example `net_bind_service`")
                    }
                };
                out.push(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_inject_rules_are_rejected() {
        for bad in [
            "/etc/x, /etc/shadow rw",
            "/a\n  capability sys_admin",
            "/a} profile evil {",
            "/a#x",
            "relative/path",
            "/a -> b",
            "/a{b",
            "/a\"b",
            "/a @{X}",
            "/a)",
            "/a(b",
            "/a!b",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "/etc/nginx/**",
            "/proc/@{pid}/cgroup",
            "/usr/{bin,sbin}/x{,.real}",
            "@{HOME}/.config/",
            "/[a-z]*",
            "/a=b(c)",
        ] {
            assert_eq!(check_path(good), Ok(()), "{good:?}");
        }
    }

    #[test]
    fn validation_names_each_bad_field() {
        let mut p = AppArmorProfile::new(
            "Bad_Name",
            AppArmorSpec {
                abstract_: Some(Abstract {
                    filesystem: Some(Filesystem {
                        read_only_paths: vec!["/ok".into(), "/x,y".into()],
                        ..Default::default()
                    }),
                    capability: Some(Capability {
                        allowed_capabilities: vec!["net_admin".into(), "net_bind_servce".into()],
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        let paths: Vec<String> = validate(&p).iter().map(|x| x.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "metadata.name",
                "spec.abstract.filesystem.readOnlyPaths[1]",
                "spec.abstract.capability.allowedCapabilities[1]"
            ]
        );
        let cap = validate(&p).pop().expect("a problem");
        assert_eq!(cap.help.as_deref(), Some("did you mean `net_bind_service`?"));
        p.metadata.name = Some("good".into());
        p.spec.abstract_ = None;
        assert_eq!(validate(&p)[0].path.to_string(), "spec");
    }

    #[test]
    fn capability_names_accept_kernel_spelling() {
        assert_eq!(capability_name("CAP_NET_ADMIN"), Some("net_admin"));
        assert_eq!(capability_name("chown"), Some("chown"));
        assert_eq!(capability_name("chwon"), None);
    }
}
