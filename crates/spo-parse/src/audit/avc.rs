//! SELinux AVC records (`type=1400`/`AVC`), and the `allow` map of a
//! `SelinuxProfile` that would have permitted them, as audit2allow does.

use std::collections::{BTreeMap, BTreeSet};

use super::{fields, get, lines, unhex};
use crate::{Diagnostic, Span};

/// One AVC record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avc {
    /// `denied` (true) or `granted`.
    pub denied: bool,
    /// Permissions, in record order.
    pub permissions: Vec<String>,
    /// Type of the source context (`container_t`).
    pub source_type: String,
    /// Type of the target context.
    pub target_type: String,
    /// Object class (`file`, `tcp_socket`).
    pub class: String,
    /// The process, when the record names it.
    pub pid: Option<u32>,
    /// Its command name (`comm=`).
    pub comm: Option<String>,
    /// The object's name (`name=`, `path=`), when given.
    pub name: Option<String>,
    /// `permissive=1`: the access was allowed and only logged (permissive
    /// mode or a permissive domain).
    pub permissive: bool,
    /// Where the record is in the input.
    pub span: Span,
}

/// The type field of `user:role:type:level`.
fn type_of(context: &str) -> Option<&str> {
    context.split(':').nth(2).filter(|t| !t.is_empty())
}

/// Every AVC record in `text`, and a warning for each AVC record that lacks
/// what a rule needs.
pub fn parse(text: &str) -> (Vec<Avc>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for line in lines(text) {
        let is_avc =
            matches!(line.record_type, Some("AVC" | "1400" | "USER_AVC" | "1107")) || line.body.starts_with("avc:");
        if !is_avc || !line.body.contains("avc:") {
            continue;
        }
        let span = Span::new(line.offset, line.offset + line.body.len());
        let f = fields(line.body, line.offset);
        let denied = f.iter().any(|(k, _, _)| *k == "denied");
        let perms = get(&f, "{}").map(|p| p.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
        let s = get(&f, "scontext").and_then(type_of);
        let t = get(&f, "tcontext").and_then(type_of);
        let class = get(&f, "tclass");
        match (perms, s, t, class) {
            (Some(p), Some(s), Some(t), Some(c)) if !p.is_empty() => out.push(Avc {
                denied,
                permissions: p,
                source_type: s.to_owned(),
                target_type: t.to_owned(),
                class: c.to_owned(),
                pid: get(&f, "pid").and_then(|p| p.parse().ok()),
                comm: get(&f, "comm").map(unhex),
                name: get(&f, "path").or_else(|| get(&f, "name")).map(unhex),
                permissive: get(&f, "permissive") == Some("1"),
                span,
            }),
            (p, s, t, c) => {
                let missing: Vec<&str> = [
                    ("{ permissions }", p.is_none_or(|p| p.is_empty())),
                    ("scontext", s.is_none()),
                    ("tcontext", t.is_none()),
                    ("tclass", c.is_none()),
                ]
                .iter()
                .filter(|(_, m)| *m)
                .map(|(n, _)| *n)
                .collect();
                diags.push(
                    Diagnostic::warning(span, format!("AVC record without {}; skipped", missing.join(", "))).with_help(
                        "an AVC record reads `avc: denied { perms } for ... scontext=... tcontext=... tclass=...`",
                    ),
                );
            }
        }
    }
    (out, diags)
}

/// The `allow` map (target type, `@self` when it is the source's own type,
/// -> class -> sorted permissions) that permits every denial of `domain`
/// (every source type when `None`).
pub fn allow_map(avcs: &[Avc], domain: Option<&str>) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut acc: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for a in avcs.iter().filter(|a| a.denied && domain.is_none_or(|d| d == a.source_type)) {
        let target = if a.target_type == a.source_type { "@self".to_owned() } else { a.target_type.clone() };
        acc.entry(target).or_default().entry(a.class.clone()).or_default().extend(a.permissions.iter().cloned());
    }
    acc.into_iter()
        .map(|(t, classes)| (t, classes.into_iter().map(|(c, p)| (c, p.into_iter().collect())).collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
type=AVC msg=audit(1700000000.1:10): avc:  denied  { read open } for  pid=42 comm=\"cat\" name=\"f\" dev=\"sda1\" ino=9 scontext=system_u:system_r:container_t:s0:c1,c2 tcontext=system_u:object_r:var_log_t:s0 tclass=file permissive=0
type=SYSCALL msg=audit(1700000000.1:10): arch=c000003e syscall=257 success=no
[ 100.1] audit: type=1400 audit(1700000000.2:11): avc:  denied  { getattr } for pid=42 comm=\"cat\" scontext=system_u:system_r:container_t:s0:c1,c2 tcontext=system_u:object_r:var_log_t:s0 tclass=file permissive=0
audit(1700000000.3:12): avc:  denied  { name_bind } for pid=42 src=80 scontext=system_u:system_r:container_t:s0 tcontext=system_u:object_r:http_port_t:s0 tclass=tcp_socket permissive=0
audit(1700000000.3:13): avc:  denied  { signal } for pid=42 scontext=system_u:system_r:container_t:s0 tcontext=system_u:system_r:container_t:s0 tclass=process
audit(1700000000.3:14): avc:  granted  { setenforce } for pid=1 scontext=a:b:c_t:s0 tcontext=a:b:d_t:s0 tclass=security
audit(1700000000.3:15): avc:  denied  { read } for pid=42 tclass=file
";

    #[test]
    fn denials_become_an_allow_map() {
        let (avcs, diags) = parse(LOG);
        assert_eq!(avcs.len(), 5);
        assert_eq!(diags.len(), 1);
        assert!(diags[0].message.contains("scontext, tcontext"), "{}", diags[0].message);
        assert_eq!(&LOG[diags[0].span.start..diags[0].span.start + 4], "avc:");
        let m = allow_map(&avcs, Some("container_t"));
        assert_eq!(m["var_log_t"]["file"], vec!["getattr", "open", "read"]);
        assert_eq!(m["http_port_t"]["tcp_socket"], vec!["name_bind"]);
        assert_eq!(m["@self"]["process"], vec!["signal"]);
        assert_eq!(m.len(), 3, "granted records and other domains stay out: {m:?}");
        // Who and what, for attribution.
        assert_eq!((avcs[0].pid, avcs[0].comm.as_deref(), avcs[0].name.as_deref()), (Some(42), Some("cat"), Some("f")));
        assert!(!avcs[0].permissive);
        let (p, _) = parse("audit(1.0:1): avc:  denied  { read } for pid=7 comm=\"sh\" path=\"/etc/x\" scontext=a:b:c_t:s0 tcontext=a:b:d_t:s0 tclass=file permissive=1\n");
        assert_eq!((p[0].name.as_deref(), p[0].permissive), (Some("/etc/x"), true));
    }
}
