#!/usr/bin/env bash
# `make image`: the image of the Dockerfile, built without a Docker daemon or a registry: buildah from
# scratch (as root), the root filesystem from scripts/image/rootfs.sh (this machine's node and its
# libraries, the production node_modules from scripts/image/prod-deps.sh, `npm ci --omit=dev`).
#
#   IMAGE_VERSION  the tag (default: the git commit, plus -dirty); the image is also tagged ev-pki:dev
#   IMAGE_ARCHIVE  an OCI archive of it to load elsewhere (default dist/ev-pki.oci.tar; empty: none)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
command -v buildah >/dev/null || { echo "make image: needs buildah (apt-get install buildah)" >&2; exit 2; }
VERSION=${IMAGE_VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
ARCHIVE=${IMAGE_ARCHIVE-dist/ev-pki.oci.tar}
STAGE=$ROOT/dist/image
started=$(date +%s)

[ -f services/ra/dist/main.js ] || { echo "make image: build first (npx tsc -b)" >&2; exit 2; }

# Production dependencies (scripts/image/prod-deps.sh: npm ci --omit=dev in a clean dir), reused while the
# lockfile, package.json and node (pkcs11js is compiled for it) are unchanged.
prod=$STAGE/prod
stamp=$prod/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ] \
  || [ "$(cat "$prod/.node-version" 2>/dev/null)" != "$(node --version)" ]; then
  scripts/image/prod-deps.sh "$ROOT" "$prod"
  node --version > "$prod/.node-version"
fi

rootfs=$STAGE/rootfs
rm -rf "$rootfs"
scripts/image/rootfs.sh "$ROOT" "$prod" "$rootfs"

ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
mnt=$(buildah mount "$ctr")
cp -a "$rootfs/." "$mnt/"   # -a: owners and modes as rootfs.sh set them (buildah copy would chown to 0:0)
buildah umount "$ctr" >/dev/null
# The image's configuration, as in the Dockerfile's final stage. No HEALTHCHECK: Kubernetes probes
# /healthz and /readyz (k8s/).
buildah config \
  --entrypoint '["/usr/local/bin/node", "/app/scripts/image/entrypoint.mjs"]' --cmd '' \
  --user 10001:10001 --workingdir /app \
  --env PATH=/usr/local/bin:/usr/bin:/bin --env NODE_ENV=production --env PKI_DATA_DIR=/var/lib/pki --env TMPDIR=/tmp \
  --env LD_PRELOAD=/usr/local/lib/libjemalloc.so.2 --env MALLOC_CONF=background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:2 \
  --volume /var/lib/pki \
  --port 8080 --port 8081 --port 8082 --port 8083 \
  --label org.opencontainers.image.title=ev-pki \
  --label org.opencontainers.image.description="EV charging PKI: RA, CA, OCSP responder and the pki CLI (first argument: ra|ca|ocsp|pki)" \
  --label org.opencontainers.image.version="$VERSION" \
  --label org.opencontainers.image.revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --os linux --arch amd64 \
  "$ctr"
# The image ev-pki:dev (and the same version) named before: removed below once no tag names it any more.
previous=$(buildah images --quiet --no-trunc ev-pki:dev 2>/dev/null || true)
buildah commit --quiet "$ctr" "ev-pki:$VERSION" >/dev/null
[ "$VERSION" = dev ] || buildah tag "ev-pki:$VERSION" ev-pki:dev
# Read whole before matching: `grep -q` would stop reading early, and buildah's SIGPIPE fails the build under pipefail.
dangling=$(buildah images --quiet --no-trunc --filter dangling=true)
if [ -n "$previous" ] && grep -qx "$previous" <<<"$dangling"; then
  buildah rmi "$previous" >/dev/null 2>&1 || true
fi
if [ -n "$ARCHIVE" ]; then
  rm -f "$ARCHIVE"
  buildah push --quiet "ev-pki:$VERSION" "oci-archive:$ARCHIVE:ev-pki:$VERSION"
fi

size=$(buildah images --format '{{.Size}}' "ev-pki:$VERSION")
size=${size%%$'\n'*}
echo "make image: ev-pki:$VERSION (and ev-pki:dev), $size uncompressed${ARCHIVE:+, OCI archive $ARCHIVE ($(du -h "$ARCHIVE" | cut -f1))}, built in $(( $(date +%s) - started )) s"
