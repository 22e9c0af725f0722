//! Golden CIL: each `tests/fixtures/selinux/*.yaml` manifest compiles to
//! the `.expected.cil` beside it (`SPO_BLESS=1` rewrites them), and the
//! output parses and checks clean against the shipped base.

use std::path::Path;

use spo_compile::cil::{selinux_profile_to_cil, wrap_raw};
use spo_model::selinux::DenyLists;
use spo_parse::cil::cr::{validate_manifests, Manifest};
use spo_parse::cil::{self, Base};

#[test]
fn manifests_compile_to_expected_cil() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/selinux");
    let base = Base::default_container_base();
    let files = spo_test_support::fixtures(&dir, ".yaml");
    assert!(!files.is_empty());
    let mut golden = spo_test_support::Golden::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let (ms, diags) = validate_manifests(&text, &base, &DenyLists::default());
        assert!(!diags.iter().any(|d| d.is_error()), "{}: {diags:?}", f.display());
        let mut got = String::new();
        for m in ms {
            got.push_str(&match m {
                Manifest::Profile(p) => selinux_profile_to_cil(&p, &DenyLists::default()).expect("compile"),
                Manifest::Raw(r) => wrap_raw(&r).cil,
            });
        }
        let errs: Vec<_> = cil::validate(&got, &base).into_iter().filter(|d| d.is_error()).collect();
        assert!(errs.is_empty(), "{}: generated CIL does not check: {errs:?}\n{got}", f.display());
        golden.check(&f.with_extension("expected.cil"), &got);
    }
    golden.finish();
}

#[test]
fn denied_and_injected_names_never_reach_cil() {
    let text = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SelinuxProfile\nmetadata:\n  name: x\nspec:\n  allow:\n    \"a) (allow process shadow_t (file (read))\":\n      file: [read]\n    shadow_t:\n      file: [read]\n";
    let (ms, diags) = validate_manifests(text, &Base::default_container_base(), &DenyLists::default());
    assert!(diags.iter().filter(|d| d.is_error()).count() >= 2, "{diags:?}");
    let Some(Manifest::Profile(p)) = ms.into_iter().next() else { panic!("not lowered") };
    assert!(selinux_profile_to_cil(&p, &DenyLists::default()).is_err());
}
