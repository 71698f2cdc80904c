#!/usr/bin/env bash
# The production dependencies only, installed from the repository's lockfile in a clean directory:
#   scripts/image/prod-deps.sh SRC OUT   ->  OUT/node_modules (`npm ci --omit=dev`)
# Only the package files go to OUT (the root's, each workspace's, and the CLI's bin that npm links), so
# nothing of a development install (dev dependencies, build outputs) can leak into the image. pkcs11js is
# compiled by its install script (node-gyp: python3, make, g++) for the node that runs npm.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 SRC OUT" >&2; exit 2; }
SRC=$(cd "$1" && pwd) OUT=$2
rm -rf "$OUT" && mkdir -p "$OUT"
cp "$SRC/package.json" "$SRC/package-lock.json" "$OUT/"
for pkg in "$SRC"/libs/* "$SRC"/services/*; do
  rel=${pkg#"$SRC"/}
  mkdir -p "$OUT/$rel" && cp "$pkg/package.json" "$OUT/$rel/"
done
cp -r "$SRC/services/cli/bin" "$OUT/services/cli/"
cd "$OUT" && npm ci --omit=dev --no-audit --no-fund --loglevel=error
