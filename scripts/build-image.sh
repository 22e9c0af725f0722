#!/usr/bin/env bash
# Build the spo-rs images without a registry, from this machine's Debian
# packages: the same two images the Containerfile describes (same root file
# systems, made by scripts/image-rootfs.sh, same entrypoints), written as OCI
# image archives and optionally imported into a containerd.
#
#   scripts/build-image.sh [--bin-dir DIR] [--out DIR] [--tag TAG]
#                          [--containerd SOCKET] [--namespace NS]
#
#   --bin-dir DIR        take spo-operator and spod from DIR instead of
#                        building them (cargo build --release)
#   --out DIR            where the archives go (default: target/images)
#   --tag TAG            image tag (default: dev): localhost/spo-rs/operator:TAG
#                        and localhost/spo-rs/spod:TAG, the names deploy/ uses
#   --containerd SOCKET  import both archives into the containerd listening
#                        on SOCKET (namespace k8s.io, the kubelet's)
#
# An archive is an OCI image layout (oci-layout, index.json, blobs named by
# SHA-256) in a tar, with one uncompressed layer whose files all have time 0
# and owner root, so the same inputs give the same image digest. Load it
# with `ctr -n k8s.io images import FILE`, `podman load -i FILE` or
# `docker load -i FILE`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

bin_dir="" out="$root/target/images" tag=dev sock="" ns=k8s.io
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin_dir="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --containerd) sock="$2"; shift 2 ;;
    --namespace) ns="$2"; shift 2 ;;
    -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "build-image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for tool in tar sha256sum dpkg-deb apt-get; do
  command -v "$tool" >/dev/null || { echo "build-image: \`$tool\` is missing (apt-get install -y tar coreutils dpkg apt)" >&2; exit 1; }
done
start=$SECONDS
if [ -z "$bin_dir" ]; then
  (cd "$root" && cargo build --release --locked -p spo-operator -p spod --bins)
  bin_dir="${CARGO_TARGET_DIR:-$root/target}/release"
fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) arch="$(uname -m)" ;;
esac
PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# blob FILE: store FILE as a blob of the layout in $layout; prints
# "sha256:HEX SIZE".
blob() {
  local hex size
  hex="$(sha256sum "$1" | cut -d' ' -f1)"
  size="$(stat -c %s "$1")"
  mv "$1" "$layout/blobs/sha256/$hex"
  echo "sha256:$hex $size"
}

# image ROLE ENTRYPOINT USER: build, archive and (optionally) import one image.
image() {
  local role="$1" entrypoint="$2" user="$3"
  local name="localhost/spo-rs/$role:$tag" rootfs="$work/rootfs-$role"
  layout="$work/layout-$role"
  "$here/image-rootfs.sh" "$role" "$bin_dir" "$rootfs"
  mkdir -p "$layout/blobs/sha256"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$work/layer" .
  local layer layer_digest layer_size config config_digest config_size manifest manifest_digest manifest_size
  layer="$(blob "$work/layer")"
  layer_digest="${layer% *}" layer_size="${layer#* }"
  printf '{"architecture":"%s","os":"linux","config":{"User":"%s","Entrypoint":["%s"],"Env":["%s"],"WorkingDir":"/","Labels":{"org.opencontainers.image.title":"spo-rs %s"}},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$arch" "$user" "$entrypoint" "$PATH_ENV" "$role" "$layer_digest" >"$work/config"
  config="$(blob "$work/config")"
  config_digest="${config% *}" config_size="${config#* }"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
    "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest"
  manifest="$(blob "$work/manifest")"
  manifest_digest="${manifest% *}" manifest_size="${manifest#* }"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest_digest" "$manifest_size" "$name" "$tag" >"$layout/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  local archive="$out/spo-rs-$role-$tag.oci.tar"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$layout" -cf "$archive.tmp" .
  mv "$archive.tmp" "$archive"
  echo "build-image: $name = $archive ($(du -m "$archive" | cut -f1) MiB, manifest $manifest_digest)"
  if [ -n "$sock" ]; then
    ctr --address "$sock" -n "$ns" images import "$archive" >/dev/null
    echo "build-image: imported $name into containerd $sock (namespace $ns)"
  fi
}

image operator /usr/bin/spo-operator 65532
image spod /usr/bin/spod 0
echo "build-image: done in $((SECONDS - start)) s"
