//! The kernel's BTF (`/sys/kernel/btf/vmlinux`): the type ids and struct
//! offsets a BPF LSM program needs.
//!
//! A BPF LSM program is attached to a hook by the BTF id of the hook's
//! function (`bpf_lsm_file_open`), and reads its arguments' fields at
//! offsets that differ between kernel builds; both come from the running
//! kernel's BTF. Only what the recorder asks for is read: the type table
//! is walked once (every kind's record length, per `btf.h`), functions by
//! name and struct members by name. Hand-written rather than a crate: the
//! BPF crates bring a loader and an ELF toolchain the recorder does not
//! use, and the part needed is the 19 record lengths below.

use std::path::Path;

use crate::NodeError;

const MAGIC: u16 = 0xeb9f;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_FUNC: u32 = 12;

#[derive(Debug, Clone, Copy)]
struct Type {
    name_off: u32,
    info: u32,
    /// Where the kind-specific data starts in the type section.
    data: usize,
}

impl Type {
    fn kind(self) -> u32 {
        (self.info >> 24) & 0x1f
    }
    fn vlen(self) -> usize {
        (self.info & 0xffff) as usize
    }
    fn kind_flag(self) -> bool {
        self.info >> 31 == 1
    }
}

/// A parsed BTF blob.
#[derive(Debug)]
pub struct Btf {
    types_sec: Vec<u8>,
    strings: Vec<u8>,
    /// Type id - 1 to its record.
    types: Vec<Type>,
}

fn bad(path: &Path, what: &str) -> NodeError {
    NodeError::Io { op: "read BTF from", path: path.to_owned(), source: std::io::Error::other(what.to_owned()) }
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl Btf {
    /// The running kernel's BTF.
    pub fn vmlinux() -> Result<Btf, NodeError> {
        Btf::load(Path::new("/sys/kernel/btf/vmlinux"))
    }

    /// The BTF at `path`.
    pub fn load(path: &Path) -> Result<Btf, NodeError> {
        let raw = std::fs::read(path).map_err(|source| NodeError::Io { op: "read", path: path.to_owned(), source })?;
        Btf::parse(&raw).ok_or_else(|| bad(path, "not a BTF blob this reader understands"))
    }

    fn parse(raw: &[u8]) -> Option<Btf> {
        if u16::from_ne_bytes(raw.get(0..2)?.try_into().ok()?) != MAGIC {
            return None;
        }
        let hdr_len = u32_at(raw, 4)? as usize;
        let (type_off, type_len) = (u32_at(raw, 8)? as usize, u32_at(raw, 12)? as usize);
        let (str_off, str_len) = (u32_at(raw, 16)? as usize, u32_at(raw, 20)? as usize);
        let types_sec = raw.get(hdr_len + type_off..hdr_len + type_off + type_len)?.to_vec();
        let strings = raw.get(hdr_len + str_off..hdr_len + str_off + str_len)?.to_vec();
        let mut types = Vec::new();
        let mut at = 0;
        while at + 12 <= types_sec.len() {
            let t = Type { name_off: u32_at(&types_sec, at)?, info: u32_at(&types_sec, at + 4)?, data: at + 12 };
            let extra = match t.kind() {
                1 | 14 | 17 => 4,                 // INT, VAR, DECL_TAG
                3 => 12,                          // ARRAY
                4 | 5 | 15 | 19 => 12 * t.vlen(), // STRUCT, UNION, DATASEC, ENUM64
                6 | 13 => 8 * t.vlen(),           // ENUM, FUNC_PROTO
                2 | 7..=12 | 16 | 18 => 0,        // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
                _ => return None,
            };
            types.push(t);
            at = t.data + extra;
        }
        Some(Btf { types_sec, strings, types })
    }

    fn name(&self, off: u32) -> &[u8] {
        let s = self.strings.get(off as usize..).unwrap_or_default();
        &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())]
    }

    /// The type id of function `name` (`BTF_KIND_FUNC`).
    pub fn func_id(&self, name: &str) -> Option<u32> {
        self.types
            .iter()
            .position(|t| t.kind() == KIND_FUNC && self.name(t.name_off) == name.as_bytes())
            .map(|i| i as u32 + 1)
    }

    /// The byte offset of member `member` in `struct name`, also when it
    /// sits in an anonymous union or struct (Linux 6.x wraps `f_path` in
    /// one).
    pub fn member_offset(&self, name: &str, member: &str) -> Option<u32> {
        let t = self.types.iter().find(|t| {
            matches!(t.kind(), KIND_STRUCT | KIND_UNION) && self.name(t.name_off) == name.as_bytes() && t.vlen() > 0
        })?;
        self.member_bits(*t, member, 4).filter(|b| b % 8 == 0).map(|b| b / 8)
    }

    /// The bit offset of `member` in composite `t`, searching anonymous
    /// members `depth` levels deep.
    fn member_bits(&self, t: Type, member: &str, depth: u32) -> Option<u32> {
        let mut anonymous = Vec::new();
        for i in 0..t.vlen() {
            let m = t.data + 12 * i;
            let off = u32_at(&self.types_sec, m + 8)?;
            let bits = if t.kind_flag() { off & 0x00ff_ffff } else { off };
            let name = self.name(u32_at(&self.types_sec, m)?);
            if name == member.as_bytes() {
                return Some(bits);
            }
            if name.is_empty() {
                anonymous.push((u32_at(&self.types_sec, m + 4)?, bits));
            }
        }
        if depth == 0 {
            return None;
        }
        anonymous.into_iter().find_map(|(id, base)| {
            let inner = self.resolve(id)?;
            matches!(inner.kind(), KIND_STRUCT | KIND_UNION)
                .then(|| self.member_bits(inner, member, depth - 1).map(|b| base + b))
                .flatten()
        })
    }

    /// Type `id` with typedefs and qualifiers taken off.
    fn resolve(&self, mut id: u32) -> Option<Type> {
        for _ in 0..16 {
            let t = *self.types.get(id.checked_sub(1)? as usize)?;
            match t.kind() {
                8..=11 | 18 => id = u32_at(&self.types_sec, t.data - 4)?,
                _ => return Some(t),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob with `struct s { int a; long b; }`, `func f` and
    /// `struct t { int a; union { int b; }; }`.
    fn blob() -> Vec<u8> {
        let strings = b"\0s\0a\0b\0f\0int\0t\0".to_vec();
        let mut types = Vec::new();
        let mut put = |v: &[u32]| v.iter().for_each(|x| types.extend_from_slice(&x.to_ne_bytes()));
        put(&[9, 1 << 24, 4, 32]); // [1] INT int, 4 bytes
        put(&[1, (4 << 24) | 2, 16, 3, 1, 0, 5, 1, 64]); // [2] STRUCT s { a @0, b @64 bits }
        put(&[7, 12 << 24, 0]); // [3] FUNC f
        put(&[0, (5 << 24) | 1, 8, 5, 1, 0]); // [4] UNION { b @0 }
        put(&[13, (4 << 24) | 2, 16, 3, 1, 0, 0, 4, 64]); // [5] STRUCT t { a @0, union @64 bits }
        let mut raw = Vec::new();
        for v in [u32::from(MAGIC) | (1 << 16), 24, 0, types.len() as u32, types.len() as u32, strings.len() as u32] {
            raw.extend_from_slice(&v.to_ne_bytes());
        }
        raw.extend(types);
        raw.extend(strings);
        raw
    }

    #[test]
    fn functions_and_members_are_found() {
        let b = Btf::parse(&blob()).unwrap();
        assert_eq!(b.func_id("f"), Some(3));
        assert_eq!(b.func_id("g"), None);
        assert_eq!(b.member_offset("s", "b"), Some(8));
        assert_eq!(b.member_offset("s", "c"), None);
        // In an anonymous union, as `f_path` is in Linux 6.x.
        assert_eq!(b.member_offset("t", "b"), Some(8));
        assert_eq!(b.member_offset("t", "a"), Some(0));
    }

    /// The running kernel's BTF, where it has one: the hooks the AppArmor
    /// recorder attaches to are there.
    #[test]
    fn the_running_kernels_btf_reads() {
        let Ok(b) = Btf::vmlinux() else {
            return spo_test_support::skip("needs /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)");
        };
        assert!(b.member_offset("file", "f_path").is_some());
        if b.func_id("bpf_lsm_file_open").is_none() {
            spo_test_support::skip_optional("this kernel has no BPF LSM hooks (CONFIG_BPF_LSM)");
        }
    }
}
