#!/usr/bin/env bash
# `make image-dockerfile-test`: the Dockerfile itself, on a machine without Docker or a registry. Its
# `node:20-bookworm` stages get a stand-in made from this machine's installed Debian packages (node, npm,
# g++, make, python3, binutils and what they depend on); buildah builds the Dockerfile with chroot
# isolation (no runtime needed), then scripts/image-test.sh runs the result. Needs root and buildah;
# takes a few minutes and about 1.5 GB in buildah's storage (removed at the end).
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE=localhost/ev-pki-build-base:dockerfile-test IMAGE=localhost/ev-pki:dockerfile-test
PACKAGES="nodejs libjemalloc2 bash dash coreutils findutils grep sed mawk diffutils tar gzip make g++ gcc python3 binutils libc-bin libc6-dev ca-certificates"
started=$(date +%s)
base=$(mktemp -d /var/tmp/ev-pki-build-base.XXXXXX)
ctr=
cleanup() {
  [ -z "$ctr" ] || buildah rm "$ctr" >/dev/null 2>&1 || true
  buildah rmi "$IMAGE" "$BASE" >/dev/null 2>&1 || true
  rm -rf "$base"
}
trap cleanup EXIT

# The stand-in base: every file of the installed packages in the Depends closure (at their merged-/usr
# paths), npm as installed, the CA certificates and npm's global configuration of this machine.
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances $PACKAGES 2>/dev/null | grep -v '^ ' | grep -v '<' | sort -u)
installed=$({ dpkg-query -W -f='${Package} ${Status}\n' $closure 2>/dev/null || true; } | awk '/install ok installed/{print $1}')
for p in $installed; do dpkg -L "$p"; done 2>/dev/null | sort -u | python3 -c '
import os, shutil, sys
base = sys.argv[1]
for p in sys.stdin.read().split("\n"):
    if not p or not os.path.lexists(p) or (os.path.isdir(p) and not os.path.islink(p)): continue
    real = os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))
    dst = base + real
    if os.path.lexists(dst): continue
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.symlink(os.readlink(real), dst) if os.path.islink(real) else shutil.copy2(real, dst)
' "$base"
(cd "$base" && for d in bin lib lib64 sbin; do ln -sfn "usr/$d" "$d"; done)
ln -sfn mawk "$base/usr/bin/awk"
mkdir -p "$base"/{etc,root,tmp,var/tmp,usr/etc,usr/lib/node_modules} && chmod 1777 "$base/tmp" "$base/var/tmp"
rm -rf "$base/usr/lib/node_modules/npm" && cp -a "$(npm root -g)/npm" "$base/usr/lib/node_modules/"
cp -a /etc/ssl "$base/etc/" && cp /etc/passwd /etc/group "$base/etc/"
# npm's global configuration here (a cafile, say), for the stand-in's npm as for this machine's.
[ ! -f /etc/npmrc ] || cp /etc/npmrc "$base/etc/npmrc"
global=$(npm config get globalconfig)
[ ! -f "$global" ] || { mkdir -p "$base$(dirname "$global")" && cp "$global" "$base$global"; }
# node-gyp (pkcs11js) takes node's headers from the nodejs package instead of downloading them.
printf 'nodedir=/usr\n' >> "$base$global"
ctr=$(buildah from scratch)
cp -a "$base/." "$(buildah mount "$ctr")/"
buildah config --env PATH=/usr/local/bin:/usr/bin:/bin "$ctr"
buildah commit --quiet --rm "$ctr" "$BASE" >/dev/null
ctr=
rm -rf "$base"

buildah bud --quiet --isolation chroot --layers=false --pull=never --build-arg NODE_IMAGE="$BASE" -t "$IMAGE" .
echo "image-dockerfile-test: the Dockerfile built $IMAGE ($(buildah images --format '{{.Size}}' "$IMAGE" | head -1)) in $(( $(date +%s) - started )) s" >&2
IMAGE=$IMAGE scripts/image-test.sh
