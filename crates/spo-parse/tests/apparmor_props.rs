//! Property tests of the AppArmor parser: it never panics, every span lies
//! inside the input on character boundaries, and well-formed generated
//! profiles parse without errors while one dropped `,` is always reported.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use spo_parse::apparmor::parse;

fn rule() -> impl Strategy<Value = String> {
    let path = "/[a-z]{1,6}(/[a-z*]{1,6}){0,3}";
    prop_oneof![
        (path, prop_oneof![Just("r"), Just("rw"), Just("mr"), Just("rix"), Just("Px"), Just("rwlk")])
            .prop_map(|(p, m)| format!("{p} {m},")),
        prop_oneof![Just("chown"), Just("net_admin"), Just("sys_ptrace")].prop_map(|c| format!("capability {c},")),
        prop_oneof![Just("inet stream"), Just("unix"), Just("inet6 dgram"), Just("")]
            .prop_map(|n| format!("network {n},")),
        Just("signal (send, receive) peer=p,".to_owned()),
        Just("deny /proc/kcore rwklx,".to_owned()),
        Just("owner @{HOME}/** rw,".to_owned()),
    ]
}

proptest! {
    // Failures are saved beside this file (`*.proptest-regressions`) and
    // replayed first: the default lookup needs a lib.rs or main.rs, which an
    // integration test has not.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn never_panics_and_spans_are_in_bounds(s in "[ -~\n\t{}(),#@\"<>=^-]{0,200}") {
        let p = parse(&s);
        for d in &p.diagnostics {
            prop_assert!(d.span.start <= d.span.end && d.span.end <= s.len(), "{:?}", d);
            prop_assert!(s.is_char_boundary(d.span.start) && s.is_char_boundary(d.span.end));
        }
    }

    #[test]
    fn arbitrary_unicode_never_panics(s in "\\PC{0,120}") {
        let _ = parse(&s);
    }

    #[test]
    fn generated_profiles_parse_and_a_dropped_comma_is_found(rules in proptest::collection::vec(rule(), 1..8), drop in any::<prop::sample::Index>()) {
        let body: String = rules.iter().map(|r| format!("  {r}\n")).collect();
        let text = format!("@{{HOME}}=/home/*/\nprofile p flags=(complain) {{\n{body}}}\n");
        let ok = parse(&text);
        prop_assert!(ok.diagnostics.is_empty(), "{:?}\n{}", ok.diagnostics, text);
        let i = drop.index(rules.len());
        let mut broken = rules.clone();
        broken[i].pop();
        let body: String = broken.iter().map(|r| format!("  {r}\n")).collect();
        let text = format!("@{{HOME}}=/home/*/\nprofile p flags=(complain) {{\n{body}}}\n");
        prop_assert!(parse(&text).diagnostics.iter().any(|d| d.is_error()), "{}", text);
    }
}
