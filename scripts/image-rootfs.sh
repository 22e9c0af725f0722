#!/usr/bin/env bash
# image-rootfs.sh ROLE BIN_DIR OUT: the root file system of an spo-rs image,
# from Debian packages and the release binaries in BIN_DIR.
#
#   operator  spo-operator and the C runtime it links (it talks only to the
#             API server: no tools)
#   spod      spod, the C runtime and libseccomp, and the tools its
#             installers run: apparmor_parser (apparmor), semodule
#             (policycoreutils) with libsemanage/libsepol/libselinux,
#             secilc, the libselinux tools (selinux-utils), and busybox
#             for `sh` and `cp` (spod copies a policy store with `cp -a`)
#
# The packages are fetched with `apt-get download` from the machine's own
# Debian release (the Containerfile runs this in debian:bookworm-slim; on a
# Debian host, scripts/build-image.sh runs it with the host's apt, so the
# C libraries match the binaries built there) and unpacked with
# `dpkg-deb -x`: no maintainer scripts run and no package database is
# written. Downloads are kept in DEBS (default
# ${XDG_CACHE_HOME:-~/.cache}/spo-rs/image/debs). Documentation and
# locales are left out. Every program of the image is then checked with
# the image's own dynamic loader: a shared library missing from OUT fails
# the build, naming the program and the library.
set -euo pipefail

usage() { echo "usage: $0 operator|spod BIN_DIR OUT" >&2; exit 2; }
[ $# -eq 3 ] || usage
role="$1" bins="$2" out="$3"
debs="${DEBS:-${XDG_CACHE_HOME:-$HOME/.cache}/spo-rs/image/debs}"

case "$role" in
  operator)
    packages=(libc6 libgcc-s1)
    programs=(spo-operator)
    ;;
  spod)
    packages=(libc6 libgcc-s1 libseccomp2 apparmor
      policycoreutils libsemanage2 libsemanage-common libsepol2 libselinux1 libaudit1 libaudit-common
      libcap-ng0 libbz2-1.0 libpcre2-8-0 selinux-utils secilc busybox-static)
    programs=(spod)
    ;;
  *) usage ;;
esac
for p in "${programs[@]}"; do
  [ -x "$bins/$p" ] || { echo "image-rootfs: $bins/$p is missing: build it first (cargo build --release -p $p)" >&2; exit 1; }
done

mkdir -p "$debs"
# apt-get download fetches the candidate version; files already in the
# cache are not fetched again.
declare -A version
while read -r p v; do version[$p]="$v"; done < <(apt-cache policy "${packages[@]}" |
  awk '/^[^ ].*:$/ { sub(":$", ""); p = $1 } /Candidate:/ { print p, $2 }')
want=()
for p in "${packages[@]}"; do
  v="${version[$p]:-}"
  [ -n "$v" ] && [ "$v" != "(none)" ] || {
    echo "image-rootfs: Debian package $p is unknown here: run apt-get update" >&2
    exit 1
  }
  compgen -G "$debs/${p}_${v//:/%3a}_*.deb" >/dev/null || want+=("$p=$v")
done
if [ ${#want[@]} -gt 0 ]; then
  # As root, apt would hand the download to its unprivileged _apt user,
  # who cannot write to a cache under /root.
  (cd "$debs" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" "${want[@]}")
fi

rm -rf "$out"
mkdir -p "$out"
for p in "${packages[@]}"; do
  v="${version[$p]}"
  deb="$(compgen -G "$debs/${p}_${v//:/%3a}_*.deb" | head -n1)"
  dpkg-deb -x "$deb" "$out"
done
rm -rf "$out"/usr/share/{doc,man,info,locale,lintian,bug,bash-completion} "$out"/usr/lib/systemd "$out"/lib/systemd

mkdir -p "$out"/usr/bin "$out"/tmp "$out"/etc "$out"/proc "$out"/sys "$out"/dev "$out"/run "$out"/var/lib
chmod 1777 "$out"/tmp
for p in "${programs[@]}"; do
  install -m 0755 "$bins/$p" "$out/usr/bin/$p"
done
if [ "$role" = spod ]; then
  for applet in sh cp; do
    ln -sf busybox "$out/bin/$applet"
  done
fi
printf 'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$out/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$out/etc/group"

# Every ELF program of the image resolves its libraries inside the image.
loader="$out/lib64/ld-linux-x86-64.so.2"
[ -e "$loader" ] || loader="$(compgen -G "$out/lib/ld-linux-*.so.*" | head -n1 || true)"
[ -n "$loader" ] && [ -e "$loader" ] || { echo "image-rootfs: no dynamic loader in $out" >&2; exit 1; }
libpath="$out/lib/$(uname -m)-linux-gnu:$out/usr/lib/$(uname -m)-linux-gnu"
failed=0
checked=0
for f in "$out"/usr/bin/* "$out"/usr/sbin/* "$out"/sbin/* "$out"/bin/*; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  head -c4 "$f" | grep -q $'\x7fELF' || continue
  listing="$("$loader" --inhibit-cache --library-path "$libpath" --list "$f" 2>&1)" || {
    # A static program (busybox) has nothing to resolve.
    grep -q "not a dynamic executable" <<<"$listing" && continue
  }
  checked=$((checked + 1))
  if grep -q "not found" <<<"$listing"; then
    echo "image-rootfs: ${f#"$out"} needs a library the image lacks:" >&2
    grep "not found" <<<"$listing" >&2
    failed=1
  fi
done
[ "$failed" -eq 0 ] || exit 1
echo "image-rootfs: $role: ${#packages[@]} packages, $checked programs resolve their libraries in the image"
