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
echo "== tests"
cargo test --workspace
