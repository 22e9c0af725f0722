#!/usr/bin/env bash
# The whole test suite: formatting, lints, every crate's tests, and the
# freshness of the generated syscall tables. This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== fmt"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== syscall tables"
if command -v go >/dev/null && command -v python3 >/dev/null; then
  python3 scripts/gen-syscalls.py --check
else
  echo "SKIPPED: syscall table freshness check needs go and python3"
fi
echo "== Kubernetes binaries for the e2e tests"
# Built once from Go modules into the per-user cache (e2e/k8s/build.sh; about
# 6 minutes on an idle 2-core machine), then reused. Without Go or the module
# proxy the e2e tests say SKIPPED.
if command -v go >/dev/null; then
  SPO_E2E_BUILD_JOBS="$(nproc)" e2e/k8s/build.sh ||
    echo "SKIPPED: the Kubernetes binaries could not be built; the e2e tests will skip"
else
  echo "SKIPPED: no Go toolchain to build the Kubernetes binaries; the e2e tests will skip"
fi
echo "== tests"
# Output is not captured, so every "SKIPPED: ..." line (root, a tool or a
# cache missing) is printed where it happens and summarised at the end.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --no-fail-fast: one failing test binary does not hide the others'.
status=0
cargo test --workspace --no-fail-fast -- --nocapture 2>&1 | tee "$log" || status=$?

skips=$(grep -oE 'SKIPPED: .*' "$log" | sort -u || true)
echo
echo "== skipped"
if [ -n "$skips" ]; then echo "$skips"; else echo "nothing skipped"; fi
passed=$(grep -oE 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -oE '[0-9]+ failed' "$log" | awk '{s += $1} END {print s + 0}')
nskipped=$(printf '%s' "$skips" | grep -c . || true)
echo
echo "tests: $passed passed, $failed failed, $nskipped skipped"
if [ "$status" -ne 0 ]; then
  echo
  echo "== failed"
  grep -E '^test .* \.\.\. FAILED$' "$log" || echo "(no failing test named: cargo test exited with $status)"
fi
exit "$status"
