//! The fuzz target's property, run briefly by default: any text goes
//! through parse, resolve and compile without a panic, and every program
//! compiled agrees with `Filter::evaluate` (`spo_compile::seccomp::verify`).
//! Inputs are generated profiles, serialised, then sometimes damaged.
//! `SPO_PROPTEST_CASES=N` runs N cases.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use spo_compile::seccomp::{compile, verify};
use spo_compile::CompileError;
use spo_model::seccomp::{resolve, ActionName, ArgCondition, Operator, SeccompSpec, SyscallRule, Target};
use spo_model::Arch;

fn rule() -> impl Strategy<Value = SyscallRule> {
    let names: Vec<&'static str> = Arch::X86_64.table().unwrap().names().chain(["socketcall", "nosuchcall"]).collect();
    (
        proptest::sample::subsequence(names, 1..4),
        proptest::sample::select(ActionName::ALL.to_vec()),
        proptest::option::of(0u32..70),
        proptest::collection::vec((0u32..7, any::<u64>(), any::<u64>(), 0usize..7), 0..3),
    )
        .prop_map(|(names, action, errno, args)| {
            let mut r = SyscallRule::new(&names, action);
            r.errno_ret = errno;
            r.args = args
                .into_iter()
                .map(|(index, value, value_two, op)| ArgCondition { index, value, value_two, op: Operator::ALL[op] })
                .collect();
            r
        })
}

fn profile_text() -> impl Strategy<Value = String> {
    let arches: Vec<Arch> = Arch::ALL.to_vec();
    (
        proptest::sample::select(vec![ActionName::Errno, ActionName::Allow, ActionName::KillProcess, ActionName::Log]),
        proptest::sample::subsequence(arches, 0..4),
        proptest::collection::vec(rule(), 0..8),
        proptest::option::of((any::<prop::sample::Index>(), 0usize..8, "[\\[\\]{}\",:a-z0-9]{0,6}")),
    )
        .prop_map(|(default, arches, rules, damage)| {
            let mut spec = SeccompSpec::new(default);
            spec.architectures = arches;
            spec.syscalls = rules;
            spec.listener_path = Some("/run/notify.sock".into());
            let mut text = serde_json::to_string_pretty(&spec).unwrap();
            if let Some((at, len, with)) = damage {
                let start = at.index(text.len());
                let end = (start + len).min(text.len());
                if text.is_char_boundary(start) && text.is_char_boundary(end) {
                    text.replace_range(start..end, &with);
                }
            }
            text
        })
}

#[test]
fn any_text_compiles_to_a_faithful_program_or_a_clean_error() {
    let cases = std::env::var("SPO_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(16);
    let mut runner = TestRunner::new(Config { cases, ..Config::default() });
    runner
        .run(&profile_text(), |text| {
            let file = spo_parse::seccomp::parse_file(&text);
            for doc in &file.documents {
                for native in [Arch::X86_64, Arch::Aarch64] {
                    let filter = resolve(&doc.spec, &Target { native, ..Target::default() });
                    match compile(&filter) {
                        Ok(prog) => {
                            if let Err(e) = verify(&filter, &prog) {
                                return Err(TestCaseError::fail(format!("{e}\n{text}")));
                            }
                        }
                        Err(CompileError::UnsupportedArch { .. } | CompileError::TooLong { .. }) => {}
                        Err(e) => return Err(TestCaseError::fail(format!("unexpected error {e}\n{text}"))),
                    }
                }
            }
            Ok(())
        })
        .unwrap();
}
