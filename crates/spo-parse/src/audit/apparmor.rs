//! AppArmor records (`type=1400`/`APPARMOR_DENIED`, `APPARMOR_ALLOWED` in
//! complain mode) and the abstract `AppArmorProfile` that would permit
//! them: executables, libraries, paths by access, network protocols and
//! capabilities.

use std::collections::BTreeSet;

use spo_model::apparmor::{Abstract, Capability, Executable, Filesystem, Network, Protocols};

use super::{fields, get, lines, unhex};
use crate::{Diagnostic, Span};

/// What one record asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Executing a program.
    Exec(String),
    /// Mapping a file executable (a shared library).
    Map(String),
    /// Opening or changing a path: (path, read, write).
    Path(String, bool, bool),
    /// Using a capability (AppArmor's name, such as `net_admin`).
    Capability(String),
    /// Creating or using a socket: (family, type).
    Socket(String, String),
}

/// One AppArmor record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `DENIED`, `ALLOWED` (complain mode) or `AUDIT`.
    pub verdict: String,
    /// The profile the process ran under.
    pub profile: String,
    /// What it asked for.
    pub access: Access,
    /// The LSM hook (`operation=`: `open`, `capable`, `create`, `exec`).
    pub operation: String,
    /// The process, when the record names it.
    pub pid: Option<u32>,
    /// Its command name (`comm=`).
    pub comm: Option<String>,
    /// Where the record is in the input.
    pub span: Span,
}

/// Every AppArmor record in `text`, with a warning for each one that
/// cannot be turned into a rule.
pub fn parse(text: &str) -> (Vec<Event>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for line in lines(text) {
        if !line.body.contains("apparmor=") {
            continue;
        }
        let span = Span::new(line.offset, line.offset + line.body.len());
        let f = fields(line.body, line.offset);
        let verdict = get(&f, "apparmor").unwrap_or("").to_owned();
        if verdict == "STATUS" {
            continue;
        }
        let profile = get(&f, "profile").map(unhex).unwrap_or_default();
        let op = get(&f, "operation").unwrap_or("");
        let mask = get(&f, "denied_mask").or_else(|| get(&f, "requested_mask")).unwrap_or("");
        let name = get(&f, "name").map(unhex);
        let access = match (op, name) {
            ("capable", _) => get(&f, "capname").map(|c| Access::Capability(c.to_owned())),
            ("exec", Some(n)) => Some(Access::Exec(n)),
            (_, Some(n)) if op == "file_mmap" || (mask.contains('m') && !mask.contains('w')) => Some(Access::Map(n)),
            (_, Some(n)) if !mask.is_empty() => {
                let read = mask.contains('r');
                let write = mask.chars().any(|c| matches!(c, 'w' | 'a' | 'c' | 'd' | 'l' | 'k'));
                Some(Access::Path(n, read || !write, write))
            }
            _ => get(&f, "family")
                .map(|fam| Access::Socket(fam.to_owned(), get(&f, "sock_type").unwrap_or("").to_owned())),
        };
        match access {
            Some(access) => out.push(Event {
                verdict,
                profile,
                access,
                operation: op.to_owned(),
                pid: get(&f, "pid").and_then(|p| p.parse().ok()),
                comm: get(&f, "comm").map(unhex),
                span,
            }),
            None => diags.push(
                Diagnostic::warning(
                    span,
                    format!("AppArmor record for operation `{op}` names nothing a rule can allow; skipped"),
                )
                .with_help(
                    "file records need `name=` and a mask, capability records `capname=`, network records `family=`",
                ),
            ),
        }
    }
    (out, diags)
}

/// The abstract profile that permits every denied (or, in complain mode,
/// allowed) access of `profile` (every profile when `None`).
pub fn to_abstract(events: &[Event], profile: Option<&str>) -> Abstract {
    let mut exes = BTreeSet::new();
    let mut libs = BTreeSet::new();
    let mut read = BTreeSet::new();
    let mut write = BTreeSet::new();
    let mut caps = BTreeSet::new();
    let (mut tcp, mut udp, mut raw) = (false, false, false);
    for e in events.iter().filter(|e| e.verdict != "AUDIT" && profile.is_none_or(|p| p == e.profile)) {
        match &e.access {
            Access::Exec(p) => {
                exes.insert(p.clone());
            }
            Access::Map(p) => {
                libs.insert(p.clone());
            }
            Access::Path(p, r, w) => {
                if *r {
                    read.insert(p.clone());
                }
                if *w {
                    write.insert(p.clone());
                }
            }
            Access::Capability(c) => {
                caps.insert(c.clone());
            }
            Access::Socket(fam, ty) => match (fam.as_str(), ty.as_str()) {
                (_, "raw") | ("packet", _) => raw = true,
                ("inet" | "inet6", "stream") => tcp = true,
                ("inet" | "inet6", "dgram") => udp = true,
                _ => {}
            },
        }
    }
    let both: BTreeSet<String> = read.intersection(&write).cloned().collect();
    let mut a = Abstract::default();
    if !exes.is_empty() || !libs.is_empty() {
        a.executable = Some(Executable {
            allowed_executables: exes.into_iter().collect(),
            allowed_libraries: libs.into_iter().collect(),
        });
    }
    if !read.is_empty() || !write.is_empty() {
        a.filesystem = Some(Filesystem {
            read_only_paths: read.difference(&both).cloned().collect(),
            write_only_paths: write.difference(&both).cloned().collect(),
            read_write_paths: both.into_iter().collect(),
        });
    }
    if tcp || udp || raw {
        a.network = Some(Network {
            allow_raw: raw,
            allowed_protocols: (tcp || udp).then_some(Protocols { allow_tcp: tcp, allow_udp: udp }),
        });
    }
    if !caps.is_empty() {
        a.capability = Some(Capability { allowed_capabilities: caps.into_iter().collect() });
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = r#"type=AVC msg=audit(1.1:1): apparmor="DENIED" operation="open" profile="web" name="/etc/web.conf" pid=1 comm="web" requested_mask="r" denied_mask="r" fsuid=0 ouid=0
type=AVC msg=audit(1.1:2): apparmor="DENIED" operation="open" profile="web" name="/var/log/web.log" pid=1 comm="web" requested_mask="wc" denied_mask="wc" fsuid=0 ouid=0
[ 3.0] audit: type=1400 audit(1.1:3): apparmor="ALLOWED" operation="open" profile="web" name="/var/lib/web/db" pid=1 comm="web" requested_mask="rw" denied_mask="rw"
audit(1.1:4): apparmor="DENIED" operation="exec" profile="web" name="/usr/bin/curl" pid=1 comm="web" requested_mask="x" denied_mask="x"
audit(1.1:5): apparmor="DENIED" operation="file_mmap" profile="web" name="/usr/lib/libweb.so" pid=1 comm="web" requested_mask="m" denied_mask="m"
audit(1.1:6): apparmor="DENIED" operation="capable" profile="web" pid=1 comm="web" capability=12 capname="net_admin"
audit(1.1:7): apparmor="DENIED" operation="create" profile="web" pid=1 comm="web" family="inet" sock_type="stream" protocol=6 requested_mask="create" denied_mask="create"
audit(1.1:8): apparmor="DENIED" operation="create" profile="web" pid=1 comm="web" family="inet6" sock_type="dgram" protocol=17 requested_mask="create" denied_mask="create"
audit(1.1:9): apparmor="DENIED" operation="open" profile="other" name="/secret" pid=2 comm="x" requested_mask="r" denied_mask="r"
audit(1.1:10): apparmor="DENIED" operation="truncate" profile="web" pid=1 comm="web"
audit(1.1:11): apparmor="STATUS" operation="profile_load" profile="unconfined" name="web" pid=3 comm="apparmor_parser"
"#;

    #[test]
    fn records_become_an_abstract_profile() {
        let (events, diags) = parse(LOG);
        assert_eq!(events.len(), 9);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].message.contains("`truncate`"));
        let a = to_abstract(&events, Some("web"));
        let fs = a.filesystem.unwrap();
        assert_eq!(fs.read_only_paths, vec!["/etc/web.conf"]);
        assert_eq!(fs.write_only_paths, vec!["/var/log/web.log"]);
        assert_eq!(fs.read_write_paths, vec!["/var/lib/web/db"]);
        let ex = a.executable.unwrap();
        assert_eq!(ex.allowed_executables, vec!["/usr/bin/curl"]);
        assert_eq!(ex.allowed_libraries, vec!["/usr/lib/libweb.so"]);
        assert_eq!(a.capability.unwrap().allowed_capabilities, vec!["net_admin"]);
        let net = a.network.unwrap();
        assert!(!net.allow_raw);
        assert_eq!(net.allowed_protocols, Some(Protocols { allow_tcp: true, allow_udp: true }));
        // Who and which hook, for attribution.
        let last = events.last().unwrap();
        assert_eq!((last.pid, last.comm.as_deref(), last.operation.as_str()), (Some(2), Some("x"), "open"));
        assert_eq!(events[5].operation, "capable");
    }
}
