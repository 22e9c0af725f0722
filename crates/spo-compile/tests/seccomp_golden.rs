//! Golden disassembly of small filters: `x.json` compiles to the listing in
//! `x.bpf.txt` beside it. `SPO_BLESS=1` rewrites the listings.

mod common;

use common::*;
use spo_compile::bpf::disassemble;
use spo_compile::seccomp::compile;

#[test]
fn small_filters_disassemble_as_pinned() {
    let dir = fixtures_dir().join("seccomp");
    let inputs = spo_test_support::fixtures(&dir, ".json");
    assert!(inputs.len() >= 4, "fixtures missing in {}", dir.display());
    let mut golden = spo_test_support::Golden::new();
    for input in inputs {
        let filter = filter_from_json(&std::fs::read_to_string(&input).unwrap());
        let prog = compile(&filter).unwrap();
        let bad = mismatches(&filter, &filter.arches, &prog, 1, &|_, _| false);
        assert!(bad.is_empty(), "{}:\n{}", input.display(), bad.join("\n"));
        golden.check(&input.with_extension("bpf.txt"), &disassemble(&prog));
    }
    golden.finish();
}
