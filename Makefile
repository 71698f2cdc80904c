# The two commands the README promises on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# npm ci: the lockfile is the truth (never rewritten by a build).
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: install build typecheck lint test run fixtures bench bench-issue bench-ocsp bench-scale bench-manufacturer bench-lists image image-test image-dockerfile-test help clean

install: node_modules/.package-lock.json

## make build: compile the TypeScript (tsc -b), then the RA's web assets: /docs from openapi.yaml and /console (scripts/build-web.mjs).
build: install
	npx tsc -b
	node scripts/build-web.mjs

typecheck: build

lint: install
	npx eslint .
	npx redocly lint openapi.yaml --config .redocly.yaml

## make test: type-check, lint (code and openapi.yaml) and every test.
test: typecheck lint
	node --test --test-concurrency=$${TEST_CONCURRENCY:-2} test/dist

## make fuzz: the property-based hostile-input tests (CSR and OCSP parsers, OCSP responder, every openapi.yaml operation, the CA's routes) with FUZZ_RUNS=20000 cases per property (`make test` runs 150); a failure prints its seed: rerun with FUZZ_SEED=<seed> FUZZ_PATH=<path>.
fuzz: build
	FUZZ_RUNS=$${FUZZ_RUNS:-20000} node --test --test-concurrency=1 test/dist/fuzz-parsers.test.js test/dist/fuzz-api.test.js

## make run: install, build, `pki init --dev --v2g` once (./data or $PKI_DATA_DIR), start RA, CA and OCSP.
run: build
	node scripts/run-dev.mjs

## make fixtures: regenerate the committed CSR fixtures with openssl.
fixtures:
	node test/fixtures/make-csrs.mjs

# The benches run our services on jemalloc as the image does (libs/service/src/allocator.ts): installed when missing.
NEED_JEMALLOC = @ls /usr/lib/*/libjemalloc.so.2 >/dev/null 2>&1 || { apt-get update && apt-get install -y libjemalloc2; }

## make bench: every bench's quick mode in one go (test/bench/benches.ts; the services on jemalloc, as in the image), then one table of figures, ratios and targets, PASS/FAIL each (exit 1 only when a bench fails, not on a FAIL ratio: README "Performance"); reports in bench-results/.
bench: build
	$(NEED_JEMALLOC)
	@command -v wrk >/dev/null || { apt-get update && apt-get install -y wrk; }
	@command -v ab >/dev/null || { apt-get update && apt-get install -y apache2-utils; }
	node test/dist/bench/bench-all.js

## make bench-issue: charge point issuance throughput over HTTP (RA → CA) vs a one-process @peculiar/x509 baseline.
bench-issue: build
	$(NEED_JEMALLOC)
	node test/dist/bench/bench-issue.js

## make bench-ocsp: OCSP responder req/s and p50/p99 with wrk (pre-signed GET/POST, nonce) and ab (POST, no keep-alive) vs bare node:http (same workers) and `openssl ocsp`.
bench-ocsp: build
	$(NEED_JEMALLOC)
	@command -v wrk >/dev/null || { apt-get update && apt-get install -y wrk; }
	@command -v ab >/dev/null || { apt-get update && apt-get install -y apache2-utils; }
	node test/dist/bench/bench-ocsp.js

## make bench-manufacturer: manufacturer chain verifications/s (3 certificates; target ≥ 2,000/s) over HTTP and in-process vs uncached validatePath.
bench-manufacturer: build
	node test/dist/bench/bench-manufacturer-verify.js

## make bench-lists: p50/p99 of filtered certificate pages (store and HTTP) at 1,000,000 records on LMDB vs a naive full scan at 100,000; target p99 ≤ 20 ms. BENCH_QUICK=1: 100,000 records.
bench-lists: build
	node test/dist/bench/bench-lists.js

## make bench-scale: OCSP p50/p99 and memory per record at 1,000 and 1,000,000 records in Redis (bulk load, same run); target p99(1M) ≤ 1.2 × p99(1k).
bench-scale: build
	$(NEED_JEMALLOC)
	@command -v wrk >/dev/null || { apt-get update && apt-get install -y wrk; }
	node test/dist/bench/bench-scale.js

## make image: the container image ev-pki:<git describe> (and ev-pki:dev) with buildah, no Docker daemon (root; apt-get install buildah), plus dist/ev-pki.oci.tar; the Dockerfile builds the same layout with Docker.
image: build
	scripts/build-image.sh

## make image-test: build the image, then run pki init and the three services from it (read-only root, uid 10001) and sign a CSR through the RA.
image-test: image
	scripts/image-test.sh

## make image-dockerfile-test: build the Dockerfile without Docker or a registry (buildah, a stand-in for node:20-bookworm from this machine's Debian packages) and run image-test on it; a few minutes.
image-dockerfile-test:
	scripts/image/dockerfile-test.sh

clean:
	rm -rf dist/image dist/ev-pki.oci.tar libs/*/dist services/*/dist test/dist test-results libs/*/tsconfig.tsbuildinfo services/*/tsconfig.tsbuildinfo services/ra/console/tsconfig.tsbuildinfo test/tsconfig.tsbuildinfo

help:
	@grep -E '^## ' Makefile | sed 's/^## //'
