//! Fuzz the AppArmor profile parser and the complain-mode rewriter: no
//! input may panic, every diagnostic span lies inside the input on
//! character boundaries, and rewriting the flags of a profile that parses
//! cleanly yields text that still parses cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spo_parse::apparmor::parse;
use spo_parse::apparmor::resource::profile_headers;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = parse(text);
    for d in &parsed.diagnostics {
        assert!(d.span.start <= d.span.end && d.span.end <= text.len());
        assert!(text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end));
    }
    if parsed.diagnostics.is_empty() {
        let headers = profile_headers(&parsed.file);
        let rewritten = spo_compile::apparmor::set_complain(text, &headers);
        let again = parse(&rewritten);
        assert!(again.diagnostics.is_empty(), "{:?}", again.diagnostics);
        assert_eq!(profile_headers(&again.file).len(), headers.len());
    }
});
