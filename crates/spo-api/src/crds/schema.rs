//! Hand-written schemas for the model's enums and for integers whose Rust
//! type says more than the API server understands.
//!
//! The model's enums serialise as their profile names and carry no schema
//! derive (the model does no Kubernetes work); the `enum` lists here are
//! built from the model's own tables, so a new action or architecture in
//! the model reaches the CRD at the next generation. Integers use only the
//! formats the API server knows (`int32`, `int64`): schemars would write
//! `uint64`, which the server ignores, and give no upper bound.

use schemars::{json_schema, Schema, SchemaGenerator};
use spo_model::seccomp::{ActionName, FilterFlag, Operator};
use spo_model::Arch;

fn string_enum<'a>(description: &str, names: impl Iterator<Item = &'a str>) -> Schema {
    let names: Vec<&str> = names.collect();
    json_schema!({ "type": "string", "description": description, "enum": names })
}

pub(crate) fn seccomp_action(_: &mut SchemaGenerator) -> Schema {
    string_enum("A seccomp action (SCMP_ACT_*).", ActionName::names())
}

pub(crate) fn seccomp_operator(_: &mut SchemaGenerator) -> Schema {
    string_enum("An argument comparison operator (SCMP_CMP_*).", Operator::names())
}

pub(crate) fn architectures(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = std::iter::once(NATIVE_ARCH).chain(Arch::ALL.iter().map(|a| a.scmp_name())).collect();
    json_schema!({
        "type": "array",
        "description": "Architectures the filter accepts (SCMP_ARCH_*; SCMP_ARCH_NATIVE is the node's own).",
        "x-kubernetes-list-type": "set",
        "items": { "type": "string", "enum": names },
    })
}

/// libseccomp's name for "the architecture of the node".
pub const NATIVE_ARCH: &str = "SCMP_ARCH_NATIVE";

pub(crate) fn filter_flags(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = FilterFlag::names().collect();
    json_schema!({
        "type": "array",
        "description": "seccomp(2) flags (SECCOMP_FILTER_FLAG_*).",
        "x-kubernetes-list-type": "set",
        "items": { "type": "string", "enum": names },
    })
}

/// errno returned (SPO's bound: the kernel's `MAX_ERRNO`, 4095).
pub(crate) fn errno_ret(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "integer",
        "format": "int32",
        "minimum": 0,
        "maximum": 4095,
        "description": "errno returned by SCMP_ACT_ERRNO, or data passed by SCMP_ACT_TRACE (0 to 4095).",
    })
}

/// A syscall argument operand. The API server holds integers as int64, so
/// the schema says so; the model's `u64` takes the non-negative half.
pub(crate) fn arg_operand(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "integer",
        "format": "int64",
        "minimum": 0,
        "description": "Operand of the comparison (for SCMP_CMP_MASKED_EQ: the mask in value, the expected result in valueTwo).",
    })
}

/// Argument index: syscalls take at most six arguments.
pub(crate) fn arg_index(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "integer",
        "format": "int32",
        "minimum": 0,
        "maximum": 5,
        "description": "Index of the syscall argument, 0 to 5.",
    })
}

/// `allowedNamespaces`: namespace names (DNS labels), each once.
pub(crate) fn allowed_namespaces(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "description": "Namespaces whose pods may use this profile, directly or through a ProfileBinding; every namespace when absent. Enforced at pod admission.",
        "x-kubernetes-list-type": "set",
        "items": {
            "type": "string",
            "maxLength": 63,
            "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        },
    })
}

/// `activeWorkloadsCount`: at least one when present.
pub(crate) fn workload_count(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "integer",
        "format": "int32",
        "minimum": 1,
        "description": "How many pods use the profile.",
    })
}

/// An AppArmor path in an abstract allow list (SPO's pattern): absolute,
/// of characters that cannot end a rule, or a `ptrace (...)` rule.
pub(crate) const APPARMOR_PATH: &str =
    r"^(?:/(?:[a-zA-Z0-9_./*?+@ -]|@\{[a-zA-Z0-9_]+\})*|ptrace\s*\([a-zA-Z]+\),(?:\s*#.*)?)$";

/// A capability name as AppArmor spells it (SPO's pattern).
pub(crate) const CAPABILITY: &str = "^(chown|dac_override|dac_read_search|fowner|fsetid|kill|setgid|setuid|setpcap|linux_immutable|net_bind_service|net_broadcast|net_admin|net_raw|ipc_lock|ipc_owner|sys_module|sys_rawio|sys_chroot|sys_ptrace|sys_pacct|sys_admin|sys_boot|sys_nice|sys_resource|sys_time|sys_tty_config|mknod|lease|audit_write|audit_control|setfcap|mac_override|mac_admin|syslog|wake_alarm|block_suspend|audit_read|perfmon|bpf|checkpoint_restore)$";

/// `ptrace.allowedAccess`: one to four of AppArmor's accesses, each once.
pub(crate) fn ptrace_access(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "description": "ptrace accesses allowed: read, readby, trace, tracedby.",
        "minItems": 1,
        "maxItems": 4,
        "x-kubernetes-list-type": "set",
        "items": { "type": "string", "enum": spo_model::apparmor::PTRACE_ACCESS },
    })
}

/// `SelinuxProfile.spec.allow`: type to class to permissions, with SPO's
/// bounds and name rules.
pub(crate) fn selinux_allow(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "description": "Allow rules: source type (@self for this policy's own type) to object class to permissions.",
        "maxProperties": 1024,
        "x-kubernetes-validations": [{
            "rule": "self.all(k, k.matches('^([-a-zA-Z0-9._]+|@self)$'))",
            "message": "types may only contain alphanumeric characters, '.', '-' and '_', or be '@self'",
        }],
        "additionalProperties": {
            "type": "object",
            "maxProperties": 256,
            "x-kubernetes-validations": [{
                "rule": "self.all(k, k.matches('^[-a-zA-Z0-9._]+$'))",
                "message": "object classes may only contain alphanumeric characters, '.', '-' and '_'",
            }],
            "additionalProperties": {
                "type": "array",
                "items": { "type": "string", "pattern": "^[-a-zA-Z0-9._]+$" },
            },
        },
    })
}

/// A node status's state: SPO's values, `Pending` by default.
pub(crate) fn node_state(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "description": "The profile's state on this node.",
        "default": "Pending",
        "enum": ["Pending", "InProgress", "Installed", "Terminating", "Error", "Partial", "Disabled"],
    })
}

/// `security.allowedSeccompActions`: at most four actions, each once, of
/// the four SPO checks.
pub(crate) fn allowed_seccomp_actions(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = ActionName::names().collect();
    json_schema!({
        "type": "array",
        "description": "Actions whose syscalls must be in allowedSyscalls; all four when empty.",
        "maxItems": 4,
        "x-kubernetes-list-type": "set",
        "x-kubernetes-validations": [{
            "rule": "self.all(a, a in ['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE', 'SCMP_ACT_NOTIFY'])",
            "message": "allowedSeccompActions may only contain SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_TRACE and SCMP_ACT_NOTIFY",
        }],
        "items": { "type": "string", "enum": names },
    })
}
