//! Decoding the text of a `SECCOMP` audit record.
//!
//! Deliberately small: it reads the fields that say which process made
//! which call and what the filter did. Full audit parsing (every record type,
//! auditd-log and kmsg forms, spans) belongs in the parser crate.

use spo_model::seccomp::Action;
use spo_model::Arch;

use crate::NodeError;

/// The fields of a type 1326 record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompRecord {
    /// Event serial number, the `:N` of `audit(T:N)`.
    pub serial: u64,
    /// Process id.
    pub pid: u32,
    /// Real user id, when present.
    pub uid: Option<u32>,
    /// Command name (`comm`), hex-decoded if the kernel encoded it.
    pub comm: Option<String>,
    /// Executable path, hex-decoded if the kernel encoded it.
    pub exe: Option<String>,
    /// Signal the action delivers (31, SIGSYS, for kill and trap).
    pub sig: i32,
    /// `AUDIT_ARCH_*` token of the call.
    pub arch: u32,
    /// Syscall number as the filter saw it (x32 calls keep their
    /// `0x40000000` bit).
    pub syscall: u32,
    /// Whether the call came through a compatibility entry point.
    pub compat: bool,
    /// Instruction pointer of the call.
    pub ip: u64,
    /// The filter's action (`SECCOMP_RET_*`). The kernel logs the action
    /// part only: an errno or trace value is always zero here.
    pub code: u32,
}

impl SeccompRecord {
    /// Decode a record's text.
    pub fn parse(text: &str) -> Result<SeccompRecord, NodeError> {
        let bad = |field: &'static str| NodeError::AuditRecord { field, text: text.to_owned() };
        let serial = text
            .strip_prefix("audit(")
            .and_then(|t| t.split_once(')'))
            .and_then(|(stamp, _)| stamp.split_once(':'))
            .and_then(|(_, n)| n.parse().ok())
            .ok_or_else(|| bad("audit(...)"))?;
        let body = text.split_once("): ").map_or("", |(_, b)| b);
        let fields = fields(body);
        let get = |k: &str| fields.iter().find(|(key, _)| *key == k).map(|(_, v)| v.as_str());
        let dec = |k: &'static str| get(k).and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| bad(k));
        let hex = |k: &'static str| {
            get(k).and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok()).ok_or_else(|| bad(k))
        };
        let small = |k: &'static str, v: u64| u32::try_from(v).map_err(|_| bad(k));
        Ok(SeccompRecord {
            serial,
            pid: small("pid", dec("pid")?)?,
            uid: get("uid").and_then(|v| v.parse().ok()),
            comm: get("comm").map(str::to_owned),
            exe: get("exe").map(str::to_owned),
            sig: get("sig").and_then(|v| v.parse().ok()).ok_or_else(|| bad("sig"))?,
            arch: small("arch", hex("arch")?)?,
            syscall: small("syscall", dec("syscall")?)?,
            compat: dec("compat")? != 0,
            ip: hex("ip")?,
            code: small("code", hex("code")?)?,
        })
    }

    /// The action the filter returned, with zero data (see [`Self::code`]).
    pub fn action(&self) -> Action {
        Action::from_ret(self.code)
    }

    /// The architectures whose audit token matches (x86_64 and x32 share
    /// one; the x32 bit in the number tells them apart).
    pub fn arch(&self) -> Option<Arch> {
        let x32 = self.syscall & spo_model::arch::X32_SYSCALL_BIT != 0;
        Arch::ALL
            .iter()
            .copied()
            .filter(|a| a.audit_arch() == self.arch && a.is_supported())
            .find(|a| (*a == Arch::X32) == x32 || a.audit_arch() != Arch::X32.audit_arch())
    }

    /// The syscall's name, when the architecture is known.
    pub fn syscall_name(&self) -> Option<&'static str> {
        self.arch()?.syscall_name(self.syscall)
    }
}

/// `key=value` pairs; values may be double-quoted, and a bare value of an
/// even number of hex digits in a field the kernel hex-encodes (`comm`,
/// `exe`) is decoded.
fn fields(body: &str) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    let mut rest = body.trim_start();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            match q.split_once('"') {
                Some((v, n)) => (v.to_owned(), n),
                None => (q.to_owned(), ""),
            }
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            let raw = &after[..end];
            let v = if matches!(key, "comm" | "exe") {
                unhex(raw).unwrap_or_else(|| raw.to_owned())
            } else {
                raw.to_owned()
            };
            (v, &after[end..])
        };
        out.push((key, value));
        rest = next.trim_start();
    }
    out
}

fn unhex(s: &str) -> Option<String> {
    if s.is_empty() || !s.len().is_multiple_of(2) || s == "(null)" {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect();
    Some(String::from_utf8_lossy(&bytes?).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "audit(1764255600.123:4242): auid=4294967295 uid=0 gid=0 ses=4294967295 \
        subj=unconfined pid=1234 comm=\"getpid-test\" exe=\"/usr/bin/x y\" sig=0 arch=c000003e \
        syscall=39 compat=0 ip=0x7f12345678 code=0x7ffc0000";

    #[test]
    fn a_log_record_decodes() {
        let r = SeccompRecord::parse(LOG).unwrap();
        assert_eq!(r.serial, 4242);
        assert_eq!(r.pid, 1234);
        assert_eq!(r.uid, Some(0));
        assert_eq!(r.comm.as_deref(), Some("getpid-test"));
        assert_eq!(r.exe.as_deref(), Some("/usr/bin/x y"));
        assert_eq!(r.sig, 0);
        assert_eq!(r.arch, 0xc000_003e);
        assert_eq!(r.syscall, 39);
        assert!(!r.compat);
        assert_eq!(r.ip, 0x7f12345678);
        assert_eq!(r.action(), Action::Log);
        assert_eq!(r.arch(), Some(Arch::X86_64));
        assert_eq!(r.syscall_name(), Some("getpid"));
    }

    #[test]
    fn hex_encoded_names_and_other_arches_decode() {
        let t = "audit(1.5:7): pid=9 comm=6120622063 exe=2F746D702F6120622063 sig=31 arch=40000003 \
                 syscall=20 compat=1 ip=0x8049000 code=0x80000000";
        let r = SeccompRecord::parse(t).unwrap();
        assert_eq!(r.comm.as_deref(), Some("a b c"));
        assert_eq!(r.exe.as_deref(), Some("/tmp/a b c"));
        assert_eq!(r.arch(), Some(Arch::X86));
        assert_eq!(r.syscall_name(), Some("getpid"));
        assert_eq!(r.action(), Action::KillProcess);
        assert!(r.compat);
        let x32 = t.replace("arch=40000003", "arch=c000003e").replace("syscall=20", "syscall=1073741863");
        let r = SeccompRecord::parse(&x32).unwrap();
        assert_eq!(r.arch(), Some(Arch::X32));
        assert_eq!(r.syscall_name(), Some("getpid"));
    }

    #[test]
    fn missing_fields_are_named() {
        let err = SeccompRecord::parse(&LOG.replace("syscall=39 ", "")).unwrap_err();
        assert!(matches!(err, NodeError::AuditRecord { field: "syscall", .. }), "{err}");
        let err = SeccompRecord::parse("garbage").unwrap_err();
        assert!(matches!(err, NodeError::AuditRecord { field: "audit(...)", .. }), "{err}");
    }
}
