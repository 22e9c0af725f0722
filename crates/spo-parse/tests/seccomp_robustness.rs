//! Parsing never panics and every diagnostic points inside the input, for
//! arbitrary text and for random edits of a real profile. (The cargo-fuzz
//! target in `fuzz/` explores the same property for longer.)

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use spo_parse::seccomp::parse_file;

const BASE_JSON: &str = include_str!("fixtures/seccomp/valid/spo-denied-syscalls.json");
const BASE_YAML: &str = "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\nmetadata:\n  name: p\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n  syscalls:\n  - action: SCMP_ACT_ALLOW\n    names: [exit, exit_group, read]\n    args: [{index: 0, value: 1, op: SCMP_CMP_EQ}]\n";

fn check(text: &str) {
    let f = parse_file(text);
    for d in &f.diagnostics {
        assert!(
            d.span.start <= d.span.end && d.span.end <= text.len(),
            "span {:?} outside input of {} bytes",
            d.span,
            text.len()
        );
        assert!(!d.message.is_empty());
    }
}

/// Apply an edit (delete, insert or replace one character) at a position.
fn edit(base: &str, pos: usize, op: u8, c: char) -> String {
    let mut chars: Vec<char> = base.chars().collect();
    let pos = pos % (chars.len() + 1);
    match op % 3 {
        0 if pos < chars.len() => {
            chars.remove(pos);
        }
        1 => chars.insert(pos, c),
        _ if pos < chars.len() => chars[pos] = c,
        _ => chars.push(c),
    }
    chars.into_iter().collect()
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
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check(&text);
    }

    #[test]
    fn edited_json_never_panics(edits in prop::collection::vec((any::<usize>(), any::<u8>(), prop::sample::select(vec!['{', '}', '[', ']', '"', ',', ':', 'x', '0', '-', '\n', ' ', 'é'])), 1..4)) {
        let mut text = BASE_JSON.to_owned();
        for (pos, op, c) in edits {
            text = edit(&text, pos, op, c);
        }
        check(&text);
    }

    #[test]
    fn edited_yaml_never_panics(edits in prop::collection::vec((any::<usize>(), any::<u8>(), prop::sample::select(vec!['-', ':', ' ', '\n', '\t', '[', ']', '{', '&', '*', '!', 'a', '"'])), 1..4)) {
        let mut text = BASE_YAML.to_owned();
        for (pos, op, c) in edits {
            text = edit(&text, pos, op, c);
        }
        check(&text);
    }
}

#[test]
fn yaml_alias_bombs_are_bounded() {
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..12 {
        let prev = if i == 0 { "a".to_owned() } else { format!("b{}", i - 1) };
        text.push_str(&format!(
            "b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    let f = parse_file(&text);
    assert!(
        f.diagnostics.iter().any(|d| d.message.contains("aliases expand this file by more than")),
        "{:?}",
        f.diagnostics
    );
}
