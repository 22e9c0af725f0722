//! Putting a compiled seccomp filter on the current process.
//!
//! The compiler (`spo-compile`) produces a program as bytes in the kernel's
//! `struct sock_filter` layout; this module hands those bytes to
//! `seccomp(SECCOMP_SET_MODE_FILTER)`. It is split in two steps on purpose:
//! [`Program::from_bytes`] allocates and checks everything that can be
//! checked in user space, and [`Program::install`] only makes system calls,
//! so it is safe to call in a freshly forked child or a `pre_exec` hook of a
//! multi-threaded parent, where allocating could deadlock.
//!
//! When the kernel refuses a filter with `EINVAL`, the reason is either the
//! program or a flag; the installer asks the kernel which (see
//! [`flags_supported`]) so the error says what to fix.

mod install;

pub use install::{action_available, flags_supported, install_filter, Program, MAX_INSNS};

use spo_model::seccomp::FilterFlag;

/// The `SECCOMP_FILTER_FLAG_*` names of the bits set in `flags`, unknown bits
/// as hexadecimal, joined with `|` (`none` when no bit is set).
pub fn flag_names(flags: u32) -> String {
    let mut names = Vec::new();
    let mut rest = flags;
    for f in FilterFlag::ALL {
        if flags & f.bit() != 0 {
            names.push(f.as_str().to_owned());
            rest &= !f.bit();
        }
    }
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join("|")
    }
}

/// The seccomp(2) flag bits of a filter.
pub fn flag_bits(flags: &[FilterFlag]) -> u32 {
    flags.iter().fold(0, |acc, f| acc | f.bit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_names_name_known_bits_and_show_unknown_ones() {
        assert_eq!(flag_names(0), "none");
        assert_eq!(flag_names(2), "SECCOMP_FILTER_FLAG_LOG");
        assert_eq!(flag_names(1 | 8), "SECCOMP_FILTER_FLAG_TSYNC|SECCOMP_FILTER_FLAG_NEW_LISTENER");
        assert_eq!(flag_names(2 | 0x100), "SECCOMP_FILTER_FLAG_LOG|0x100");
        assert_eq!(flag_bits(&[FilterFlag::Log, FilterFlag::SpecAllow]), 6);
    }
}
