#!/usr/bin/env bash
# Prepare this host the way the tests need it, idempotently: a second run
# changes nothing. Each step prints what it did or why it could not; a test
# whose preparation is missing skips with a `SKIPPED:` line naming this
# script (and fails under SPO_REQUIRE=1).
#
# Steps:
# 1. Hybrid cgroup hosts (v1 controllers, the v2 hierarchy beside them at
#    /sys/fs/cgroup/unified): crun refuses to run a container while any
#    controller is still attached to v2 ("cgroups in hybrid mode not
#    supported, drop all controllers from cgroupv2"). Every controller the
#    v2 root still lists is mounted as its own v1 hierarchy, which detaches
#    it from v2 (typically only `hugetlb`).
# 2. tracefs, debugfs and the BPF filesystem at their usual places, for
#    tools and tests that look there (the eBPF recorders themselves need
#    none of them).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "prepare-host: not root, nothing prepared (tests that need root skip)"
  exit 0
fi

mounted() { mountpoint -q "$1" 2>/dev/null; }

# 1. v2 controllers of a hybrid host moved to v1.
unified=/sys/fs/cgroup/unified
if [ -f "$unified/cgroup.controllers" ]; then
  for c in $(cat "$unified/cgroup.controllers"); do
    dir=/sys/fs/cgroup/$c
    if mounted "$dir"; then
      continue
    fi
    mkdir -p "$dir"
    if mount -t cgroup -o "$c" cgroup "$dir"; then
      echo "prepare-host: mounted the $c controller as a v1 hierarchy at $dir (crun needs v2 without controllers)"
    else
      echo "prepare-host: could not mount the $c controller at $dir; crun container tests will skip"
    fi
  done
fi

# 2. Kernel filesystems.
for spec in tracefs:/sys/kernel/tracing debugfs:/sys/kernel/debug bpf:/sys/fs/bpf; do
  fs=${spec%%:*}
  dir=${spec#*:}
  [ -d "$dir" ] || continue
  if ! mounted "$dir"; then
    if mount -t "$fs" "$fs" "$dir" 2>/dev/null; then
      echo "prepare-host: mounted $fs at $dir"
    else
      echo "prepare-host: $fs could not be mounted at $dir"
    fi
  fi
done
