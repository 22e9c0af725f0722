//! JSON/YAML documents through `spo_validate`, as `spoc validate` and the
//! admission webhook judge them (seccomp lowering and validation, SELinux
//! manifests with their CIL, AppArmor resources with their policy), then
//! rendered for people and as JSON lines: nothing may panic, and every
//! diagnostic points into the text it is reported with.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use spo_fuzz::check_diagnostics;
use spo_validate::{render, Options, Validator};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    thread_local! {
        static VALIDATOR: Validator = Validator::new(&Options {
            // No includes are read: the fuzzer's policies name files at random.
            include: vec![std::path::PathBuf::from("/nonexistent")],
            limits: spo_parse::Limits { depth: 64, alias_values: 2_000, ..spo_parse::Limits::default() },
            ..Options::default()
        });
    }
    VALIDATOR.with(|v| {
        let Ok(groups) = v.check_documents(Path::new("fuzz.yaml"), text) else { return };
        for (path, t, diags) in &groups {
            check_diagnostics(t, diags);
            let _ = render::human(path, t, diags, false);
            let _ = render::json(path, t, diags);
        }
    });
});
