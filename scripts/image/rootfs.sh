#!/usr/bin/env bash
# Assembles the image's root filesystem in a directory: the same layout for the Dockerfile (its `rootfs`
# stage) and for `make image` (scripts/build-image.sh, buildah without a daemon).
#
#   scripts/image/rootfs.sh SRC PROD OUT
#     SRC   the repository, built (`make build`: libs/*/dist, services/*/dist, the RA's web assets in services/ra/dist/web)
#     PROD  a directory whose node_modules holds the production dependencies only (`npm ci --omit=dev`)
#     OUT   the root filesystem to write (must not exist)
#   NODE  the node binary to ship (default: the one on PATH); it and every shared library it or a native
#         addon (lmdb, msgpackr-extract, pkcs11js) needs are copied from this machine, at the same paths.
#   JEMALLOC  the jemalloc library the services run on (default: this machine's, Debian's libjemalloc2;
#         libs/service/src/allocator.ts), copied to /usr/local/lib/libjemalloc.so.2 (the image preloads it).
#
# Layout: /app (package files, dist/, openapi.yaml, node_modules), /usr/local/bin/node and its libraries,
# /etc/passwd and /etc/group with the user pki (10001:10001), /var/lib/pki (the data dir, a volume) and
# /tmp: the only places written at run time, so the root filesystem can be read-only.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 SRC PROD OUT" >&2; exit 2; }
SRC=$(cd "$1" && pwd) PROD=$(cd "$2" && pwd) OUT=$3
NODE=${NODE:-$(command -v node)}
JEMALLOC=${JEMALLOC:-$("$NODE" --input-type=module -e "import { hostJemalloc } from '$SRC/libs/service/dist/allocator.js'; console.log(hostJemalloc() ?? '')")}
[ ! -e "$OUT" ] || { echo "rootfs.sh: $OUT exists; remove it first" >&2; exit 2; }
[ -f "$SRC/services/ra/dist/main.js" ] || { echo "rootfs.sh: $SRC is not built (run npx tsc -b)" >&2; exit 2; }
for page in docs console; do
  [ -f "$SRC/services/ra/dist/web/$page/index.html" ] || { echo "rootfs.sh: the RA's /$page is not built (run node scripts/build-web.mjs, part of make build)" >&2; exit 2; }
done
[ -d "$PROD/node_modules" ] || { echo "rootfs.sh: $PROD/node_modules is missing (npm ci --omit=dev)" >&2; exit 2; }
[ -f "$JEMALLOC" ] || { echo "rootfs.sh: no jemalloc on this machine (apt-get install libjemalloc2): the image runs its services on it (libs/service/src/allocator.ts)" >&2; exit 2; }
umask 022
mkdir -p "$OUT"/{app,etc,tmp,proc,sys,dev,var/lib/pki,usr/local/bin,usr/local/lib}
chmod 1777 "$OUT/tmp"

# The application: package files, compiled JavaScript (no declarations or source maps), openapi.yaml
# (the RA validates against it at run time), the entry point.
cp "$SRC/package.json" "$SRC/package-lock.json" "$SRC/openapi.yaml" "$OUT/app/"
for pkg in "$SRC"/libs/* "$SRC"/services/*; do
  rel=${pkg#"$SRC"/}
  mkdir -p "$OUT/app/$rel"
  cp "$pkg/package.json" "$OUT/app/$rel/"
  cp -r "$pkg/dist" "$OUT/app/$rel/"
done
find "$OUT/app/libs" "$OUT/app/services" \( -name '*.d.ts' -o -name '*.map' -o -name '*.tsbuildinfo' \) -type f -delete
cp -r "$SRC/services/cli/bin" "$OUT/app/services/cli/"
mkdir -p "$OUT/app/scripts/image"
cp "$SRC/scripts/image/entrypoint.mjs" "$OUT/app/scripts/image/"
# -a keeps the workspace links (node_modules/@evpki/* -> ../../libs/...), relative, valid under /app.
cp -a "$PROD/node_modules" "$OUT/app/"
# Build leftovers of native addons (pkcs11js's object files, node-gyp's Makefiles) are not needed at run time.
find "$OUT/app/node_modules" -type d -name obj.target -prune -exec rm -rf {} +
find "$OUT/app/node_modules" \( -name '*.md' -o -name '*.ts' -o -name '*.map' -o -name Makefile -o -name '*.mk' \) -type f -delete
find "$OUT/app/node_modules" -type d \( -name '.deps' -o -name 'obj' \) -prune -exec rm -rf {} +
# The image's libc is glibc (this machine's): the musl prebuilds of lmdb and msgpackr-extract never load.
find "$OUT/app/node_modules" -name '*.musl.node' -type f -delete
chmod -R a+rX,go-w "$OUT/app"

# The runtime: node and the shared libraries it and the native addons load, copied at their own paths
# (the dynamic loader too), so the image needs no distribution.
cp "$(readlink -f "$NODE")" "$OUT/usr/local/bin/node"
# Debug information only (the dynamic symbols native addons link against stay): about half of a Debian node.
if command -v strip >/dev/null; then strip --strip-debug "$OUT/usr/local/bin/node"; fi
# The services' allocator, at a path of the image's own (its ENV preloads it: LD_PRELOAD, MALLOC_CONF).
cp -L "$JEMALLOC" "$OUT/usr/local/lib/libjemalloc.so.2"
# ldd's lines: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and the loader "/lib64/ld-linux-x86-64.so.2 (0x...)"
# (POSIX classes only: Debian's default awk is mawk).
libs() { awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]+ \(/{print $1}' <<<"$1"; }
{
  libs "$(ldd "$NODE")"
  libs "$(ldd "$JEMALLOC")"
  find "$OUT/app/node_modules" -name '*.node' -type f | while read -r addon; do
    # A prebuild for another libc (musl) is never loaded here: ldd cannot resolve it, skip it.
    deps=$(ldd "$addon" 2>&1) || continue
    grep -q 'not found' <<<"$deps" || libs "$deps"
  done
} | sort -u | while read -r lib; do
  mkdir -p "$OUT$(dirname "$lib")"
  cp -L "$lib" "$OUT$lib"
done
# node must start in the image: its program interpreter (the dynamic loader) is there.
interp=$(readelf -lW "$OUT/usr/local/bin/node" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
[ -n "$interp" ] && [ -e "$OUT$interp" ] || { echo "rootfs.sh: node's loader ${interp:-?} is not in $OUT" >&2; exit 1; }

# The non-root user the services run as (k8s/: runAsUser 10001), the data dir it owns.
cat > "$OUT/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
pki:x:10001:10001:EV PKI:/var/lib/pki:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
PASSWD
cat > "$OUT/etc/group" <<'GROUP'
root:x:0:
pki:x:10001:
nogroup:x:65534:
GROUP
chown 10001:10001 "$OUT/var/lib/pki"
chmod 0700 "$OUT/var/lib/pki"
