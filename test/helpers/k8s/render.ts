/** Rendering k8s/ with `kubectl kustomize`: the base, the base with the Redis component, overlays made for a test. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { isObj, type K8sObject } from './objects.js';

// test/dist/helpers/k8s/render.js → ../../../../ is the repository root.
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const K8S_DIR = join(REPO_ROOT, 'k8s');
// A kustomize Component, not an overlay with `resources: [../..]`: kustomize refuses a base that is
// a parent directory of the kustomization using it (a cycle).
export const REDIS_DIR = join(K8S_DIR, 'overlays', 'redis');

export function kubectlKustomize(dir: string): string {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT')
    assert.fail('kubectl is not installed (not on PATH): the k8s/ test needs `kubectl kustomize` (kustomize ≥ 4.5, i.e. kubectl ≥ 1.24)');
  if (r.error) throw r.error;
  if (r.status !== 0) assert.fail(`kubectl kustomize ${dir} failed (exit ${String(r.status)}):\n${r.stderr}`);
  return r.stdout;
}

export function parseManifests(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`YAML error: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    assert.ok(isObj(value), `a YAML document is not an object: ${JSON.stringify(value)}`);
    assert.equal(typeof value.apiVersion, 'string', `object without apiVersion: ${JSON.stringify(value).slice(0, 200)}`);
    assert.equal(typeof value.kind, 'string', `object without kind: ${JSON.stringify(value).slice(0, 200)}`);
    assert.ok(isObj(value.metadata) && typeof value.metadata.name === 'string', `${String(value.kind)} without metadata.name`);
    out.push(value as K8sObject);
  }
  return out;
}

export function render(dir: string): K8sObject[] {
  return parseManifests(kubectlKustomize(dir));
}

/**
 * Renders an overlay of k8s/ (in a temporary directory) with the given extra kustomization lines,
 * optionally with the Redis component and extra files (e.g. for a secretGenerator).
 */
export function renderOverlay(kustomization: string, opts: { redis?: boolean; files?: Record<string, string> } = {}): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'evpki-k8s-'));
  try {
    // kustomize accepts only relative paths to a base.
    const components = opts.redis ? `components:\n  - ${relative(dir, REDIS_DIR)}\n` : '';
    writeFileSync(join(dir, 'kustomization.yaml'), `resources:\n  - ${relative(dir, K8S_DIR)}\n${components}${kustomization}`);
    for (const [name, text] of Object.entries(opts.files ?? {})) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    return render(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let renderedBase: K8sObject[] | undefined;
export function base(): K8sObject[] {
  assert.ok(existsSync(join(K8S_DIR, 'kustomization.yaml')), `no kustomization.yaml in ${K8S_DIR}`);
  renderedBase ??= render(K8S_DIR);
  return structuredClone(renderedBase);
}

let renderedRedis: K8sObject[] | undefined;
/** The base with the Redis component and nothing else (placeholder Secrets, example --org). */
export function redis(): K8sObject[] {
  assert.ok(existsSync(join(REDIS_DIR, 'kustomization.yaml')), `no kustomization.yaml in ${REDIS_DIR}`);
  renderedRedis ??= renderOverlay('', { redis: true });
  return structuredClone(renderedRedis);
}
