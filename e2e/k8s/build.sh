#!/usr/bin/env bash
# Builds the Kubernetes control plane used by the e2e tests from Go modules:
# etcd, kube-apiserver, kube-controller-manager, kubectl, kubelet,
# kube-scheduler and kube-proxy, at the versions
# pinned by go.mod beside this script, and Helm (../helm/go.mod). The binaries go to OUT (default: the
# per-user cache, keyed by Kubernetes version), never into the repository.
#
# The machine is small and shared, so every compile runs at the lowest
# priority (nice 19) and, unless SPO_E2E_BUILD_JOBS says otherwise, on one
# core (GOMAXPROCS=1, go build -p 1). A binary that already exists is not
# rebuilt.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(awk '$1 == "require" { $1 = "" ; $0 = $0 } $1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$here/go.mod")"
[[ -n "$version" ]] || { echo "build-k8s: no k8s.io/kubernetes version in $here/go.mod" >&2; exit 1; }
out="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/spo-rs/k8s/$version/bin}"
mkdir -p "$out"

minor="${version#v1.}"
minor="${minor%%.*}"
vpkg=k8s.io/component-base/version
ldflags="-s -w -X $vpkg.gitVersion=$version -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean"
ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"

# One core by default, so a build never starves other work on a small
# machine; SPO_E2E_BUILD_JOBS=N uses N (CI, where nothing else runs).
jobs="${SPO_E2E_BUILD_JOBS:-1}"

build() {
  local name="$1" pkg="$2" module="${3:-$here}" flags="${4:-$ldflags}"
  if [[ -x "$out/$name" ]]; then
    echo "build-k8s: $name already built in $out"
    return
  fi
  local start=$SECONDS
  echo "build-k8s: building $name ($pkg)"
  (cd "$module" && nice -n 19 env GOMAXPROCS="$jobs" CGO_ENABLED=0 GOFLAGS=-mod=mod \
    go build -p "$jobs" -trimpath -ldflags "$flags" -o "$out/$name.tmp" "$pkg")
  mv "$out/$name.tmp" "$out/$name"
  echo "build-k8s: $name built in $((SECONDS - start)) s"
}

build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build kubectl k8s.io/kubernetes/cmd/kubectl
build kubelet k8s.io/kubernetes/cmd/kubelet
build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
build kube-proxy k8s.io/kubernetes/cmd/kube-proxy
# Helm renders deploy/helm/ in the tests; its own module (../helm/go.mod)
# keeps its dependencies out of this one.
helm_version="$(awk '$1 == "helm.sh/helm/v4" { print $2; exit }' "$here/../helm/go.mod")"
build helm helm.sh/helm/v4/cmd/helm "$here/../helm" "-s -w -X helm.sh/helm/v4/internal/version.version=$helm_version"
echo "build-k8s: all binaries in $out"
