//! Inputs the fuzz targets (`fuzz/`) found, each a bug fixed: every
//! diagnostic must point inside its text, on character boundaries.

use spo_model::selinux::DenyLists;
use spo_parse::cil::cr::validate_manifests;
use spo_parse::cil::Base;
use spo_parse::value::{parse_json, parse_yaml};
use spo_parse::Diagnostic;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/fuzz/{name}", env!("CARGO_MANIFEST_DIR"));
    // Some inputs are not UTF-8 throughout, as the fuzzer wrote them.
    String::from_utf8_lossy(&std::fs::read(&path).expect("fixture")).into_owned()
}

fn assert_inside(text: &str, diags: &[Diagnostic]) {
    assert!(!diags.is_empty());
    for d in diags {
        for s in std::iter::once(d.span).chain(d.labels.iter().map(|l| l.span)) {
            assert!(s.start <= s.end && s.end <= text.len(), "{s:?} outside {} bytes: {d:?}", text.len());
            assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end), "{s:?}: {d:?}");
        }
    }
}

#[test]
fn a_bad_unicode_escape_ends_on_a_character_boundary() {
    // `\ul` followed by a two-byte character: the span cut it in half.
    let text = "\"o+i\\ul\u{12}\"\u{1d1}\0\0\"\0\0\"S";
    let (_, d) = parse_json(text);
    assert_eq!(d[0].message, "invalid \\u escape");
    assert_inside(text, &d);
    let text = fixture("json-unicode-escape.json");
    assert_inside(&text, &parse_json(&text).1);
    // The same for an escaped character of two bytes.
    let text = "[\"a\\\u{e9}\"]";
    let (_, d) = parse_json(text);
    assert_eq!(d[0].message, "invalid escape in string");
    assert_inside(text, &d);
    let text = fixture("json-escape.json");
    assert_inside(&text, &parse_json(&text).1);
}

#[test]
fn a_yaml_key_span_ends_on_a_character_boundary() {
    let text = fixture("yaml-key-span.yaml");
    assert_inside(&text, &parse_yaml(&text).1);
    let text = "a: 1\nkey\n#\u{6eb}x: 1\n";
    assert_inside(text, &parse_yaml(text).1);
}

#[test]
fn a_raw_policy_statement_left_open_stays_inside_the_policy() {
    // The CIL is checked inside `(block NAME ...)`: a statement left open
    // ran into the wrapper's `)`, past the end of the file.
    let text = fixture("raw-selinux-span.yaml");
    let (_, d) = validate_manifests(&text, &Base::default_container_base(), &DenyLists::default());
    assert_inside(&text, &d);
}

#[test]
fn a_policy_diagnostic_at_its_end_stays_inside_the_file() {
    // The policy's last line ends in a newline the file lacks: a
    // diagnostic at the policy's end mapped one byte past the file.
    let text = fixture("apparmor-policy-end.yaml");
    let mut v = spo_parse::apparmor::Validator::new(spo_parse::apparmor::Options::default());
    let (_, reports) = spo_parse::apparmor::resource::validate_resource(std::path::Path::new("p.yaml"), &text, &mut v);
    assert_inside(&text, &reports[0].diagnostics);
}

#[test]
fn a_unicode_escape_takes_hexadecimal_digits_only() {
    // `from_str_radix` took the sign: `\u+066` was read as U+0066.
    let (node, d) = parse_json("\"\\u+0666\"");
    assert!(node.is_none());
    assert_eq!(d[0].message, "invalid \\u escape");
}

#[test]
fn a_document_starting_with_a_long_character_is_located_on_it() {
    // "Not a profile" pointed at the document's first byte, inside a
    // character of several.
    let text = fixture("document-first-char.yaml");
    assert_inside(&text, &spo_parse::seccomp::parse_file(&text).diagnostics);
    let text = "é: 1\n";
    assert_inside(text, &spo_parse::seccomp::parse_file(text).diagnostics);
}
