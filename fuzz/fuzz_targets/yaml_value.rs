//! The spanned YAML reader: no input may panic, every span lies inside
//! the input on character boundaries, nothing nests deeper than the depth
//! limit, and aliases never add more values than their limit allows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spo_fuzz::{check_diagnostics, check_tree, count};
use spo_parse::value::parse_yaml_with;
use spo_parse::Limits;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let limits = Limits { depth: 32, alias_values: 2_000, ..Limits::default() };
    let (docs, diags) = parse_yaml_with(text, &limits);
    check_diagnostics(text, &diags);
    let mut values = 0;
    for d in &docs {
        assert!(check_tree(text, d) <= limits.depth + 1);
        values += count(d);
    }
    // Every value either comes from the text (at most one per byte, plus
    // empty values) or from an alias, within its limit.
    assert!(values <= 2 * text.len() + 2 + limits.alias_values, "{values} values from {} bytes", text.len());
});
