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
    let names: Vec<&str> = Arch::ALL.iter().map(|a| a.scmp_name()).collect();
    json_schema!({
        "type": "array",
        "description": "Architectures the filter accepts (SCMP_ARCH_*).",
        "items": { "type": "string", "enum": names },
    })
}

pub(crate) fn filter_flags(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = FilterFlag::names().collect();
    json_schema!({
        "type": "array",
        "description": "seccomp(2) flags (SECCOMP_FILTER_FLAG_*).",
        "items": { "type": "string", "enum": names },
    })
}

/// errno or trace data: the kernel keeps 16 bits of it.
pub(crate) fn errno_ret(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "integer",
        "format": "int32",
        "minimum": 0,
        "maximum": u16::MAX,
        "description": "errno returned by SCMP_ACT_ERRNO, or data passed by SCMP_ACT_TRACE (0 to 65535).",
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
