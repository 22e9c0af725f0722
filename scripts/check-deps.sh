#!/usr/bin/env bash
# The dependency policy, part of the test command:
#   - `cargo deny` (deny.toml): licenses, duplicate versions, sources, and
#     the RustSec advisories when their database can be fetched;
#   - `cargo machete`: no dependency declared but unused;
#   - the workspace's one MSRV (`rust-version` in Cargo.toml) builds.
# The tools are built once from crates.io into the per-user cache
# (${XDG_CACHE_HOME:-~/.cache}/spo-rs/tools, about 6 minutes on 2 cores),
# and the MSRV toolchain is installed through rustup.
#
# Prints `SKIPPED: ...` for a check it cannot run and
# `NOT CHECKED: ...` for one this machine cannot provide (no network path to
# the advisory database); scripts/test.sh collects both.
set -euo pipefail
cd "$(dirname "$0")/.."

DENY_VERSION=0.20.2
MACHETE_VERSION=0.9.2
tools="${XDG_CACHE_HOME:-$HOME/.cache}/spo-rs/tools"
status=0

install_tool() {
  local name="$1" version="$2"
  if [ -x "$tools/$version/bin/$name" ]; then
    return 0
  fi
  echo "check-deps: building $name $version into $tools/$version (once)"
  # A directory per version, so a version bump never reuses an old binary.
  cargo install --quiet --locked --version "$version" "$name" --root "$tools/$version.tmp" &&
    rm -rf "${tools:?}/$version" && mv "$tools/$version.tmp" "$tools/$version"
}

echo "-- cargo deny"
if install_tool cargo-deny "$DENY_VERSION"; then
  deny="$tools/$DENY_VERSION/bin/cargo-deny"
  "$deny" --log-level error check licenses bans sources || status=1
  # The advisory database is a git repository on GitHub; where it cannot be
  # reached, say so rather than pass.
  if timeout 20 git ls-remote https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
    "$deny" --log-level error check advisories || status=1
  else
    echo "NOT CHECKED: cargo deny advisories: the RustSec database (github.com/rustsec/advisory-db) cannot be fetched from this machine"
  fi
else
  echo "SKIPPED: cargo deny: cargo-deny $DENY_VERSION could not be built from crates.io"
fi

echo "-- unused dependencies"
if install_tool cargo-machete "$MACHETE_VERSION"; then
  "$tools/$MACHETE_VERSION/bin/cargo-machete" || status=1
else
  echo "SKIPPED: unused dependencies: cargo-machete $MACHETE_VERSION could not be built from crates.io"
fi

echo "-- MSRV"
msrv="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
if [ -z "$msrv" ]; then
  echo "check-deps: no rust-version in the workspace Cargo.toml" >&2
  status=1
elif rustup toolchain install "$msrv" --profile minimal >/dev/null 2>&1; then
  # Every crate must say `rust-version.workspace = true`: one MSRV.
  own=$(grep -l '^rust-version = ' crates/*/Cargo.toml e2e/Cargo.toml benches/Cargo.toml vm/Cargo.toml 2>/dev/null || true)
  if [ -n "$own" ]; then
    echo "check-deps: these crates set their own rust-version instead of the workspace's: $own" >&2
    status=1
  fi
  CARGO_TARGET_DIR=target/msrv cargo "+$msrv" check --quiet --workspace --all-targets --locked || {
    echo "check-deps: the workspace does not build with its MSRV $msrv" >&2
    status=1
  }
else
  echo "SKIPPED: MSRV check: rustup could not install Rust $msrv"
fi
exit "$status"
