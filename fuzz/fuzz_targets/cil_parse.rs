//! Fuzz the CIL parser and checker: no input may panic, and every
//! diagnostic span must lie inside the input on character boundaries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spo_parse::cil::{self, Base};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = Base::default_container_base();
    for d in cil::validate(text, &base) {
        assert!(d.span.start <= d.span.end && d.span.end <= text.len());
        assert!(text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end));
    }
    let (ast, _) = cil::parse(text);
    let _ = cil::check_raw(&ast);
});
