#!/usr/bin/env bash
# Build every fuzz target (fuzz/, libFuzzer, the stable toolchain) and run
# each for a few seconds from a corpus seeded with the repository's
# fixtures, printing each target's executions. A crash fails the script;
# the input is kept under fuzz/artifacts/TARGET/. The stable toolchain
# builds them: coverage comes from LLVM's sancov pass (stable flags), and
# no sanitizer that needs nightly is used (safe Rust needs none).
#
#   scripts/fuzz.sh                  every target, SPO_FUZZ_SECONDS (5) each
#   SPO_FUZZ_SECONDS=3600 scripts/fuzz.sh json_value   one target, an hour
#
# Long runs: fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=${SPO_FUZZ_SECONDS:-5}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(json_value yaml_value documents_validate seccomp_compile cil_parse apparmor_parse audit_records admission_review)
fi

host=$(rustc -vV | sed -n 's/^host: //p')
# The flags cargo-fuzz passes; the explicit --target keeps them away from
# build scripts and proc macros. A target directory of its own, so the
# instrumented build never invalidates the ordinary one.
export CARGO_TARGET_DIR=${SPO_FUZZ_TARGET_DIR:-$root/fuzz/target}
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
echo "== fuzz: building ${#targets[@]} targets (the first build takes several minutes)"
# fuzz/ is a workspace of its own: its lock starts from the main one, so
# the targets run the libraries against the versions the tests use; not
# --locked, so cargo drops and adds the entries the two differ in.
python3 fuzz/sync-lock.py
(cd fuzz && cargo build --release --target "$host" "${bins[@]}")

# Seeds: the fixtures each target's input looks like.
seed() {
  local dir=$1; shift
  mkdir -p "$dir"
  local f
  for pattern in "$@"; do
    while IFS= read -r -d '' f; do
      cp -n "$f" "$dir/$(printf '%s' "${f#"$root"/}" | tr '/' '_')" 2>/dev/null || true
    done < <(find "$root/crates" "$root/fuzz/seeds" -path '*/target' -prune -o -type f -path "$pattern" -print0 2>/dev/null)
  done
}

status=0
total=0
for t in "${targets[@]}"; do
  corpus=fuzz/corpus/$t
  case $t in
    json_value) seed "$corpus" '*/fixtures/*.json' '*/fixed-crashes/*.json' ;;
    yaml_value) seed "$corpus" '*/fixtures/*.yaml' '*/fixtures/*.yml' '*/fixed-crashes/*.yaml' ;;
    documents_validate | seccomp_compile)
      seed "$corpus" '*/fixtures/*.json' '*/fixtures/*.yaml' '*/fixed-crashes/*.json' '*/fixed-crashes/*.yaml' ;;
    cil_parse) seed "$corpus" '*/fixtures/*.cil' ;;
    apparmor_parse) seed "$corpus" '*/fixtures/apparmor/*' ;;
    audit_records) seed "$corpus" '*/fixtures/*.log' '*/fixtures/*audit*' '*/seeds/audit_records/*' ;;
    admission_review) seed "$corpus" '*/seeds/admission_review/*' ;;
  esac
  mkdir -p "fuzz/artifacts/$t"
  log=$(mktemp)
  rc=0
  "$CARGO_TARGET_DIR/$host/release/$t" "$corpus" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  crashes=$(find "fuzz/artifacts/$t" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
  echo "fuzz $t: ${execs:-0} execs in ${secs}s, corpus $(find "$corpus" -type f | wc -l) inputs, $crashes crash(es), exit $rc"
  total=$((total + ${execs:-0}))
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    status=1
    # The panic's message (the line after `panicked at`) and the input as
    # Base64, so a crash found on a CI machine can be replayed here.
    grep -A2 -E 'ERROR|panicked|SUMMARY|Test unit written|^Base64:' "$log" | grep -v '^--$' | head -30 || true
  fi
  rm -f "$log"
done
echo "fuzz: $total execs over ${#targets[@]} targets"
exit "$status"
