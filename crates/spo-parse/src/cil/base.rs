//! The base a CIL file builds on: names declared elsewhere in the policy.
//!
//! A container policy refers to types like `var_log_t` and to the udica
//! templates (`container`, `net_container`...) without declaring them. The
//! default base ships in the binary (from `data/selinux/`): the classes,
//! permissions, types, attributes and roles of Debian's reference policy, the
//! container attributes it lacks, and the container templates. Users with a
//! different policy replace it with their own CIL files (`--cil-base`).

use std::sync::OnceLock;

use super::symbols::{collect, expand_inherits, Symbols};
use crate::Diagnostic;

/// Declarations of Debian's `selinux-policy-default` (generated).
pub const REFPOLICY_CIL: &str = include_str!("../../../../data/selinux/refpolicy.cil");
/// Container attributes and types the reference policy does not declare.
pub const CONTAINER_SHIM_CIL: &str = include_str!("../../../../data/selinux/container-shim.cil");

/// The udica container templates, by file name.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base_container.cil", include_str!("../../../../data/selinux/templates/base_container.cil")),
    ("config_container.cil", include_str!("../../../../data/selinux/templates/config_container.cil")),
    ("home_container.cil", include_str!("../../../../data/selinux/templates/home_container.cil")),
    ("log_container.cil", include_str!("../../../../data/selinux/templates/log_container.cil")),
    ("net_container.cil", include_str!("../../../../data/selinux/templates/net_container.cil")),
    ("tmp_container.cil", include_str!("../../../../data/selinux/templates/tmp_container.cil")),
    ("tty_container.cil", include_str!("../../../../data/selinux/templates/tty_container.cil")),
    ("virt_container.cil", include_str!("../../../../data/selinux/templates/virt_container.cil")),
    ("x_container.cil", include_str!("../../../../data/selinux/templates/x_container.cil")),
];

/// Names a checked file may use without declaring them.
#[derive(Debug, Clone, Default)]
pub struct Base {
    symbols: Symbols,
}

impl Base {
    /// A base that declares nothing.
    pub fn empty() -> Self {
        Base::default()
    }

    /// The shipped base: reference policy declarations, container shim and
    /// container templates.
    pub fn default_container_base() -> Self {
        static DEFAULT: OnceLock<Base> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                let mut b = Base::empty();
                b.add_cil(REFPOLICY_CIL);
                b.add_cil(CONTAINER_SHIM_CIL);
                for (_, t) in TEMPLATES {
                    b.add_cil(t);
                }
                b
            })
            .clone()
    }

    /// A base made of the declarations in one CIL text.
    pub fn from_cil(text: &str) -> Self {
        let mut b = Base::empty();
        b.add_cil(text);
        b
    }

    /// Add the declarations of a CIL text. Returns its syntax errors (the
    /// names that could be read are added regardless).
    pub fn add_cil(&mut self, text: &str) -> Vec<Diagnostic> {
        let (ast, diags) = super::parse(text);
        let mut s = collect(&ast, true);
        expand_inherits(&mut s, Some(&self.symbols));
        self.symbols.merge(&s);
        // Keep the template inheritance so files can inherit through it.
        self.symbols.inherits.extend(s.inherits);
        diags.into_iter().filter(Diagnostic::is_error).collect()
    }

    /// Whether the global name `name` is declared in table `ns`.
    pub fn has(&self, ns: super::Ns, name: &str) -> bool {
        self.symbols.get(ns, name.trim_start_matches('.')).is_some()
    }

    /// Whether class (or class map) `class` has permission `perm`, directly
    /// or through its common.
    pub fn class_has_perm(&self, class: &str, perm: &str) -> bool {
        let s = &self.symbols;
        s.perms.get(class).is_some_and(|p| p.contains(perm))
            || s.class_common.get(class).and_then(|k| s.perms.get(k)).is_some_and(|p| p.contains(perm))
    }

    /// The permissions of a class, sorted.
    pub fn class_perms(&self, class: &str) -> Vec<&str> {
        let s = &self.symbols;
        let mut v: Vec<&str> = s.perms.get(class).into_iter().flat_map(|p| p.keys()).collect();
        if let Some(k) = s.class_common.get(class) {
            v.extend(s.perms.get(k).into_iter().flat_map(|p| p.keys()));
        }
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The closest declared name of table `ns`, for "did you mean"
    /// (scanning the names; for many misses, index them with
    /// [`Base::suggestions`]).
    pub fn suggest(&self, ns: super::Ns, name: &str) -> Option<&str> {
        spo_model::suggest::did_you_mean(name, self.symbols.names(ns))
    }

    /// Suggestions among the names of table `ns`, for many words
    /// (indexed once they are many).
    pub fn suggestions(&self, ns: super::Ns) -> spo_model::suggest::Lazy<'_> {
        spo_model::suggest::Lazy::new(self.symbols.names(ns))
    }

    /// The declared names.
    pub fn symbols(&self) -> &Symbols {
        &self.symbols
    }
}
