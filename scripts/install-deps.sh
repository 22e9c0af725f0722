#!/usr/bin/env bash
# Install what building and testing spo-rs needs on Debian (12 or newer).
# Installs only what is missing, so a second run costs nothing.
set -euo pipefail

PACKAGES=(
  # build
  pkg-config libseccomp-dev linux-libc-dev
  # SELinux: secilc/secil2tree (CIL compiler), semodule (offline policy store), refpolicy in CIL
  secilc policycoreutils semodule-utils selinux-policy-default
  # AppArmor: apparmor_parser and the profiles it must accept
  apparmor apparmor-profiles apparmor-profiles-extra
  # real-world seccomp profiles shipped by Debian
  golang-github-docker-docker-dev golang-github-containers-common
  # recording and node-agent tests: a real server and client, test programs,
  # container runtimes, a busybox rootfs, setpriv, and the e2e node's CNI plugins
  nginx-light curl gcc runc crun containerd busybox-static util-linux procps bzip2 containernetworking-plugins tar
  # the e2e node's kube-proxy (iptables mode); the offline image build (dpkg-deb, apt-get download)
  iptables dpkg apt
  # the e2e cluster harness: certificates
  openssl
  # the syscall table check and the fuzz lock sync (tomllib: Python 3.11, Debian 12)
  python3
  # the VM tier (docs/vm.md): a guest kernel with AppArmor, SELinux and the
  # BPF LSM is fetched with apt-get download; qemu runs it
  qemu-system-x86
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
