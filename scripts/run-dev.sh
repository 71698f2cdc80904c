#!/usr/bin/env bash
# `make run`: a dev PKI on the embedded store (or on Redis when REDIS_URL is set), then RA, CA and OCSP on localhost. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
export PKI_DATA_DIR="${PKI_DATA_DIR:-./data}"
export RA_PORT="${RA_PORT:-8080}" CA_PORT="${CA_PORT:-8081}" OCSP_PORT="${OCSP_PORT:-8082}" CA_OPS_PORT="${CA_OPS_PORT:-8083}"

if [ ! -f "$PKI_DATA_DIR/pki.json" ]; then
  node services/cli/bin/pki.js init --dev --data-dir "$PKI_DATA_DIR" --ocsp-url "http://127.0.0.1:$OCSP_PORT"
fi

pids=()
stop() { trap - INT TERM EXIT; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop INT TERM EXIT

wait_ready() { for _ in $(seq 1 200); do curl -fsS "$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "$1 did not become ready" >&2; return 1; }

# The CA first: the OCSP responder gets its delegated signer from it, and the RA's readiness includes it.
# Its API port takes only mutual TLS (the service certificates in $PKI_DATA_DIR/secrets); probes go to the ops port.
node services/ca/dist/main.js & pids+=($!)
wait_ready "http://127.0.0.1:$CA_OPS_PORT"
node services/ocsp/dist/main.js & pids+=($!)
node services/ra/dist/main.js & pids+=($!)
wait_ready "http://127.0.0.1:$OCSP_PORT"
wait_ready "http://127.0.0.1:$RA_PORT"

store="the embedded store in $PKI_DATA_DIR"
[ -n "${REDIS_URL:-}" ] && store="Redis (REDIS_URL; files in $PKI_DATA_DIR)"
cat <<MSG

  EV charging PKI (dev) is running on $store
    RA    http://127.0.0.1:$RA_PORT   (API: openapi.yaml; token: node services/cli/bin/pki.js token --tenant demo)
    CA    https://127.0.0.1:$CA_PORT  (internal; mutual TLS, answers only the RA and the OCSP responder)
          http://127.0.0.1:$CA_OPS_PORT   (ops: /healthz, /readyz, /metrics)
    OCSP  http://127.0.0.1:$OCSP_PORT
  Ctrl-C stops all three.

MSG
wait -n "${pids[@]}"
