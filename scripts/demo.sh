#!/usr/bin/env bash
# The main job on the shipped examples: validate, compile, simulate, and run
# a command under a profile that denies one of its syscalls.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo build --release -q -p spo-cli -p spod --bin spoc --bin spod
spoc=target/release/spoc
spod=target/release/spod

echo "== validate the shipped examples (all valid)"
$spoc validate examples/seccomp/*.yaml examples/seccomp/*.json
echo
echo "== validate a broken profile (every problem, located)"
$spoc validate examples/broken/seccomp-typos.json || echo "(exit status $?: invalid, as expected)"
echo
echo "== compile to BPF and show it"
$spoc compile examples/seccomp/deny-mkdir.yaml --emit disasm | head -n 30
$spoc compile examples/seccomp/deny-mkdir.yaml --emit bpf -o target/deny-mkdir.bpf
echo "wrote target/deny-mkdir.bpf ($(stat -c %s target/deny-mkdir.bpf) bytes)"
echo
echo "== simulate"
$spoc simulate examples/seccomp/deny-mkdir.yaml --syscall mkdir
$spoc simulate examples/seccomp/deny-mkdir.yaml --syscall read
echo
echo "== run mkdir under the profile: the kernel denies it"
dir=$(mktemp -d)
if $spoc run --profile examples/seccomp/deny-mkdir.yaml -- mkdir "$dir/denied"; then
  echo "unexpected: mkdir succeeded" >&2; exit 1
else
  echo "(mkdir failed with status $?, as the profile says)"
fi
echo "== the same in complain mode: allowed, and logged by the kernel"
$spoc run --complain --profile examples/seccomp/deny-mkdir.yaml -- mkdir "$dir/logged" && ls -d "$dir/logged"
rm -rf "$dir"
echo
echo "== SELinux and AppArmor: located errors, generated policy, the real tools' verdict"
$spoc validate examples/broken/selinux-typos.cil || echo "(exit status $?: invalid, as expected)"
$spoc compile examples/selinux/errorlogger.yaml --emit cil
$spoc compile examples/apparmor/nginx.yaml --emit apparmor --complain | head -n 12
$spoc install examples/apparmor/nginx.yaml
echo
echo "== the node agent, standalone: install the examples/spod manifests into a local kubelet root"
demo=$(mktemp -d)
$spod --manifests examples/spod --kubelet-root "$demo/kubelet" --state "$demo/state" --listen 127.0.0.1:9100 \
  >"$demo/spod.log" 2>&1 &
spod_pid=$!
trap 'kill $spod_pid 2>/dev/null; rm -rf "$demo"' EXIT
for _ in $(seq 100); do curl -sf 127.0.0.1:9100/readyz >/dev/null 2>&1 && break; sleep 0.2; done
$spoc status --node 127.0.0.1:9100
echo "kubelet seccomp profiles:"; find "$demo/kubelet/seccomp" -maxdepth 2 -name '*.json' | sort
