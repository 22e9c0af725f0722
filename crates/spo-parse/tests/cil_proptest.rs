//! Property: the CIL parser and checker never panic, and every span lies
//! within the input on character boundaries, for arbitrary text built from
//! CIL's own alphabet (and some bytes it rejects).

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use spo_parse::cil::{self, Base};

fn cil_like() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "(",
        ")",
        " ",
        "\n",
        "allow",
        "type",
        "block",
        "blockinherit",
        "container",
        "process",
        "file",
        "(read)",
        "\"s\"",
        ";c\n",
        "optional",
        "in",
        "macro",
        "call",
        "typeattributeset",
        "self",
        "é",
        "\u{1}",
        "{",
        ".",
        "var_log_t",
    ]);
    prop::collection::vec(pieces, 0..60).prop_map(|v| v.concat())
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
    fn never_panics_and_spans_stay_inside(text in cil_like()) {
        let base = Base::default_container_base();
        for d in cil::validate(&text, &base) {
            prop_assert!(d.span.start <= d.span.end && d.span.end <= text.len(), "{d:?}");
            prop_assert!(text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end), "{d:?}");
        }
    }
}
