//! AppArmor and SELinux audit records: what was accessed, by whom, under
//! which profile.
//!
//! Both LSMs report through `AUDIT_AVC` (1400): SELinux as `avc: denied {
//! perms } ... scontext=... tcontext=... tclass=...`, AppArmor (since
//! Linux 4.x, through the common LSM audit path) as `apparmor="DENIED"
//! operation=... profile=...`. Older kernels used AppArmor's own record
//! types (1501-1507), read the same way. The records are parsed by
//! `spo_parse::audit`, the parsers `spoc record --from-audit` uses, so an
//! access is named the same way in a violation and in a recorded profile.
//!
//! The profile comes from the record itself, which is better evidence
//! than the process's environment: AppArmor names the profile the task
//! runs under; a SELinux type `NAME.process` is the block of the
//! `SelinuxProfile` or `RawSelinuxProfile` named `NAME` (namespaced
//! objects load as `NAME_NAMESPACE`).

use spo_parse::audit::{apparmor, avc};

use crate::status::LsmAccess;

/// `AUDIT_AVC`: SELinux and (current kernels) AppArmor.
pub const AUDIT_AVC: u16 = 1400;
/// AppArmor's own record types on kernels before the common LSM audit
/// path: `AUDIT_APPARMOR_AUDIT` ..= `AUDIT_APPARMOR_KILL`.
pub const AUDIT_APPARMOR: std::ops::RangeInclusive<u16> = 1501..=1507;

/// Whether records of `record_type` may be LSM decisions.
pub fn is_lsm_record(record_type: u16) -> bool {
    record_type == AUDIT_AVC || AUDIT_APPARMOR.contains(&record_type)
}

/// One LSM decision: who, what, and under which profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsmRecord {
    /// The process.
    pub pid: u32,
    /// Its command name.
    pub comm: Option<String>,
    /// The verdict as the record says it (`DENIED`, `ALLOWED`, `AUDIT`;
    /// `denied`, `granted`).
    pub action: String,
    /// The profile the record names, when it is one of ours by its form.
    pub profile: Option<String>,
    /// What was accessed.
    pub access: LsmAccess,
}

/// The profile of a SELinux type: `NAME.process` is profile `NAME`.
fn selinux_profile(ty: &str) -> Option<String> {
    ty.strip_suffix(".process").filter(|n| !n.is_empty()).map(str::to_owned)
}

/// Read one record text (`audit(T:N): ...`); `None` for records that are
/// not AppArmor or SELinux decisions or name no process.
pub fn parse(text: &str) -> Option<LsmRecord> {
    if text.contains("apparmor=") {
        let (events, _) = apparmor::parse(text);
        let e = events.into_iter().next()?;
        let (target, permissions) = match &e.access {
            apparmor::Access::Exec(p) => (p.clone(), vec!["x".to_owned()]),
            apparmor::Access::Map(p) => (p.clone(), vec!["m".to_owned()]),
            apparmor::Access::Path(p, r, w) => {
                let mut perms = Vec::new();
                if *r {
                    perms.push("r".to_owned());
                }
                if *w {
                    perms.push("w".to_owned());
                }
                (p.clone(), perms)
            }
            apparmor::Access::Capability(c) => (format!("capability {c}"), Vec::new()),
            apparmor::Access::Socket(f, t) => (format!("network {f} {t}").trim_end().to_owned(), Vec::new()),
        };
        let profile = (!e.profile.is_empty() && e.profile != "unconfined").then(|| e.profile.clone());
        return Some(LsmRecord {
            pid: e.pid?,
            comm: e.comm.clone(),
            action: e.verdict.clone(),
            profile,
            access: LsmAccess {
                module: "apparmor".into(),
                operation: Some(e.operation.clone()),
                subject: e.profile.clone(),
                target,
                class: None,
                permissions,
                name: None,
                permissive: e.verdict == "ALLOWED",
            },
        });
    }
    let (avcs, _) = avc::parse(text);
    let a = avcs.into_iter().next()?;
    Some(LsmRecord {
        pid: a.pid?,
        comm: a.comm.clone(),
        action: if a.denied { "denied" } else { "granted" }.into(),
        profile: selinux_profile(&a.source_type),
        access: LsmAccess {
            module: "selinux".into(),
            operation: None,
            subject: a.source_type.clone(),
            target: a.target_type.clone(),
            class: Some(a.class.clone()),
            permissions: a.permissions.clone(),
            name: a.name.clone(),
            permissive: a.permissive,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apparmor_and_selinux_records_name_process_profile_and_access() {
        let aa = parse(r#"audit(1700000000.5:7): apparmor="DENIED" operation="open" class="file" profile="aa-web" name="/root/secret.txt" pid=412 comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=0"#).unwrap();
        assert_eq!(
            (aa.pid, aa.comm.as_deref(), aa.profile.as_deref(), aa.action.as_str()),
            (412, Some("cat"), Some("aa-web"), "DENIED")
        );
        assert_eq!(
            (aa.access.module.as_str(), aa.access.target.as_str(), aa.access.permissive),
            ("apparmor", "/root/secret.txt", false)
        );
        let cap = parse(r#"audit(1.0:8): apparmor="ALLOWED" operation="capable" class="cap" profile="aa-web" pid=9 comm="chown" capability=0  capname="chown""#).unwrap();
        assert_eq!((cap.access.target.as_str(), cap.access.permissive), ("capability chown", true));
        let net = parse(r#"audit(1.0:9): apparmor="DENIED" operation="create" class="net" profile="aa-web" pid=9 comm="wget" family="inet" sock_type="stream" protocol=6 requested_mask="create" denied_mask="create""#).unwrap();
        assert_eq!(net.access.target, "network inet stream");
        let se = parse(r#"audit(1700000000.6:9): avc:  denied  { read } for  pid=77 comm="cat" name="secret" dev="rootfs" ino=12 scontext=system_u:system_r:seweb.process:s0 tcontext=system_u:object_r:etc_t:s0 tclass=file permissive=1"#).unwrap();
        assert_eq!((se.pid, se.profile.as_deref(), se.action.as_str()), (77, Some("seweb"), "denied"));
        assert_eq!(
            (se.access.target.as_str(), se.access.class.as_deref(), se.access.permissive),
            ("etc_t", Some("file"), true)
        );
        assert_eq!(se.access.permissions, ["read"]);
        // Not ours by form, still attributed to the process.
        let other = parse("audit(1.0:2): avc:  denied  { read } for pid=5 comm=\"x\" scontext=system_u:system_r:container_t:s0 tcontext=system_u:object_r:etc_t:s0 tclass=file permissive=0").unwrap();
        assert_eq!(other.profile, None);
        assert!(parse(r#"audit(1.0:3): apparmor="STATUS" operation="profile_load" profile="unconfined" name="aa-web" pid=3 comm="apparmor_parser""#).is_none());
        assert!(parse("audit(1.0:4): arch=c000003e syscall=257 success=no").is_none());
        assert!(is_lsm_record(1400) && is_lsm_record(1503) && !is_lsm_record(1326));
    }
}
