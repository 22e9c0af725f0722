//! AppArmor profile text from an `AppArmorProfile`, and complain mode for
//! profile text written by hand.
//!
//! Rendering is deterministic (golden-tested) and refuses a profile that
//! fails `spo_model::apparmor::validate`, so no user-supplied string can
//! reach the output unchecked. Unlike SPO's template, complain mode emits
//! no deny rules (they would still be enforced, hiding exactly the
//! accesses complain mode is meant to log) and UDP is allowed only when
//! asked for.

mod complain;
mod render;

pub use complain::set_complain;
pub use render::{render, Options};

#[cfg(test)]
mod tests;
