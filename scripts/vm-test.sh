#!/usr/bin/env bash
# The VM test tier (docs/vm.md): spod and spoc under a Debian kernel with
# AppArmor, SELinux and the BPF LSM, booted with qemu (software emulation).
# Builds the two binaries the guests run, then runs the tier's tests with
# SPO_VM=1. Extra arguments go to the test harness (a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p spod --bin spod -p spo-cli --bin spoc
start=$(date +%s)
SPO_VM=1 cargo test -p spo-vm -- --nocapture "$@"
echo "vm tier: $(( $(date +%s) - start )) s"
