#!/usr/bin/env bash
# The whole test suite: host preparation, formatting, lints, docs, the
# dependency policy, the freshness of the generated syscall tables, the fuzz
# targets, and every crate's tests. This is what CI runs (.ci/run, with
# SPO_REQUIRE=1: every SKIPPED line then fails the run).
#
# At the end it says what ran and what did not: the tests passed, failed
# and ignored (benchmarks), every `SKIPPED:` line (a test or a check that
# could not run here, and why), and every `NOT CHECKED:` line (a check
# this machine cannot provide at all).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

log=$(mktemp)
failures=$(mktemp)
trap 'rm -f "$log" "$failures"' EXIT

step() { echo "== $1 ($((SECONDS - start)) s)"; }
# Run one step; a failing step is named in $failures and the others go on.
run() {
  local name="$1"
  shift
  "$@" || echo "$name" >>"$failures"
}

steps() {
step "packages and host"
scripts/install-deps.sh
scripts/prepare-host.sh
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "fmt"
run fmt cargo fmt --all -- --check
step "clippy"
run clippy cargo clippy --workspace --all-targets -- -D warnings
step "docs"
run docs env RUSTDOCFLAGS="-D warnings" cargo doc --quiet --workspace --no-deps
step "dependencies"
run dependencies scripts/check-deps.sh
step "syscall tables"
if command -v go >/dev/null && command -v python3 >/dev/null; then
  run "syscall tables" python3 scripts/gen-syscalls.py --check
else
  echo "SKIPPED: syscall table freshness check needs go and python3"
fi
if [ -x scripts/fuzz.sh ]; then
  step "fuzz targets (build, and a short run each)"
  run fuzz scripts/fuzz.sh
fi
step "Kubernetes binaries for the e2e tests"
# Built once from Go modules into the per-user cache (e2e/k8s/build.sh; about
# 6 minutes on an idle 2-core machine), then reused. Without Go or the module
# proxy the e2e tests say SKIPPED.
if command -v go >/dev/null; then
  SPO_E2E_BUILD_JOBS="$(nproc)" e2e/k8s/build.sh ||
    echo "SKIPPED: the Kubernetes binaries could not be built; the e2e tests will skip"
else
  echo "SKIPPED: no Go toolchain to build the Kubernetes binaries; the e2e tests will skip"
fi

step "binaries the e2e and VM tests run"
# Built before the tests, since a test of one package does not rebuild
# another package's binary: a stale spod would be tested otherwise.
run binaries cargo build --quiet -p spod -p spo-cli -p spo-operator --bins

step "tests"
# The VM tier (SELinux and AppArmor enforcement under a Debian kernel in
# qemu, docs/vm.md) takes about two minutes, so it runs by default;
# SPO_VM=0 leaves it out (its tests then say SKIPPED).
export SPO_VM=${SPO_VM:-1}
# Output is not captured, so every "SKIPPED: ..." line is printed where it
# happens. --no-fail-fast: one failing test binary does not hide the others'.
run tests cargo test --workspace --no-fail-fast -- --nocapture
}

# Everything is also kept in $log, so the summary counts the skips of every
# step, not only of the tests.
steps 2>&1 | tee "$log"
status=0
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
[ ! -s "$failures" ] || status=1
skips=$(grep -oE '^.*SKIPPED( \([a-z ,]+\))?: .*' "$log" | sed -E 's/^.*(SKIPPED)/\1/' | sort -u || true)
unchecked=$(grep -oE 'NOT CHECKED: .*' "$log" | sort -u || true)
passed=$(grep -oE 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -oE 'test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | awk '{s += $6} END {print s + 0}')
ignored=$(grep -oE '[0-9]+ ignored' "$log" | awk '{s += $1} END {print s + 0}')
nskipped=$(printf '%s' "$skips" | grep -c '^SKIPPED:' || true)
noptional=$(printf '%s' "$skips" | grep -c '^SKIPPED (optional)' || true)
echo
echo "== skipped (could not run here)"
if [ -n "$skips" ]; then echo "$skips"; else echo "nothing skipped"; fi
echo
echo "== not checked (this machine cannot provide it)"
if [ -n "$unchecked" ]; then echo "$unchecked"; else echo "nothing"; fi
echo
echo "== ignored (benchmarks, run with --ignored)"
grep -E '^test .* \.\.\. ignored' "$log" | sed -E 's/^test (.*) \.\.\. ignored.*/\1/' | sort -u || true
echo
echo "tests: $passed passed, $failed failed, $ignored ignored; $nskipped skipped, $noptional optional parts skipped; $((SECONDS - start)) s"
if [ "${SPO_REQUIRE:-}" = 1 ] && [ "$nskipped" -gt 0 ]; then
  echo "SPO_REQUIRE=1: $nskipped skip(s) count as failures"
  status=1
  echo "skips under SPO_REQUIRE=1" >>"$failures"
fi
if [ "$status" -ne 0 ]; then
  echo
  echo "== failed: $(paste -sd, "$failures")"
  grep -E '^test .* \.\.\. FAILED$' "$log" || true
fi
exit "$status"
