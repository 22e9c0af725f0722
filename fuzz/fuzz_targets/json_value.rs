//! The spanned JSON reader: no input may panic, every span (of a value, a
//! key or a diagnostic) lies inside the input on character boundaries,
//! nothing nests deeper than the depth limit, and what the reader accepts
//! serde_json accepts too (but for numbers beyond an f64).
#![no_main]

use libfuzzer_sys::fuzz_target;
use spo_fuzz::{check_diagnostics, check_tree};
use spo_parse::value::parse_json_with;
use spo_parse::Limits;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let limits = Limits { depth: 32, ..Limits::default() };
    let (node, diags) = parse_json_with(text, &limits);
    check_diagnostics(text, &diags);
    if let Some(node) = &node {
        assert!(check_tree(text, node) <= limits.depth + 1);
        if diags.is_empty() {
            // serde_json refuses numbers beyond f64 (RFC 8259 leaves their
            // range to the reader); ours keeps numbers as written.
            if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
                assert!(e.to_string().starts_with("number out of range"), "accepted, but not JSON ({e}): {text:?}");
            }
        }
    }
});
