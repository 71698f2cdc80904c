#!/usr/bin/env bash
# `make image-test`: the image smoke test. Containers cannot run on this machine (no daemon; podman's
# crun cannot set rlimits), so it runs the image's own root filesystem (buildah mount) with chroot, as
# Kubernetes runs it (k8s/): read-only root, uid/gid 10001, writable only /var/lib/pki (the volume) and
# /tmp (an emptyDir), the image's ENTRYPOINT and Env. `pki init --dev`, then the CA, the OCSP responder and
# the RA, then the README's example: register a station, sign an openssl CSR through the RA, verify the
# chain with openssl, ask the OCSP responder (good). Needs root, buildah, openssl, curl, jq.
#   IMAGE  the image to test (default ev-pki:dev)
set -euo pipefail
IMAGE=${IMAGE:-ev-pki:dev}
started=$(date +%s)
say() { echo "image-test: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "needs root (buildah mount, chroot, mount)"; exit 2; }
for tool in buildah openssl curl jq; do command -v $tool >/dev/null || { say "needs $tool"; exit 2; }; done

work=$(mktemp -d /tmp/ev-pki-image-test.XXXXXX)
root=$work/root data=$work/data client=$work/client
mkdir -p "$root" "$data" "$client"
mounts=() pids=() ctr=
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ $rc -ne 0 ]; then
    for log in "$work"/*.log; do [ -f "$log" ] && { say "--- $(basename "$log"), last lines:"; tail -20 "$log" >&2; }; done
  fi
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || true; done
  [ -z "$ctr" ] || { buildah umount "$ctr" >/dev/null 2>&1 || true; buildah rm "$ctr" >/dev/null 2>&1 || true; }
  rm -rf "$work"
  [ $rc -eq 0 ] && say "passed in $(( $(date +%s) - started )) s" || say "FAILED"
}
trap cleanup EXIT
mnt() { mount "$@"; mounts+=("${@: -1}"); }

# The image's root filesystem, read-only, with the volume, /tmp and the kernel filesystems a runtime adds.
ctr=$(buildah from --quiet "$IMAGE")
image_root=$(buildah mount "$ctr")
# The mount points a container runtime adds (in this working container's copy, not in the image).
touch "$image_root/etc/hosts" "$image_root/etc/resolv.conf"
mnt --bind "$image_root" "$root"
mount -o remount,bind,ro "$root"
# The data dir the image brings (a volume is seeded from it) belongs to the service user; /tmp is 1777.
[ "$(stat -c '%u:%g %a' "$root/var/lib/pki")" = "10001:10001 700" ] || { say "the image's /var/lib/pki is $(stat -c '%u:%g %a' "$root/var/lib/pki"), not 10001:10001 700"; exit 1; }
[ "$(stat -c '%a' "$root/tmp")" = 1777 ] || { say "the image's /tmp is not 1777"; exit 1; }
chown 10001:10001 "$data" && chmod 0700 "$data"
mnt --bind "$data" "$root/var/lib/pki"
mnt -t tmpfs -o mode=1777,size=64m tmpfs "$root/tmp"
mnt -t proc proc "$root/proc"
mnt --bind /dev "$root/dev"
mnt --bind /etc/hosts "$root/etc/hosts"
mnt --bind /etc/resolv.conf "$root/etc/resolv.conf"

# The image's configuration: what `docker run` / the kubelet would use.
config=$(buildah inspect --type image "$IMAGE" | jq -c .OCIv1.config)
[ "$(jq -r .User <<<"$config")" = 10001:10001 ] || { say "the image's user is not 10001:10001"; exit 1; }
mapfile -t entrypoint < <(jq -r '.Entrypoint[]' <<<"$config")
mapfile -t image_env < <(jq -r '.Env[]' <<<"$config")

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
RA_PORT=$(free_port) CA_PORT=$(free_port) CA_OPS_PORT=$(free_port) OCSP_PORT=$(free_port)
ports=(RA_PORT="$RA_PORT" CA_PORT="$CA_PORT" CA_OPS_PORT="$CA_OPS_PORT" OCSP_PORT="$OCSP_PORT" PKI_LOG_LEVEL=warn)
CHROOT=$(command -v chroot)
# The host's chroot starts with the image's Env too, so the host's loader warns once that it cannot find
# the image's LD_PRELOAD (/usr/local/lib/libjemalloc.so.2 is in the image, not here): not the image's fault.
quiet_preload() { grep -v "libjemalloc.so.2' from LD_PRELOAD cannot be preloaded" >&2 || true; }
# in_image ARGS...: the image's entry point with ARGS, as uid/gid 10001 in its root filesystem, its Env only.
in_image() { env -i "${image_env[@]}" "${ports[@]}" "$CHROOT" --userspec=10001:10001 "$root" "${entrypoint[@]}" "$@" 2> >(quiet_preload); }

# The native addons load in the image (built for its node, their libraries present): lmdb is the embedded
# store, msgpackr-extract its fast path, pkcs11js the HSM signers (no PKCS#11 module ships in the image).
env -i "${image_env[@]}" "$CHROOT" --userspec=10001:10001 "$root" /usr/local/bin/node -e '
  const r = require("module").createRequire("/app/libs/store/");
  require("module").createRequire("/app/node_modules/msgpackr/")("msgpackr-extract");
  r("lmdb"); r("pkcs11js");' >"$work/addons.log" 2>&1 || { say "a native addon does not load in the image"; exit 1; }

# Name lookups go through the image's glibc (files and dns are built into libc.so.6 since 2.34: no NSS
# modules to ship): localhost, from the /etc/hosts mounted as a runtime mounts it.
env -i "${image_env[@]}" "$CHROOT" --userspec=10001:10001 "$root" /usr/local/bin/node -e '
  require("dns").lookup("localhost", { family: 4 }, (err, a) => process.exit(!err && a === "127.0.0.1" ? 0 : (console.error(err ?? a), 1)));' \
  >"$work/dns.log" 2>&1 || { say "localhost does not resolve in the image (getaddrinfo, /etc/hosts)"; exit 1; }

in_image pki init --dev --ocsp-url "http://127.0.0.1:$OCSP_PORT" >"$work/init.log" 2>&1 || { say "pki init --dev failed"; exit 1; }
[ -f "$data/pki.json" ] || { say "pki init wrote no /var/lib/pki/pki.json"; exit 1; }

# Not `in_image ... &`: a backgrounded shell function is a subshell, whose pid cleanup() would kill while
# the service it started kept running (env and chroot exec, so this $! is the service itself).
start() { env -i "${image_env[@]}" "${ports[@]}" "$CHROOT" --userspec=10001:10001 "$root" "${entrypoint[@]}" "$1" >"$work/$1.log" 2>&1 & pids+=($!); }
# As k8s/ runs it: `command: [node, services/ra/dist/main.js]` in /app (node found on the image's PATH;
# chroot starts in /, hence the /app prefix).
start_as_k8s() { env -i "${image_env[@]}" "${ports[@]}" "$CHROOT" --userspec=10001:10001 "$root" node "/app/services/$1/dist/main.js" >"$work/$1.log" 2>&1 & pids+=($!); }
ready() {
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || { say "a service exited before $1 was ready"; exit 1; }; done
    sleep 0.1
  done
  say "$1 was not ready within 30 s"; exit 1
}
start ca
ready "http://127.0.0.1:$CA_OPS_PORT/readyz"
start ocsp
start_as_k8s ra
ready "http://127.0.0.1:$OCSP_PORT/readyz"
ready "http://127.0.0.1:$RA_PORT/readyz"
say "ca, ocsp and ra ready from $IMAGE (read-only root, uid 10001)"
# Each service (and each OCSP worker, forked with the same environment) runs on the image's jemalloc
# (its ENV: LD_PRELOAD, MALLOC_CONF; libs/service/src/allocator.ts).
for pid in "${pids[@]}" $(pgrep -P "${pids[1]}"); do
  grep -q '/usr/local/lib/libjemalloc.so.2' "/proc/$pid/maps" || { say "process $pid ($(tr '\0' ' ' < "/proc/$pid/cmdline")) does not run on the image's jemalloc"; exit 1; }
done
say "every service process runs on jemalloc ($(( ${#pids[@]} + $(pgrep -P "${pids[1]}" | wc -l) )) processes)"

# The README's example, steps 1 to 5.
cd "$client"
RA="http://127.0.0.1:$RA_PORT"
TOKEN=$(in_image pki token --tenant demo)
openssl ecparam -name prime256v1 -genkey -noout -out cp.key
openssl req -new -key cp.key -subj "/O=Demo CPO/CN=CP-0001" -out cp.csr
curl -sSf -X PUT "$RA/v1/stations/cp-0001" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"serialNumber": "CP-0001", "model": "Demo Wallbox", "allowed": true}' >/dev/null
jq -n --rawfile csr cp.csr '{csr: $csr, certificateType: "ChargingStationCertificate"}' > sign.json
curl -sSf -X POST "$RA/v1/stations/cp-0001/certificates" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -H 'Idempotency-Key: image-test-1' --data @sign.json > signed.json
jq -r .certificateChain signed.json > chain.pem
curl -sSf "$RA/v1/trust-anchors" -H "Authorization: Bearer $TOKEN" | jq -r '.items[0].certificate' > root.pem
openssl verify -purpose sslclient -CAfile root.pem -untrusted chain.pem chain.pem >&2
openssl x509 -in chain.pem -out cp.pem
awk '/BEGIN/{n++} n==2' chain.pem > issuer.pem
ocsp=$(openssl ocsp -issuer issuer.pem -cert cp.pem -url "$(openssl x509 -in cp.pem -noout -ocsp_uri)" -CAfile root.pem -verify_other issuer.pem 2>&1)
grep -q '^cp.pem: good' <<<"$ocsp" || { say "OCSP did not answer good: $ocsp"; exit 1; }
say "signed $(openssl x509 -in cp.pem -noout -subject), chain verified, OCSP good"

# The web pages the build put into the image (scripts/build-web.mjs): the API reference with its own
# bundle (no CDN), the problem types, the console; each with its Content-Security-Policy.
for page in /docs /docs/redoc.standalone.js /docs/problems /console /console/app.js; do
  headers=$(curl -sSf -D - -o /dev/null "$RA$page") || { say "$page is not served from the image"; exit 1; }
  grep -qi '^content-security-policy: default-src' <<<"$headers" || { say "$page has no Content-Security-Policy"; exit 1; }
done
say "/docs, /docs/problems and /console served from the image"

# Nothing but the volume was written: the root filesystem is read-only, so a write elsewhere failed above.
[ -n "$(ls -A "$data/store" 2>/dev/null || ls -A "$data")" ] || { say "the data dir stayed empty"; exit 1; }
