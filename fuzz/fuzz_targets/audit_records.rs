//! Audit records in every form spo-rs reads them: the SELinux AVC and
//! AppArmor parsers of `spoc record --from-audit` (spo-parse), and the
//! SECCOMP record, auditd-log and kmsg line parsers and the bundle
//! `config.json` reader of spod's enricher (spo-node). No input may panic;
//! spans lie inside the input.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use spo_fuzz::check_diagnostics;
use spo_parse::audit::{apparmor, avc, fields, lines, unhex};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for l in lines(text) {
        assert!(l.offset + l.body.len() <= text.len());
        for (_, v, span) in fields(l.body, l.offset) {
            assert!(span.start <= span.end && span.end <= text.len());
            let _ = unhex(v);
        }
    }
    let (avcs, d) = avc::parse(text);
    check_diagnostics(text, &d);
    let _ = avc::allow_map(&avcs, None);
    let (events, d) = apparmor::parse(text);
    check_diagnostics(text, &d);
    let _ = apparmor::to_abstract(&events, None);
    for line in text.lines() {
        if let Ok(r) = spo_node::audit::SeccompRecord::parse(line) {
            let _ = (r.action(), r.arch(), r.syscall_name());
        }
        let _ = spo_node::enrich::source::parse_auditd_line(line);
        let _ = spo_node::enrich::source::parse_kmsg_line(line);
        let _ = spo_node::enrich::record_time_ms(line);
    }
    let _ = spo_node::enrich::bundle::read(Path::new("config.json"), text);
    let _ = spo_node::enrich::bundle::canonical_hash_of_text(text);
});
