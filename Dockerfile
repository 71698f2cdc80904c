# syntax=docker/dockerfile:1
# One image for the RA, the CA, the OCSP responder and the pki CLI; the first argument chooses:
#   docker run --rm -v pki:/var/lib/pki ev-pki pki init --dev --ocsp-url http://127.0.0.1:8082
#   docker run --read-only --tmpfs /tmp -v pki:/var/lib/pki -p 8080:8080 ev-pki ra
# `make image` builds the same layout without a Docker daemon (scripts/build-image.sh, buildah): both run
# scripts/image/prod-deps.sh and scripts/image/rootfs.sh. Non-root (10001:10001), no shell, nothing but
# node and its libraries besides the application; writes only /var/lib/pki (a volume) and /tmp, so it
# runs with a read-only root filesystem (k8s/). No HEALTHCHECK: Kubernetes probes /healthz and /readyz.
ARG NODE_IMAGE=node:20-bookworm

# Build: every dependency, the TypeScript compiled, the RA's web assets (/docs, /console) built.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund && npx tsc -b && node scripts/build-web.mjs

# Production dependencies only, from the lockfile in a clean directory (pkcs11js compiled for this node).
FROM ${NODE_IMAGE} AS prod
WORKDIR /src
COPY package.json package-lock.json ./
COPY libs libs
COPY services services
COPY scripts/image scripts/image
RUN scripts/image/prod-deps.sh /src /prod

# The root filesystem: /app (package files, dist/, openapi.yaml, node_modules), node and its libraries,
# /etc/passwd with the user pki, /var/lib/pki owned by it, /tmp.
FROM build AS rootfs
COPY --from=prod /prod /prod
# jemalloc, the services' allocator (libs/service/src/allocator.ts), from Debian's libjemalloc2.
RUN (ls /usr/lib/*/libjemalloc.so.2 >/dev/null 2>&1 || (apt-get update && apt-get install -y --no-install-recommends libjemalloc2)) \
 && scripts/image/rootfs.sh /src /prod /rootfs

FROM scratch
COPY --from=rootfs /rootfs /
# COPY makes what it creates 0:0: the data dir (and a volume Docker seeds from it) belongs to the service
# user (copying /var/lib's contents, pki is created by this COPY, so --chown applies to it).
COPY --from=rootfs --chown=10001:10001 /rootfs/var/lib /var/lib
USER 10001:10001
WORKDIR /app
ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production PKI_DATA_DIR=/var/lib/pki TMPDIR=/tmp
# The services run on jemalloc (libs/service/src/allocator.ts: why, and these settings); LD_PRELOAD= (empty) opts out.
ENV LD_PRELOAD=/usr/local/lib/libjemalloc.so.2 MALLOC_CONF=background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:2
VOLUME /var/lib/pki
EXPOSE 8080 8081 8082 8083
LABEL org.opencontainers.image.title=ev-pki \
      org.opencontainers.image.description="EV charging PKI: RA, CA, OCSP responder and the pki CLI (first argument: ra|ca|ocsp|pki)"
ENTRYPOINT ["/usr/local/bin/node", "/app/scripts/image/entrypoint.mjs"]
