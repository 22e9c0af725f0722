//! Any bytes through the seccomp pipeline: parse (every profile format),
//! resolve for two native architectures, compile. Nothing may panic, and
//! every program compiled must agree with `Filter::evaluate` when the
//! interpreter runs it (`spo_compile::seccomp::verify`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use spo_compile::seccomp::{compile, verify};
use spo_compile::CompileError;
use spo_model::seccomp::{resolve, Target};
use spo_model::Arch;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = spo_parse::seccomp::parse_file(text);
    for doc in &file.documents {
        for native in [Arch::X86_64, Arch::Aarch64] {
            let filter = resolve(&doc.spec, &Target { native, ..Target::default() });
            match compile(&filter) {
                Ok(prog) => {
                    if let Err(e) = verify(&filter, &prog) {
                        panic!("{e}");
                    }
                }
                Err(CompileError::UnsupportedArch { .. } | CompileError::TooLong { .. }) => {}
                Err(e) => panic!("unexpected compile error: {e}"),
            }
        }
    }
});
