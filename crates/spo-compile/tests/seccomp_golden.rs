//! Golden disassembly of small filters: `x.json` compiles to the listing in
//! `x.bpf.txt` beside it. `SPO_BLESS=1` rewrites the listings.

mod common;

use common::*;
use spo_compile::bpf::disassemble;
use spo_compile::seccomp::compile;

#[test]
fn small_filters_disassemble_as_pinned() {
    let dir = fixtures_dir().join("seccomp");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 4, "fixtures missing in {}", dir.display());
    let bless = std::env::var_os("SPO_BLESS").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for input in inputs {
        let filter = filter_from_json(&std::fs::read_to_string(&input).unwrap());
        let prog = compile(&filter).unwrap();
        let bad = mismatches(&filter, &filter.arches, &prog, 1, &|_, _| false);
        assert!(bad.is_empty(), "{}:\n{}", input.display(), bad.join("\n"));
        let got = disassemble(&prog);
        let expected_path = input.with_extension("bpf.txt");
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(want) if want == got => {}
            Ok(want) => {
                failures.push(format!("{}: listing changed\n--- want\n{want}\n--- got\n{got}", input.display()))
            }
            Err(_) => failures.push(format!("{} missing (run with SPO_BLESS=1)", expected_path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
