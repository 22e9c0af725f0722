//! The names a profile uses for actions, comparison operators and filter
//! flags, with the kernel values they stand for.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ModelError;

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident, $err:ident, { $( $(#[$vm:meta])* $variant:ident = $text:literal ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $( $(#[$vm])* $variant, )* }

        impl $name {
            /// Every variant.
            pub const ALL: &'static [$name] = &[$( $name::$variant, )*];

            /// The name used in profiles.
            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text, )* }
            }

            /// Every accepted name, for suggestions.
            pub fn names() -> impl Iterator<Item = &'static str> {
                Self::ALL.iter().map(|v| v.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ModelError;
            fn from_str(s: &str) -> Result<Self, ModelError> {
                match s {
                    $( $text => Ok($name::$variant), )*
                    _ => Err(ModelError::$err { name: s.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

named_enum!(
    /// A seccomp action as written in a profile (`SCMP_ACT_*`). Its errno or
    /// trace value lives beside it in `errnoRet`.
    ActionName, UnknownAction, {
        /// Kill the whole process (SIGSYS, core dump).
        KillProcess = "SCMP_ACT_KILL_PROCESS",
        /// Kill the calling thread.
        KillThread = "SCMP_ACT_KILL_THREAD",
        /// Old name of `SCMP_ACT_KILL_THREAD`.
        Kill = "SCMP_ACT_KILL",
        /// Send SIGSYS to the thread.
        Trap = "SCMP_ACT_TRAP",
        /// Fail the call with an errno.
        Errno = "SCMP_ACT_ERRNO",
        /// Notify a ptrace tracer.
        Trace = "SCMP_ACT_TRACE",
        /// Allow the call.
        Allow = "SCMP_ACT_ALLOW",
        /// Allow and log the call.
        Log = "SCMP_ACT_LOG",
        /// Forward the call to a user-space listener.
        Notify = "SCMP_ACT_NOTIFY",
    }
);

named_enum!(
    /// An argument comparison operator (`SCMP_CMP_*`).
    Operator, UnknownOperator, {
        /// `arg != value`
        NotEqual = "SCMP_CMP_NE",
        /// `arg < value`
        LessThan = "SCMP_CMP_LT",
        /// `arg <= value`
        LessOrEqual = "SCMP_CMP_LE",
        /// `arg == value`
        Equal = "SCMP_CMP_EQ",
        /// `arg >= value`
        GreaterOrEqual = "SCMP_CMP_GE",
        /// `arg > value`
        GreaterThan = "SCMP_CMP_GT",
        /// `arg & value == valueTwo`
        MaskedEqual = "SCMP_CMP_MASKED_EQ",
    }
);

named_enum!(
    /// A flag for seccomp(2) `SECCOMP_SET_MODE_FILTER`.
    FilterFlag, UnknownFlag, {
        /// Synchronise all threads to this filter.
        Tsync = "SECCOMP_FILTER_FLAG_TSYNC",
        /// Log every action except allow.
        Log = "SECCOMP_FILTER_FLAG_LOG",
        /// Disable speculative store bypass mitigation.
        SpecAllow = "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        /// Return a listener file descriptor.
        NewListener = "SECCOMP_FILTER_FLAG_NEW_LISTENER",
        /// Report TSYNC failure as ESRCH.
        TsyncEsrch = "SECCOMP_FILTER_FLAG_TSYNC_ESRCH",
        /// Wait for the listener killably.
        WaitKillableRecv = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    }
);

impl FilterFlag {
    /// The bit passed to seccomp(2).
    pub fn bit(self) -> u32 {
        match self {
            FilterFlag::Tsync => 1,
            FilterFlag::Log => 2,
            FilterFlag::SpecAllow => 4,
            FilterFlag::NewListener => 8,
            FilterFlag::TsyncEsrch => 16,
            FilterFlag::WaitKillableRecv => 32,
        }
    }
}

/// `EPERM`: the errno runc and crun use when `errnoRet` is absent.
pub const DEFAULT_ERRNO: u16 = 1;

/// A resolved action with its data, as the kernel sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// `SECCOMP_RET_KILL_PROCESS`
    KillProcess,
    /// `SECCOMP_RET_KILL_THREAD`
    KillThread,
    /// `SECCOMP_RET_TRAP`
    Trap,
    /// `SECCOMP_RET_ERRNO | errno`
    Errno(u16),
    /// `SECCOMP_RET_TRACE | data`
    Trace(u16),
    /// `SECCOMP_RET_USER_NOTIF`
    Notify,
    /// `SECCOMP_RET_LOG`
    Log,
    /// `SECCOMP_RET_ALLOW`
    Allow,
}

/// Kernel return values (`include/uapi/linux/seccomp.h`).
pub mod ret {
    /// Kill the process.
    pub const KILL_PROCESS: u32 = 0x8000_0000;
    /// Kill the thread.
    pub const KILL_THREAD: u32 = 0x0000_0000;
    /// Deliver SIGSYS.
    pub const TRAP: u32 = 0x0003_0000;
    /// Return an errno.
    pub const ERRNO: u32 = 0x0005_0000;
    /// Notify user space.
    pub const USER_NOTIF: u32 = 0x7fc0_0000;
    /// Notify the tracer.
    pub const TRACE: u32 = 0x7ff0_0000;
    /// Log and allow.
    pub const LOG: u32 = 0x7ffc_0000;
    /// Allow.
    pub const ALLOW: u32 = 0x7fff_0000;
    /// Mask of the action part.
    pub const ACTION_FULL: u32 = 0xffff_0000;
    /// Mask of the data part.
    pub const DATA: u32 = 0x0000_ffff;
}

impl Action {
    /// The 32-bit value a filter returns for this action.
    pub fn to_ret(self) -> u32 {
        match self {
            Action::KillProcess => ret::KILL_PROCESS,
            Action::KillThread => ret::KILL_THREAD,
            Action::Trap => ret::TRAP,
            Action::Errno(e) => ret::ERRNO | u32::from(e),
            Action::Trace(d) => ret::TRACE | u32::from(d),
            Action::Notify => ret::USER_NOTIF,
            Action::Log => ret::LOG,
            Action::Allow => ret::ALLOW,
        }
    }

    /// Decode a filter's return value. Unknown action bits decode as
    /// `KillProcess`, as the kernel treats them.
    pub fn from_ret(v: u32) -> Action {
        let data = (v & ret::DATA) as u16;
        match v & ret::ACTION_FULL {
            ret::KILL_PROCESS => Action::KillProcess,
            ret::KILL_THREAD => Action::KillThread,
            ret::TRAP => Action::Trap,
            ret::ERRNO => Action::Errno(data),
            ret::TRACE => Action::Trace(data),
            ret::USER_NOTIF => Action::Notify,
            ret::LOG => Action::Log,
            ret::ALLOW => Action::Allow,
            _ => Action::KillProcess,
        }
    }

    /// Resolve a profile's action name and `errnoRet`.
    pub fn from_name(name: ActionName, errno_ret: Option<u32>) -> Action {
        let data = errno_ret.map(|e| e.min(u32::from(u16::MAX)) as u16).unwrap_or(DEFAULT_ERRNO);
        match name {
            ActionName::KillProcess => Action::KillProcess,
            ActionName::KillThread | ActionName::Kill => Action::KillThread,
            ActionName::Trap => Action::Trap,
            ActionName::Errno => Action::Errno(data),
            ActionName::Trace => Action::Trace(data),
            ActionName::Allow => Action::Allow,
            ActionName::Log => Action::Log,
            ActionName::Notify => Action::Notify,
        }
    }

    /// The name and `errnoRet` that express this action in a profile.
    pub fn to_name(self) -> (ActionName, Option<u32>) {
        match self {
            Action::KillProcess => (ActionName::KillProcess, None),
            Action::KillThread => (ActionName::KillThread, None),
            Action::Trap => (ActionName::Trap, None),
            Action::Errno(e) => (ActionName::Errno, Some(u32::from(e))),
            Action::Trace(d) => (ActionName::Trace, Some(u32::from(d))),
            Action::Notify => (ActionName::Notify, None),
            Action::Log => (ActionName::Log, None),
            Action::Allow => (ActionName::Allow, None),
        }
    }

    /// Whether the call goes ahead (allow or log).
    pub fn permits(self) -> bool {
        matches!(self, Action::Allow | Action::Log)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Errno(e) => write!(f, "SCMP_ACT_ERRNO({e})"),
            Action::Trace(d) => write!(f, "SCMP_ACT_TRACE({d})"),
            other => f.write_str(other.to_name().0.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_ret_values() {
        for a in [
            Action::KillProcess,
            Action::KillThread,
            Action::Trap,
            Action::Errno(38),
            Action::Trace(7),
            Action::Notify,
            Action::Log,
            Action::Allow,
        ] {
            assert_eq!(Action::from_ret(a.to_ret()), a);
        }
        assert_eq!(Action::from_name(ActionName::Errno, None), Action::Errno(1));
        assert_eq!(Action::from_name(ActionName::Kill, None), Action::KillThread);
    }
}
