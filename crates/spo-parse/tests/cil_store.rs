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
        spo_test_support::skip(
            "Debian selinux-policy-default store not installed (apt-get install selinux-policy-default)",
        );
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
        store.iter().step_by(10).filter(|(n, _)| n != "base").collect()
    };
    let _ = base.add_cil(cil::base::CONTAINER_SHIM_CIL);
    let mut failures = Vec::new();
    for (name, text) in sample.iter().copied() {
        let (ast, mut d) = cil::parse(text);
        d.extend(cil::check_with_own_names(&ast, &base));
        let errs: Vec<_> = d.into_iter().filter(|d| d.is_error()).collect();
        if !errs.is_empty() {
            failures.push(format!("{name}:\n{}", cil_support::render(text, &errs[..errs.len().min(5)])));
        }
    }
    assert!(failures.is_empty(), "{} of {} modules have errors:\n{}", failures.len(), store.len(), failures.join("\n"));
}

/// Mutate store modules and compare our verdict (module checked against
/// the rest of the store) with secilc's on the whole store. Each secilc run
/// compiles the full policy (about 5 s), so the default run makes 2
/// mutations, `SPO_CIL_STORE=full` 10, and `SPO_CIL_STORE_MUTATIONS=N` N.
#[test]
fn store_mutations_agree_with_secilc() {
    let full = std::env::var("SPO_CIL_STORE").ok().as_deref() == Some("full");
    let store = cil_support::debian_store();
    if store.is_empty() || std::process::Command::new("secilc").arg("--help").output().is_err() {
        spo_test_support::skip("needs the Debian store and secilc");
        return;
    }
    let n: usize =
        std::env::var("SPO_CIL_STORE_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(if full { 10 } else { 2 });
    let dir = std::env::temp_dir().join(format!("spo-cil-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let files: Vec<_> = store
        .iter()
        .map(|(name, text)| {
            let f = dir.join(format!("{name}.cil"));
            std::fs::write(&f, text).expect("write module");
            f
        })
        .collect();
    let mut rng = cil_support::Rng(0x5707e);
    let mut disagreements = Vec::new();
    for _ in 0..n {
        let i = rng.below(store.len());
        let (name, text) = &store[i];
        let (mutated, what) = cil_support::mutate(text, &mut rng);
        std::fs::write(&files[i], &mutated).expect("write mutation");
        let theirs = std::process::Command::new("secilc")
            .args(["-o", "/dev/null", "-f", "/dev/null", "-N"])
            .args(&files)
            .output()
            .expect("secilc")
            .status
            .success();
        std::fs::write(&files[i], text).expect("restore module");
        let mut base = Base::empty();
        for (j, (_, t)) in store.iter().enumerate() {
            if j != i {
                base.add_cil(t);
            }
        }
        let diags = cil::validate(&mutated, &base);
        let ours = !diags.iter().any(|d| d.is_error());
        eprintln!("{name} [{what}]: secilc {theirs}, ours {ours}");
        if ours != theirs {
            disagreements.push(format!(
                "{name} [{what}]: secilc {theirs}, ours {ours}\n{}",
                cil_support::render(&mutated, &diags[..diags.len().min(3)])
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
