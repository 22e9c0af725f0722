//! Fuzz the CIL parser and checker: no input may panic, and every
//! diagnostic span must lie inside the input on character boundaries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spo_parse::cil::{self, Base};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    thread_local! {
        // Built once: cloning the shipped base per input cost 40 ms.
        static BASE: Base = Base::default_container_base();
    }
    let diags = BASE.with(|base| cil::validate(text, base));
    for d in diags {
        assert!(d.span.start <= d.span.end && d.span.end <= text.len());
        assert!(text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end));
    }
    let (ast, _) = cil::parse(text);
    let _ = cil::check_raw(&ast);
});
