//! Architectures, by their libseccomp names, with what a BPF filter needs to
//! know about each: the audit architecture token in `seccomp_data.arch`, the
//! word size, and the syscall table.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::syscalls::{self, SyscallTable};
use crate::ModelError;

/// `__X32_SYSCALL_BIT`: x32 syscalls share x86_64's audit token and are told
/// apart by this bit in the syscall number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

macro_rules! arches {
    ($( $variant:ident = $scmp:literal, $audit:literal, $bits:literal, [$($alias:literal),*], $table:expr; )*) => {
        /// An architecture a seccomp profile can name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Arch { $( #[doc = concat!("`", $scmp, "`")] $variant, )* }

        impl Arch {
            /// Every architecture, in declaration order.
            pub const ALL: &'static [Arch] = &[$( Arch::$variant, )*];

            /// The libseccomp name, such as `SCMP_ARCH_X86_64`.
            pub fn scmp_name(self) -> &'static str {
                match self { $( Arch::$variant => $scmp, )* }
            }

            /// The `AUDIT_ARCH_*` token the kernel puts in `seccomp_data.arch`.
            pub fn audit_arch(self) -> u32 {
                match self { $( Arch::$variant => $audit, )* }
            }

            /// Width of a syscall argument register, in bits.
            pub fn bits(self) -> u32 {
                match self { $( Arch::$variant => $bits, )* }
            }

            /// Short names accepted on the command line besides the
            /// `SCMP_ARCH_*` name.
            pub fn aliases(self) -> &'static [&'static str] {
                match self { $( Arch::$variant => &[$($alias),*], )* }
            }

            /// The syscall table, or `None` where spo-rs has none (the
            /// architecture is recognised so profiles naming it still load).
            pub fn table(self) -> Option<SyscallTable> {
                match self { $( Arch::$variant => $table, )* }
            }
        }
    };
}

arches! {
    X86_64 = "SCMP_ARCH_X86_64", 0xC000_003E, 64, ["x86_64", "amd64"], Some(syscalls::table(syscalls::tables::X86_64));
    X86 = "SCMP_ARCH_X86", 0x4000_0003, 32, ["x86", "i386", "i686", "386"], Some(syscalls::table(syscalls::tables::X86));
    X32 = "SCMP_ARCH_X32", 0xC000_003E, 32, ["x32"], Some(syscalls::table(syscalls::tables::X32));
    Aarch64 = "SCMP_ARCH_AARCH64", 0xC000_00B7, 64, ["aarch64", "arm64"], Some(syscalls::table(syscalls::tables::AARCH64));
    Arm = "SCMP_ARCH_ARM", 0x4000_0028, 32, ["arm", "armhf", "armel"], Some(syscalls::table(syscalls::tables::ARM));
    Riscv64 = "SCMP_ARCH_RISCV64", 0xC000_00F3, 64, ["riscv64"], Some(syscalls::table(syscalls::tables::RISCV64));
    Ppc64le = "SCMP_ARCH_PPC64LE", 0xC000_0015, 64, ["ppc64le", "ppc64el"], Some(syscalls::table(syscalls::tables::PPC64LE));
    Ppc64 = "SCMP_ARCH_PPC64", 0x8000_0015, 64, ["ppc64"], Some(syscalls::table(syscalls::tables::PPC64));
    Ppc = "SCMP_ARCH_PPC", 0x0000_0014, 32, ["ppc", "powerpc"], Some(syscalls::table(syscalls::tables::PPC));
    S390x = "SCMP_ARCH_S390X", 0x8000_0016, 64, ["s390x"], Some(syscalls::table(syscalls::tables::S390X));
    S390 = "SCMP_ARCH_S390", 0x0000_0016, 32, ["s390"], None;
    Mips = "SCMP_ARCH_MIPS", 0x0000_0008, 32, ["mips"], Some(syscalls::table(syscalls::tables::MIPS));
    Mipsel = "SCMP_ARCH_MIPSEL", 0x4000_0008, 32, ["mipsel", "mipsle"], Some(syscalls::table(syscalls::tables::MIPSEL));
    Mips64 = "SCMP_ARCH_MIPS64", 0x8000_0008, 64, ["mips64"], Some(syscalls::table(syscalls::tables::MIPS64));
    Mipsel64 = "SCMP_ARCH_MIPSEL64", 0xC000_0008, 64, ["mips64el", "mips64le", "mipsel64"], Some(syscalls::table(syscalls::tables::MIPSEL64));
    Mips64n32 = "SCMP_ARCH_MIPS64N32", 0xA000_0008, 32, ["mips64n32"], None;
    Mipsel64n32 = "SCMP_ARCH_MIPSEL64N32", 0xE000_0008, 32, ["mips64eln32", "mipsel64n32", "mips3l64n32"], None;
    Parisc = "SCMP_ARCH_PARISC", 0x0000_000F, 32, ["parisc"], None;
    Parisc64 = "SCMP_ARCH_PARISC64", 0x8000_000F, 64, ["parisc64"], None;
    Loongarch64 = "SCMP_ARCH_LOONGARCH64", 0xC000_0102, 64, ["loongarch64", "loong64"], Some(syscalls::table(syscalls::tables::LOONGARCH64));
}

impl Arch {
    /// The architecture this program was built for, if spo-rs knows it.
    pub fn native() -> Option<Arch> {
        let name =
            if cfg!(all(target_arch = "x86_64", target_pointer_width = "32")) { "x32" } else { std::env::consts::ARCH };
        name.parse().ok()
    }

    /// Whether spo-rs can compile filters for this architecture.
    pub fn is_supported(self) -> bool {
        self.table().is_some()
    }

    /// Every name `from_str` accepts, for "did you mean" suggestions.
    pub fn all_names() -> impl Iterator<Item = &'static str> {
        Arch::ALL.iter().flat_map(|a| std::iter::once(a.scmp_name()).chain(a.aliases().iter().copied()))
    }

    /// Resolve a syscall name on this architecture. Compilers and the
    /// reference semantics resolve every rule on every architecture, so
    /// the names are hashed once rather than searched in the sorted table.
    pub fn syscall_number(self, name: &str) -> Option<u32> {
        static MAPS: std::sync::OnceLock<Vec<std::collections::HashMap<&'static str, u32>>> =
            std::sync::OnceLock::new();
        let maps = MAPS.get_or_init(|| {
            Arch::ALL
                .iter()
                .map(|a| a.table().map(|t| t.entries().iter().copied().collect()).unwrap_or_default())
                .collect()
        });
        maps[self as usize].get(name).copied()
    }

    /// Resolve a syscall number on this architecture.
    pub fn syscall_name(self, nr: u32) -> Option<&'static str> {
        self.table()?.name(nr)
    }
}

impl FromStr for Arch {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arch::ALL
            .iter()
            .copied()
            .find(|a| a.scmp_name() == s || a.aliases().iter().any(|x| x.eq_ignore_ascii_case(s)))
            .ok_or_else(|| ModelError::UnknownArch { name: s.to_owned() })
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scmp_name())
    }
}

impl Serialize for Arch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.scmp_name())
    }
}

impl<'de> Deserialize<'de> for Arch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_parse() {
        assert_eq!("SCMP_ARCH_X86_64".parse::<Arch>().unwrap(), Arch::X86_64);
        assert_eq!("amd64".parse::<Arch>().unwrap(), Arch::X86_64);
        assert_eq!("arm64".parse::<Arch>().unwrap(), Arch::Aarch64);
        assert!("SCMP_ARCH_VAX".parse::<Arch>().is_err());
    }

    #[test]
    fn x32_numbers_carry_the_x32_bit() {
        let nr = Arch::X32.syscall_number("read").unwrap();
        assert_eq!(nr, X32_SYSCALL_BIT);
        assert_eq!(Arch::X32.syscall_number("ioctl"), Some(X32_SYSCALL_BIT + 514));
        assert_eq!(Arch::X32.audit_arch(), Arch::X86_64.audit_arch());
    }

    #[test]
    fn recent_syscalls_are_known() {
        for name in ["mseal", "listmount", "statmount", "lsm_get_self_attr", "setxattrat", "removexattrat"] {
            for arch in [Arch::X86_64, Arch::X86, Arch::Aarch64, Arch::Riscv64, Arch::S390x] {
                assert!(arch.syscall_number(name).is_some(), "{name} on {arch}");
            }
        }
        assert_eq!(Arch::X86_64.syscall_number("mseal"), Some(462));
    }
}
