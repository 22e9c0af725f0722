//! Every module of Debian's `selinux-policy-default` store must check
//! clean against the declarations of the whole store (secilc compiles the
//! store, so any error here is a false positive). Skips loudly when the
//! store is not installed.
//!
//! The default run checks every tenth module against the shipped
//! declarations (`data/selinux/refpolicy.cil`, generated from the same
//! store); `SPO_CIL_STORE=full` checks every module against a base built
//! from all of them.

mod cil_support;

use spo_parse::cil::{self, Base};

#[test]
fn debian_store_modules_check_clean() {
    let store = cil_support::debian_store();
    if store.is_empty() {
        eprintln!("SKIPPED: Debian selinux-policy-default store not installed (apt-get install selinux-policy-default)");
        return;
    }
    let full = std::env::var("SPO_CIL_STORE").is_ok_and(|v| v == "full");
    let mut base = Base::empty();
    let sample: Vec<_> = if full {
        for (_, t) in &store {
            base.add_cil(t);
        }
        store.iter().collect()
    } else {
        base.add_cil(cil::base::REFPOLICY_CIL);
        store
            .iter()
            .step_by(10)
            .filter(|(n, _)| n != "base")
            .collect()
    };
    let _ = base.add_cil(cil::base::CONTAINER_SHIM_CIL);
    let mut failures = Vec::new();
    for (name, text) in sample.iter().copied() {
        let (ast, mut d) = cil::parse(text);
        d.extend(cil::check_with_own_names(&ast, &base));
        let errs: Vec<_> = d.into_iter().filter(|d| d.is_error()).collect();
        if !errs.is_empty() {
            failures.push(format!(
                "{name}:\n{}",
                cil_support::render(text, &errs[..errs.len().min(5)])
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} modules have errors:\n{}",
        failures.len(),
        store.len(),
        failures.join("\n")
    );
}
