import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { loadCaConfig } from '@evpki/ca';
import { parseRetention } from '@evpki/cli';
import { loadOcspConfig } from '@evpki/ocsp-responder';
import { loadRaConfig } from '@evpki/ra';
import { KNOWN_ENV, checkUnknownEnv, loadStoreConfig } from '@evpki/service';
import { redisAclFile } from '@evpki/store';

/**
 * The machinery of the k8s/ tests (test/k8s-base, k8s-rotation, k8s-redis and k8s-ops.test.ts):
 * rendering, the fixtures and the checks, each returning a list of problems.
 *
 * The kustomize base in k8s/: rendered with `kubectl kustomize`, every object validated against the
 * Kubernetes schemas (kubernetes-models), every container's environment against KNOWN_ENV and the
 * services' own config loaders, plus probes, resources, security contexts, mounted files and
 * Secrets, RBAC, and the rotation step templates (k8s/rotation/: suspended CronJobs, each running
 * `pki` with its subcommand, labelled pki-cli and admitted to the CA, with the passphrase and the
 * pki-data volume but no CA key Secret), and the audit log retention (the CronJob pki-audit-retain:
 * daily, not suspended, `pki audit retain` into the PVC pki-audit-export). The Redis overlay (the kustomize Component
 * k8s/overlays/redis over the base) gets the same checks, plus Redis durability, replicas and
 * PodDisruptionBudgets, which pod holds which file, the Redis NetworkPolicy, and the prepare steps
 * writing the CA's key Secret with get/patch on it alone. Each check is also run on broken copies,
 * so that a check that rejects nothing fails there.
 */

// test/dist/helpers/k8s.js → ../../../ is the repository root.
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const K8S_DIR = join(REPO_ROOT, 'k8s');
// A kustomize Component, not an overlay with `resources: [../..]`: kustomize refuses a base that is
// a parent directory of the kustomization using it (a cycle).
export const REDIS_DIR = join(K8S_DIR, 'overlays', 'redis');

// ---------------------------------------------------------------------------------------------
// Rendering

export type Obj = Record<string, unknown>;
export interface K8sObject extends Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
}

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

// ---------------------------------------------------------------------------------------------
// Helpers

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
export const obj = (v: unknown): Obj => (isObj(v) ? v : {});
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const id = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is missing from the rendered manifests`);
  return o;
}

export interface PodSpecAt {
  readonly owner: K8sObject;
  readonly podLabels: Record<string, string>;
  readonly spec: Obj;
}

/** The pod specs of every workload (with the labels of their pod template). */
export function podSpecs(objects: K8sObject[]): PodSpecAt[] {
  const out: PodSpecAt[] = [];
  for (const o of objects) {
    let template: Obj | undefined;
    if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'ReplicationController'].includes(o.kind)) template = obj(obj(o.spec).template);
    else if (o.kind === 'CronJob') template = obj(obj(obj(obj(o.spec).jobTemplate).spec).template);
    else if (o.kind === 'Pod') template = { metadata: o.metadata, spec: o.spec };
    if (!template) continue;
    out.push({ owner: o, podLabels: obj(obj(template.metadata).labels) as Record<string, string>, spec: obj(template.spec) });
  }
  return out;
}

export interface ContainerAt {
  readonly pod: PodSpecAt;
  readonly c: Obj;
  readonly field: 'initContainers' | 'containers' | 'ephemeralContainers';
  readonly where: string;
}

export function containers(objects: K8sObject[]): ContainerAt[] {
  const out: ContainerAt[] = [];
  for (const pod of podSpecs(objects))
    for (const field of ['initContainers', 'containers', 'ephemeralContainers'] as const)
      for (const c of arr(pod.spec[field])) out.push({ pod, c: obj(c), field, where: `${id(pod.owner)} ${field}[${str(obj(c).name) ?? '?'}]` });
  return out;
}

/** The image's repository name without registry, tag or digest: `redis` for docker.io/library/redis:7.2. */
export function imageName(image: unknown): string {
  const noDigest = (str(image) ?? '').split('@')[0] ?? '';
  const last = noDigest.split('/').pop() ?? '';
  return last.split(':')[0] ?? '';
}

/** Redis containers (server, init and wait containers) get the Redis checks; every other container the PKI ones. */
export const isRedisContainer = (c: Obj): boolean => imageName(c.image) === 'redis';

/** PKI_DATA_DIR of pki-config: pki.json, store/, keys/, secrets/, ra/. */
export const DATA_DIR = '/var/lib/pki';

/** A label selector (matchLabels only; matchExpressions never match here) against pod labels. */
export const matches = (selector: Obj, labels: Record<string, string>): boolean =>
  Object.entries(obj(selector.matchLabels)).every(([k, v]) => labels[k] === v) && arr(selector.matchExpressions).length === 0;

/*
 * The Redis Secrets, generated by the operator's own overlay from `pki redis-acl` (k8s/README.md):
 * a placeholder in the component could not be replaced from there.
 */
/** Redis's ACL file (key users.acl): the Redis pod only. */
export const REDIS_ACL_SECRET = 'redis-acl';
/** The password of `default` (PING only): the Redis pod's probes and the wait for Redis. */
export const REDIS_PROBE_SECRET = 'redis-auth';
/** Each Redis user's password (key password), by user (issue 15). */
export const REDIS_USER_SECRETS: Readonly<Record<string, string>> = { 'pki-ca': 'redis-auth-ca', 'pki-ra': 'redis-auth-ra', 'pki-ocsp': 'redis-auth-ocsp', 'pki-cli': 'redis-auth-cli' };
/** The pki CLI Jobs' (pki-init, the steps, the audit retention). */
export const REDIS_CLI_SECRET = 'redis-auth-cli';
export const REDIS_SECRETS: readonly string[] = [REDIS_ACL_SECRET, REDIS_PROBE_SECRET, ...Object.values(REDIS_USER_SECRETS)];
/** The secretGenerator entries of these Secrets in an overlay as k8s/README.md shows it (`pki redis-acl --password-dir redis-passwords --out users.acl`). */
export const REDIS_SECRET_GENERATORS = [
  '  - name: redis-acl',
  '    files: [users.acl]',
  '    options: {disableNameSuffixHash: true}',
  ...[['redis-auth', 'default'], ...Object.entries(REDIS_USER_SECRETS).map(([user, secret]) => [secret, user])].flatMap(([secret, user]) => [
    `  - name: ${secret}`,
    `    files: [password=redis-passwords/${user}]`,
    '    options: {disableNameSuffixHash: true}',
  ]),
];
/** The files those entries read, as pki redis-acl makes them (passwords of 64 hex digits). */
export const REDIS_SECRET_FILES: Record<string, string> = (() => {
  const password = (user: string) => createHash('sha256').update(`test password of ${user}`).digest('hex');
  const users = ['default', ...Object.keys(REDIS_USER_SECRETS)];
  return Object.fromEntries([
    ['users.acl', redisAclFile((user) => createHash('sha256').update(password(user)).digest('hex'))],
    ...users.map((user) => [`redis-passwords/${user}`, `${password(user)}\n`]),
  ]);
})();

export const isCliPod = (pod: PodSpecAt): boolean => pod.podLabels['app.kubernetes.io/component'] === 'pki-cli';

/** The pod spec of the workload kind/name. */
export function workload(objects: K8sObject[], kind: string, name: string): PodSpecAt {
  const pod = podSpecs(objects).find((p) => p.owner.kind === kind && p.owner.metadata.name === name);
  assert.ok(pod, `${kind}/${name} is missing from the rendered manifests`);
  return pod;
}

// ---------------------------------------------------------------------------------------------
// Which files a container sees: from its volume mounts (Secret, ConfigMap and projected items,
// service account tokens, downward API; a volume without items (PVC, emptyDir, Secret without
// items) provides any file under its mount).

export interface MountedFile {
  /** Absolute path in the container; with `any`, every path below it. */
  readonly path: string;
  /** e.g. `Secret/pki-manifest:pki.json`, `Secret/pki-ca-issuer-key`, `PersistentVolumeClaim/pki-data`. */
  readonly source: string;
  readonly any: boolean;
  readonly readOnly: boolean;
}

export interface VolumeFile {
  readonly rel: string;
  readonly source: string;
  readonly any: boolean;
}

export function volumeFiles(v: Obj): VolumeFile[] {
  const fromItems = (src: Obj, source: string, keyField: string): VolumeFile[] =>
    src.items === undefined
      ? [{ rel: '', source, any: true }]
      : arr(src.items).map((i) => ({ rel: str(obj(i).path) ?? '', source: `${source}:${String(obj(i)[keyField])}`, any: false }));
  if (v.secret) return fromItems(obj(v.secret), `Secret/${String(obj(v.secret).secretName)}`, 'key');
  if (v.configMap) return fromItems(obj(v.configMap), `ConfigMap/${String(obj(v.configMap).name)}`, 'key');
  if (v.downwardAPI) return fromItems(obj(v.downwardAPI), 'downwardAPI', 'path');
  if (v.projected)
    return arr(obj(v.projected).sources).flatMap((raw): VolumeFile[] => {
      const s = obj(raw);
      if (s.secret) return fromItems(obj(s.secret), `Secret/${String(obj(s.secret).name)}`, 'key');
      if (s.configMap) return fromItems(obj(s.configMap), `ConfigMap/${String(obj(s.configMap).name)}`, 'key');
      if (s.downwardAPI) return fromItems(obj(s.downwardAPI), 'downwardAPI', 'path');
      if (s.serviceAccountToken) return [{ rel: str(obj(s.serviceAccountToken).path) ?? '', source: 'serviceAccountToken', any: false }];
      return [];
    });
  if (v.persistentVolumeClaim) return [{ rel: '', source: `PersistentVolumeClaim/${String(obj(v.persistentVolumeClaim).claimName)}`, any: true }];
  if (v.emptyDir) return [{ rel: '', source: 'emptyDir', any: true }];
  return [{ rel: '', source: 'other', any: true }];
}

export function mountedFiles(pod: PodSpecAt, c: Obj): MountedFile[] {
  const volumes = new Map(arr(pod.spec.volumes).map((v) => [str(obj(v).name), obj(v)]));
  const out: MountedFile[] = [];
  for (const m of arr(c.volumeMounts).map(obj)) {
    const mountPath = (str(m.mountPath) ?? '').replace(/\/$/, '');
    const sub = str(m.subPath) ?? '';
    const readOnly = m.readOnly === true;
    for (const f of volumeFiles(volumes.get(str(m.name)) ?? {})) {
      let rel: string;
      if (!sub) rel = f.rel;
      else if (f.rel === sub) rel = '';
      else if (f.rel.startsWith(`${sub}/`)) rel = f.rel.slice(sub.length + 1);
      else if (f.any && (f.rel === '' || sub.startsWith(`${f.rel}/`))) rel = '';
      else continue;
      out.push({ path: rel ? `${mountPath}/${rel}` : mountPath, source: f.source, any: f.any, readOnly });
    }
  }
  return out;
}

export const provides = (files: MountedFile[], path: string): MountedFile | undefined =>
  files.find((f) => f.path === path || (f.any && path.startsWith(`${f.path}/`)));

// ---------------------------------------------------------------------------------------------
// Checks: each returns a list of problems ([] = fine), for the real base and for broken copies.

export interface ModelClass {
  readonly apiVersion?: string;
  readonly kind?: string;
  new (data: Obj): { validate(): void };
}

/** The kubernetes-models class for an apiVersion/kind, or undefined when it has none. */
export async function schemaClass(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  if (!/^([a-z0-9]([a-z0-9.-]*[a-z0-9])?\/)?v[0-9]+((alpha|beta)[0-9]+)?$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return undefined;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<string, unknown>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') return undefined;
    throw e;
  }
  const cls = mod[kind] as ModelClass | undefined;
  // Nested types (v1/Container) are exported too, but have no apiVersion/kind of their own.
  return cls && cls.apiVersion === apiVersion && cls.kind === kind ? cls : undefined;
}

export async function schemaProblems(objects: K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objects) {
    const cls = await schemaClass(o.apiVersion, o.kind);
    if (!cls) {
      problems.push(`${id(o)}: no Kubernetes schema for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    // The API server decodes Secret data ignoring line breaks; kustomize wraps long values.
    const unwrapped = o.kind === 'Secret' && isObj(o.data) ? { ...o, data: Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/\n/g, '') : v])) } : o;
    try {
      new cls(unwrapped).validate();
    } catch (e) {
      problems.push(`${id(o)}: ${(e as Error).message}`);
    }
  }
  return problems;
}

/** Names and values a container gets from env and envFrom (ConfigMaps and Secrets of the render). */
export function containerEnv(objects: K8sObject[], { c, where }: ContainerAt, problems: string[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const from of arr(c.envFrom)) {
    const f = obj(from);
    const ref = f.configMapRef ? obj(f.configMapRef) : f.secretRef ? obj(f.secretRef) : undefined;
    const kind = f.configMapRef ? 'ConfigMap' : 'Secret';
    const src = objects.find((o) => o.kind === kind && o.metadata.name === str(ref?.name));
    if (!src) {
      problems.push(`${where}: envFrom ${kind} ${String(ref?.name)} is not in the manifests, its keys cannot be checked`);
      continue;
    }
    const decode = (v: unknown) => (kind === 'Secret' ? Buffer.from(str(v) ?? '', 'base64').toString('utf8') : String(v));
    for (const [k, v] of Object.entries(obj(src.data))) env.set((str(f.prefix) ?? '') + k, decode(v));
    for (const [k, v] of Object.entries(obj(src.stringData))) env.set((str(f.prefix) ?? '') + k, String(v));
  }
  for (const e of arr(c.env)) {
    const name = str(obj(e).name) ?? '';
    // valueFrom values are not known here: a placeholder that the loaders parse as a string.
    env.set(name, str(obj(e).value) ?? (obj(e).valueFrom ? '(from valueFrom)' : ''));
  }
  return env;
}

export function envProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const at of containers(objects)) {
    if (isRedisContainer(at.c)) continue; // redisContainerProblems: no environment at all
    const env = containerEnv(objects, at, problems);
    for (const name of env.keys()) if (!KNOWN_ENV.has(name)) problems.push(`${at.where}: env ${name} is not in KNOWN_ENV`);
    // $(VAR) in command/args is expanded by Kubernetes only for variables the container defines;
    // otherwise the literal text `$(VAR)` is passed on.
    for (const a of [...arr(at.c.command), ...arr(at.c.args)])
      for (const m of String(a).matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g))
        if (!env.has(m[1] ?? '')) problems.push(`${at.where}: $(${m[1] ?? ''}) in command/args is not a variable of the container`);
  }
  return problems;
}

/**
 * Runs each service's own config loader (and the store config loader) over the environment its
 * container gets. Files named by *_FILE variables are mounted Secrets, absent here: they are
 * replaced by a placeholder file (mountedFileProblems checks that the container has them).
 */
export function configLoaderProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'evpki-k8s-files-'));
  try {
    const placeholder = join(dir, 'placeholder');
    writeFileSync(placeholder, 'placeholder-secret-0123456789abcdef\n');
    configLoaderProblemsWith(objects, placeholder, problems);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return problems;
}

export function configLoaderProblemsWith(objects: K8sObject[], placeholderFile: string, problems: string[]): void {
  const loaders: Record<string, (env: NodeJS.ProcessEnv) => unknown> = {
    'services/ra/dist/main.js': loadRaConfig,
    'services/ca/dist/main.js': loadCaConfig,
    'services/ocsp/dist/main.js': loadOcspConfig,
    'services/cli/bin/pki.js': checkUnknownEnv,
  };
  for (const at of containers(objects)) {
    if (isRedisContainer(at.c)) continue;
    const argv = [...arr(at.c.command), ...arr(at.c.args)].map(String);
    const entry = argv.find((a) => a in loaders);
    if (!entry) {
      problems.push(`${at.where}: runs none of ${Object.keys(loaders).join(', ')} (${argv.join(' ')})`);
      continue;
    }
    const env = Object.fromEntries(
      [...containerEnv(objects, at, problems)].map(([k, v]) => [k, k.endsWith('_FILE') && v ? placeholderFile : v]),
    );
    try {
      loaders[entry]?.(env);
      loadStoreConfig(env);
    } catch (e) {
      problems.push(`${at.where}: ${(e as Error).message}`);
    }
  }
}

export function probeProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const expected: Record<string, readonly string[]> = { readinessProbe: ['/readyz'], livenessProbe: ['/healthz'], startupProbe: ['/healthz', '/readyz'] };
  for (const { pod, c, field: containerField, where } of containers(objects)) {
    if (isRedisContainer(c)) continue; // redisContainerProblems
    const ports = arr(c.ports).map(obj);
    const longRunning = pod.owner.kind !== 'Job' && pod.owner.kind !== 'CronJob' && containerField === 'containers';
    for (const [field, paths] of Object.entries(expected)) {
      const probe = c[field];
      if (probe === undefined) {
        if (longRunning && field !== 'startupProbe') problems.push(`${where}: no ${field}`);
        continue;
      }
      const http = obj(obj(probe).httpGet);
      const path = str(http.path);
      if (!path) problems.push(`${where}: ${field} is not an httpGet probe with a path`);
      else if (!paths.includes(path)) problems.push(`${where}: ${field} path ${path} (expected ${paths.join(' or ')})`);
      const port = http.port;
      if (!ports.some((p) => p.name === port || p.containerPort === port)) problems.push(`${where}: ${field} port ${String(port)} is not a container port`);
    }
  }
  return problems;
}

export function resourceProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const { c, where } of containers(objects))
    for (const kind of ['requests', 'limits'])
      for (const r of ['cpu', 'memory'])
        if (obj(obj(c.resources)[kind])[r] === undefined) problems.push(`${where}: no resources.${kind}.${r}`);
  return problems;
}

export function securityProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const pod of podSpecs(objects)) {
    const where = id(pod.owner);
    if (pod.spec.automountServiceAccountToken !== false) problems.push(`${where}: automountServiceAccountToken is not false`);
    // Service links inject CA_SERVICE_HOST, RA_PORT=tcp://…: variables the services reject.
    if (pod.spec.enableServiceLinks !== false) problems.push(`${where}: enableServiceLinks is not false`);
    for (const f of ['hostNetwork', 'hostPID', 'hostIPC']) if (pod.spec[f] === true) problems.push(`${where}: ${f}`);
    for (const v of arr(pod.spec.volumes)) if (obj(v).hostPath) problems.push(`${where}: hostPath volume ${String(obj(v).name)}`);
    const psc = obj(pod.spec.securityContext);
    if (psc.runAsUser === 0 || psc.runAsGroup === 0) problems.push(`${where}: pod runs as root`);
  }
  for (const { pod, c, where } of containers(objects)) {
    const sc = obj(c.securityContext);
    const psc = obj(pod.spec.securityContext);
    const runAsNonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
    const runAsUser = sc.runAsUser ?? psc.runAsUser;
    const seccomp = str(obj(sc.seccompProfile ?? psc.seccompProfile).type);
    if (runAsNonRoot !== true) problems.push(`${where}: runAsNonRoot is not true`);
    if (typeof runAsUser !== 'number' || runAsUser === 0) problems.push(`${where}: runAsUser is not a non-zero UID`);
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem is not true`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
    if (sc.privileged === true) problems.push(`${where}: privileged`);
    const caps = obj(sc.capabilities);
    if (!arr(caps.drop).includes('ALL')) problems.push(`${where}: capabilities do not drop ALL`);
    if (arr(caps.add).length) problems.push(`${where}: capabilities added: ${arr(caps.add).join(', ')}`);
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') problems.push(`${where}: seccompProfile is ${String(seccomp)}, not RuntimeDefault`);
  }
  return problems;
}

export const PEM_PRIVATE_KEY = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;

/** No PEM private key anywhere: Secret data (decoded), stringData, or any other string. */
export function secretProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    if (PEM_PRIVATE_KEY.test(JSON.stringify(o))) problems.push(`${id(o)}: contains a PEM private key`);
    if (o.kind === 'Secret')
      for (const [k, v] of Object.entries(obj(o.data)))
        if (PEM_PRIVATE_KEY.test(Buffer.from(str(v) ?? '', 'base64').toString('latin1'))) problems.push(`${id(o)}: data.${k} is a PEM private key`);
  }
  return problems;
}

/** Every *_FILE variable of a PKI container names a file one of its volume mounts provides. */
export function mountedFileProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const at of containers(objects)) {
    if (isRedisContainer(at.c)) continue;
    const files = mountedFiles(at.pod, at.c);
    for (const [name, value] of containerEnv(objects, at, problems))
      if (name.endsWith('_FILE') && value && !provides(files, value)) problems.push(`${at.where}: ${name}=${value} is in none of its volume mounts`);
  }
  return problems;
}

/**
 * Redis containers: no environment (the password is read from the mounted Secret by the shell,
 * never from env), no password on a command line, exec probes with redis-cli on the server.
 */
export function redisContainerProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const passwordArg = /(^|\s)(--requirepass|--masterauth|-a|--pass|--user)(\s|=|$)|requirepass\s+\S|\bAUTH\s+\S/;
  for (const { pod, c, field, where } of containers(objects)) {
    if (!isRedisContainer(c)) continue;
    if (arr(c.env).length || arr(c.envFrom).length) problems.push(`${where}: a Redis container has env/envFrom (the password must come from the mounted Secret file)`);
    const commands = [c.command, c.args, ...['startupProbe', 'readinessProbe', 'livenessProbe'].map((p) => obj(obj(c[p]).exec).command)];
    for (const a of commands.flatMap(arr).map(String)) {
      // The shell scripts may contain `requirepass %s` (printf to a file): only a literal value after it is a leak.
      const literal = a.replace(/requirepass %s/g, '');
      if (passwordArg.test(literal)) problems.push(`${where}: a password option on the command line: ${a.slice(0, 80)}`);
    }
    const longRunning = pod.owner.kind !== 'Job' && pod.owner.kind !== 'CronJob' && field === 'containers';
    if (!longRunning) continue;
    for (const p of ['readinessProbe', 'livenessProbe']) {
      const cmd = arr(obj(obj(c[p]).exec).command).map(String).join(' ');
      if (!/redis-cli .*ping/.test(cmd)) problems.push(`${where}: ${p} is not an exec probe running redis-cli ping`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The pki CLI steps (k8s/rotation/): suspended CronJob templates an operator runs as Jobs

/** Each step template's CronJob → the `pki` subcommand it runs (k8s/README.md, "Operator runbook"). */
export const STEPS: Record<string, readonly string[]> = {
  'pki-status': ['status'],
  'pki-rotate-root-prepare': ['rotate-root', 'prepare'],
  'pki-rotate-root-publish': ['rotate-root', 'publish'],
  'pki-rotate-root-activate': ['rotate-root', 'activate'],
  'pki-rotate-root-retire': ['rotate-root', 'retire'],
  'pki-rotate-issuer-prepare': ['rotate-issuer', 'prepare'],
  'pki-rotate-issuer-publish': ['rotate-issuer', 'publish'],
  'pki-rotate-issuer-activate': ['rotate-issuer', 'activate'],
  'pki-rotate-issuer-retire': ['rotate-issuer', 'retire'],
  'pki-service-certs-renew': ['service-certs', 'renew'],
};
/** The overlay patch k8s/README.md shows for passing options to a step (kustomization lines). */
export const RUNBOOK_STEP_OPTIONS = [
  'patches:',
  '  - target: {kind: CronJob, name: pki-rotate-root-prepare}',
  '    patch: |-',
  '      - {op: add, path: /spec/jobTemplate/spec/template/spec/containers/0/args/-, value: --algorithm}',
  '      - {op: add, path: /spec/jobTemplate/spec/template/spec/containers/0/args/-, value: ecdsa-p384}',
];
/** The steps that make a new issuing CA key, which the CA must get. */
export const PREPARE_STEPS: readonly string[] = ['pki-rotate-root-prepare', 'pki-rotate-issuer-prepare'];
/** The pki CLI CronJob that runs by itself, daily: the audit log's retention (issue 14.5). */
export const RETAIN = 'pki-audit-retain';
/** Where it writes its exports: the PVC pki-audit-export. */
export const AUDIT_EXPORT_DIR = '/var/lib/pki-audit';
export const PKI_CLI = ['node', 'services/cli/bin/pki.js'];
/** Where `pki --k8s-secret` reads its API credentials (services/cli/src/k8s-secret.ts). */
export const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The Secret the CA reads its keys/ directory from (Redis overlay); undefined when it reads them from pki-data (base). */
export function caKeySecret(objects: K8sObject[]): string | undefined {
  const ca = workload(objects, 'Deployment', 'ca');
  const src = provides(mountedFiles(ca, obj(arr(ca.spec.containers)[0])), `${DATA_DIR}/keys/issuer.key.pem`)?.source ?? '';
  return src.startsWith('Secret/') ? src.slice('Secret/'.length).split(':')[0] : undefined;
}

/** Names of the Secrets a pod's volumes refer to (secret volumes and projected sources). */
export function secretsOf(pod: PodSpecAt): string[] {
  return arr(pod.spec.volumes).flatMap((raw) => {
    const v = obj(raw);
    const direct = str(obj(v.secret).secretName);
    const projected = arr(obj(v.projected).sources).flatMap((src) => (obj(src).secret ? [String(obj(obj(src).secret).name)] : []));
    return [...(direct ? [direct] : []), ...projected];
  });
}

/** The projected service account token sources of a pod. */
export const tokenSources = (pod: PodSpecAt): Obj[] =>
  arr(pod.spec.volumes).flatMap((v) => arr(obj(obj(v).projected).sources).map(obj).filter((src) => src.serviceAccountToken).map((src) => obj(src.serviceAccountToken)));

export const admitsFrom = (rule: unknown, labels: Record<string, string>): boolean =>
  arr(obj(rule).from).some((f) => !obj(f).namespaceSelector && isObj(obj(f).podSelector) && matches(obj(obj(f).podSelector), labels));
/** Whether a NetworkPolicy rule admits pods with these labels from this namespace. */
export const admits = (np: K8sObject, labels: Record<string, string>): boolean => arr(obj(np.spec).ingress).some((rule) => admitsFrom(rule, labels));
/** The ports the rules admitting these pods open. */
export const admittedPorts = (np: K8sObject, labels: Record<string, string>): unknown[] =>
  arr(obj(np.spec).ingress)
    .filter((rule) => admitsFrom(rule, labels))
    .flatMap((rule) => arr(obj(rule).ports).map((p) => obj(p).port));
/** The CA's API (mutual TLS) and ops (plain HTTP: /healthz, /readyz, /metrics) ports. */
export const CA_API_PORT = 8081;
export const CA_OPS_PORT = 8083;

/**
 * The step templates: suspended CronJobs that never come due, labelled pki-cli (so the CA's
 * NetworkPolicy admits them), one attempt (or none after exit 2), a deadline and a TTL; `pki` with
 * the step's subcommand; the pki-data volume read-write and the key passphrase, never a CA key
 * Secret; PKI_CA_URL naming the CA's Service. Where the CA reads its keys from a Secret (Redis), the
 * two prepare steps write the new issuing key into it (--k8s-secret) with a projected API token of
 * a service account that may only get and patch that one Secret; no other pod has that account,
 * and no other step any.
 */
export function stepProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const keySecret = caKeySecret(objects);
  const caService = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'ca');
  const caPolicies = objects.filter((o) => o.kind === 'NetworkPolicy' && matches(obj(obj(o.spec).podSelector), workload(objects, 'Deployment', 'ca').podLabels));
  if (!caPolicies.length) problems.push('no NetworkPolicy selects the CA pods');
  for (const name of Object.keys(STEPS)) if (!objects.some((o) => o.kind === 'CronJob' && o.metadata.name === name)) problems.push(`CronJob/${name} is missing`);
  const writers = new Set<string>();
  for (const pod of podSpecs(objects)) {
    const where = id(pod.owner);
    const name = pod.owner.metadata.name;
    const sub = pod.owner.kind === 'CronJob' ? STEPS[name] : undefined;
    if (!sub) {
      if (pod.owner.kind === 'CronJob' && isCliPod(pod) && name !== RETAIN) problems.push(`${where}: a pki-cli CronJob that is no step of STEPS`);
      continue;
    }
    const spec = obj(pod.owner.spec);
    if (spec.suspend !== true) problems.push(`${where}: not suspended (a step runs only when an operator starts it)`);
    if (!/^\S+ \S+ 3[01] 2 \S+$/.test(str(spec.schedule) ?? '')) problems.push(`${where}: schedule ${String(spec.schedule)} can come due (use 31 February)`);
    const jobTemplate = obj(spec.jobTemplate);
    const labelled: [string, unknown][] = [
      ['CronJob', pod.owner.metadata.labels],
      ['jobTemplate', obj(jobTemplate.metadata).labels],
      ['pod template', pod.podLabels],
    ];
    for (const [what, labels] of labelled) if (obj(labels)['app.kubernetes.io/component'] !== 'pki-cli') problems.push(`${where}: ${what} not labelled app.kubernetes.io/component=pki-cli`);
    const job = obj(jobTemplate.spec);
    const failJobOn2 = arr(obj(job.podFailurePolicy).rules)
      .map(obj)
      .some((r) => r.action === 'FailJob' && obj(r.onExitCodes).operator === 'In' && arr(obj(r.onExitCodes).values).includes(2));
    if (job.backoffLimit !== 0 && !failJobOn2) problems.push(`${where}: retries after exit 2 (bad input or out of order): backoffLimit 0, or a podFailurePolicy FailJob on 2`);
    if (!(Number(job.activeDeadlineSeconds) > 0)) problems.push(`${where}: no activeDeadlineSeconds`);
    if (!(Number(job.ttlSecondsAfterFinished) > 0)) problems.push(`${where}: no ttlSecondsAfterFinished`);
    if (!caPolicies.every((np) => admits(np, pod.podLabels))) problems.push(`${where}: the CA's NetworkPolicy does not admit it`);
    else if (!caPolicies.every((np) => admittedPorts(np, pod.podLabels).includes(CA_OPS_PORT))) problems.push(`${where}: the CA's NetworkPolicy does not admit it to the ops port ${CA_OPS_PORT}`);

    const cs = arr(pod.spec.containers).map(obj);
    if (cs.length !== 1) problems.push(`${where}: ${cs.length} containers, expected one`);
    const c = cs[0] ?? {};
    const at: ContainerAt = { pod, c, field: 'containers', where: `${where} containers[${str(c.name) ?? '?'}]` };
    const argv = [...arr(c.command), ...arr(c.args)].map(String);
    const expected = [...PKI_CLI, ...sub];
    if (JSON.stringify(argv.slice(0, expected.length)) !== JSON.stringify(expected)) problems.push(`${where}: runs ${argv.join(' ')}, expected ${expected.join(' ')}`);
    const args = argv.slice(expected.length);
    const flag = args.indexOf('--k8s-secret');
    const k8sSecret = flag >= 0 ? args[flag + 1] : args.find((a) => a.startsWith('--k8s-secret='))?.slice('--k8s-secret='.length);
    const writesKey = PREPARE_STEPS.includes(name) ? keySecret : undefined;
    if (k8sSecret !== writesKey)
      problems.push(
        writesKey
          ? `${where}: does not write the new issuing key into the CA's key Secret (--k8s-secret ${writesKey}; ${k8sSecret === undefined ? 'none' : `--k8s-secret ${k8sSecret}`})`
          : `${where}: --k8s-secret ${String(k8sSecret)}, but the CA reads no key from it`,
      );

    const env = containerEnv(objects, at, problems);
    const caUrl = env.get('PKI_CA_URL') ?? '';
    let url: URL | undefined;
    try {
      url = new URL(caUrl);
    } catch {
      url = undefined;
    }
    // `activate` asks /readyz, which the CA serves on its plain-HTTP ops port only.
    const opsPort = obj(arr(obj(caService?.spec).ports).find((p) => obj(p).name === 'ops')).port;
    if (!url || url.protocol !== 'http:' || url.hostname !== 'ca' || Number(url.port || 80) !== opsPort) problems.push(`${at.where}: PKI_CA_URL "${caUrl}" is not the CA's Service ops port (http://ca:${String(opsPort)})`);
    const files = mountedFiles(pod, c);
    const data = provides(files, `${DATA_DIR}/pki.json`);
    if (data?.source !== 'PersistentVolumeClaim/pki-data' || data.readOnly) problems.push(`${at.where}: ${DATA_DIR} is not the pki-data volume, read-write (${data?.source ?? 'not mounted'})`);
    const passphrase = env.get('PKI_KEY_PASSPHRASE_FILE');
    if (!passphrase || provides(files, passphrase)?.source !== 'Secret/pki-secrets:key-passphrase') problems.push(`${at.where}: no key passphrase (PKI_KEY_PASSPHRASE_FILE from Secret pki-secrets)`);
    for (const secret of secretsOf(pod))
      if (secret !== 'pki-secrets' && secret !== REDIS_CLI_SECRET) problems.push(`${where}: mounts Secret ${secret} (a step gets the passphrase and the pki CLI's Redis password only; keys come from pki-data)`);

    const sa = str(pod.spec.serviceAccountName);
    const tokens = tokenSources(pod);
    if (writesKey) {
      if (!sa) problems.push(`${where}: no serviceAccountName, but it writes Secret ${writesKey}`);
      else writers.add(sa);
      const apiFiles: [string, string][] = [['token', 'serviceAccountToken'], ['ca.crt', 'ConfigMap/kube-root-ca.crt:ca.crt'], ['namespace', 'downwardAPI:namespace']];
      for (const [file, source] of apiFiles) if (provides(files, `${SA_DIR}/${file}`)?.source !== source) problems.push(`${at.where}: ${SA_DIR}/${file} is not from ${source}`);
      for (const t of tokens) if (t.audience !== undefined) problems.push(`${where}: a token for audience ${JSON.stringify(t.audience)}, not the Kubernetes API`);
    } else {
      if (sa) problems.push(`${where}: serviceAccountName ${sa}, but it writes no Secret`);
      if (tokens.length) problems.push(`${where}: a projected service account token, but it writes no Secret`);
    }
  }
  for (const sa of writers) problems.push(...keyWriterProblems(objects, sa, keySecret ?? ''));
  return problems;
}

/** The service account of the prepare steps: used by them alone, allowed get and patch of the CA's key Secret and nothing else. */
export function keyWriterProblems(objects: K8sObject[], sa: string, secret: string): string[] {
  const problems: string[] = [];
  const account = objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === sa);
  if (!account) problems.push(`ServiceAccount/${sa} is missing`);
  else if (account.automountServiceAccountToken !== false) problems.push(`ServiceAccount/${sa}: automountServiceAccountToken is not false`);
  for (const pod of podSpecs(objects))
    if (str(pod.spec.serviceAccountName) === sa && !(pod.owner.kind === 'CronJob' && PREPARE_STEPS.includes(pod.owner.metadata.name))) problems.push(`${id(pod.owner)}: runs as ${sa}, the CA key writer`);
  const bindings = objects.filter(
    (o) => (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') && arr(o.subjects).some((x) => obj(x).kind === 'ServiceAccount' && obj(x).name === sa),
  );
  if (!bindings.length) problems.push(`ServiceAccount/${sa}: no RoleBinding`);
  const rules: unknown[] = [];
  for (const b of bindings) {
    const ref = obj(b.roleRef);
    if (b.kind !== 'RoleBinding' || ref.kind !== 'Role') {
      problems.push(`${id(b)}: binds ${sa} to ${String(ref.kind)}/${String(ref.name)}, not to a Role of this namespace`);
      continue;
    }
    const role = objects.find((o) => o.kind === 'Role' && o.metadata.name === ref.name);
    if (!role) problems.push(`${id(b)}: Role ${String(ref.name)} is missing`);
    else rules.push(...arr(role.rules));
  }
  const only = [{ apiGroups: [''], resources: ['secrets'], resourceNames: [secret], verbs: ['get', 'patch'] }];
  if (!isDeepStrictEqual(rules, only)) problems.push(`ServiceAccount/${sa} may ${JSON.stringify(rules)}; expected only ${JSON.stringify(only)}`);
  return problems;
}

/** RBAC: Roles of this namespace only, each rule on named objects, no wildcards, no create/delete/list/watch. */
export function rbacProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    if (o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding') problems.push(`${id(o)}: cluster-wide RBAC`);
    if (o.kind !== 'Role') continue;
    for (const r of arr(o.rules).map(obj)) {
      const all = [...arr(r.apiGroups), ...arr(r.resources), ...arr(r.verbs), ...arr(r.resourceNames)].map(String);
      if (all.includes('*')) problems.push(`${id(o)}: a wildcard in ${JSON.stringify(r)}`);
      if (!arr(r.resourceNames).length) problems.push(`${id(o)}: a rule without resourceNames (every object of its kind): ${JSON.stringify(r)}`);
      for (const v of arr(r.verbs).map(String)) if (!['get', 'update', 'patch'].includes(v)) problems.push(`${id(o)}: verb ${v}`);
    }
  }
  return problems;
}

/**
 * The audit log retention: the CronJob pki-audit-retain runs by itself (not suspended, daily, one
 * run at a time), labelled pki-cli (the Redis NetworkPolicy admits it), `pki audit retain` with a
 * retention of at least a year (--keep or PKI_AUDIT_RETENTION) into a directory on the PVC
 * pki-audit-export, read-write; the store (pki-data) read-write; no passphrase or key, no
 * service account; retried, but not after exit 2; a deadline and a TTL.
 */
export function retainProblems(objects: K8sObject[]): string[] {
  const cron = objects.find((o) => o.kind === 'CronJob' && o.metadata.name === RETAIN);
  if (!cron) return [`CronJob/${RETAIN} is missing (the audit log's retention)`];
  const problems: string[] = [];
  const where = id(cron);
  const spec = obj(cron.spec);
  if (spec.suspend === true) problems.push(`${where}: suspended (the retention is a setting: it runs by itself)`);
  const schedule = (str(spec.schedule) ?? '').trim().split(/\s+/);
  if (schedule.length !== 5 || !/^\d+$/.test(schedule[0] ?? '') || !/^\d+$/.test(schedule[1] ?? '') || schedule.slice(2).some((f) => f !== '*')) problems.push(`${where}: schedule ${String(spec.schedule)} is not once a day`);
  if (spec.concurrencyPolicy !== 'Forbid') problems.push(`${where}: concurrencyPolicy ${String(spec.concurrencyPolicy)}, not Forbid`);
  const jobTemplate = obj(spec.jobTemplate);
  const pod = podSpecs(objects).find((p) => p.owner === cron);
  if (!pod) return [...problems, `${where}: no pod template`];
  const labelled: [string, unknown][] = [
    ['CronJob', cron.metadata.labels],
    ['jobTemplate', obj(jobTemplate.metadata).labels],
    ['pod template', pod.podLabels],
  ];
  for (const [what, labels] of labelled) if (obj(labels)['app.kubernetes.io/component'] !== 'pki-cli') problems.push(`${where}: ${what} not labelled app.kubernetes.io/component=pki-cli`);
  const job = obj(jobTemplate.spec);
  const failJobOn2 = arr(obj(job.podFailurePolicy).rules)
    .map(obj)
    .some((r) => r.action === 'FailJob' && obj(r.onExitCodes).operator === 'In' && arr(obj(r.onExitCodes).values).includes(2));
  if (job.backoffLimit !== 0 && !failJobOn2) problems.push(`${where}: retries after exit 2 (bad options): backoffLimit 0, or a podFailurePolicy FailJob on 2`);
  if (!(Number(job.activeDeadlineSeconds) > 0)) problems.push(`${where}: no activeDeadlineSeconds`);
  if (!(Number(job.ttlSecondsAfterFinished) > 0)) problems.push(`${where}: no ttlSecondsAfterFinished`);

  const c = obj(arr(pod.spec.containers)[0]);
  const at: ContainerAt = { pod, c, field: 'containers', where: `${where} containers[${str(c.name) ?? '?'}]` };
  const argv = [...arr(c.command), ...arr(c.args)].map(String);
  const expected = [...PKI_CLI, 'audit', 'retain'];
  if (JSON.stringify(argv.slice(0, expected.length)) !== JSON.stringify(expected)) problems.push(`${where}: runs ${argv.join(' ')}, expected ${expected.join(' ')}`);
  const option = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
  };
  if (argv.includes('--dry-run')) problems.push(`${where}: --dry-run (retains nothing)`);
  const env = containerEnv(objects, at, problems);
  const keep = option('--keep') ?? env.get('PKI_AUDIT_RETENTION');
  let ms = 0;
  try {
    ms = parseRetention(keep ?? '');
  } catch (e) {
    problems.push(`${where}: the retention ${JSON.stringify(keep)} (--keep or PKI_AUDIT_RETENTION): ${(e as Error).message}`);
  }
  if (ms && ms < 365 * 86_400_000) problems.push(`${where}: the retention ${String(keep)} is under a year`);
  const files = mountedFiles(pod, c);
  const dir = option('--export-dir');
  const exportTo = dir ? provides(files, `${dir}/audit-1-1.jsonl`) : undefined;
  if (exportTo?.source !== 'PersistentVolumeClaim/pki-audit-export' || exportTo.readOnly) problems.push(`${at.where}: --export-dir ${String(dir)} is not on the PVC pki-audit-export, read-write (${exportTo?.source ?? 'not mounted'})`);
  if (!objects.some((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === 'pki-audit-export')) problems.push('PersistentVolumeClaim/pki-audit-export is missing');
  const data = provides(files, `${DATA_DIR}/pki.json`);
  if (data?.source !== 'PersistentVolumeClaim/pki-data' || data.readOnly) problems.push(`${at.where}: ${DATA_DIR} is not the pki-data volume, read-write (${data?.source ?? 'not mounted'})`);
  for (const secret of secretsOf(pod)) if (secret !== REDIS_CLI_SECRET) problems.push(`${where}: mounts Secret ${secret} (it needs the store only)`);
  if (str(pod.spec.serviceAccountName) || tokenSources(pod).length) problems.push(`${where}: a service account or token (it needs the store only)`);
  return problems;
}

export const CHECKS: Record<string, (objects: K8sObject[]) => string[]> = {
  env: envProblems,
  'config loaders': configLoaderProblems,
  probes: probeProblems,
  resources: resourceProblems,
  security: securityProblems,
  secrets: secretProblems,
  'mounted files': mountedFileProblems,
  'redis containers': redisContainerProblems,
  'rotation steps': stepProblems,
  'audit retention': retainProblems,
  RBAC: rbacProblems,
};

export async function allProblems(objects: K8sObject[]): Promise<string[]> {
  return [...(await schemaProblems(objects)), ...Object.values(CHECKS).flatMap((check) => check(objects))];
}

// ---------------------------------------------------------------------------------------------
// Shared by the tests: finding objects in a render, asserting on problems

/** Every object in the ev-pki namespace and labelled part-of ev-pki, pod templates included. */
export function assertNamespacedAndLabelled(objects: K8sObject[]): void {
  for (const o of objects) {
    if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'ev-pki', `${id(o)} namespace`);
    assert.equal(o.metadata.labels?.['app.kubernetes.io/part-of'], 'ev-pki', `${id(o)} part-of label`);
  }
  for (const pod of podSpecs(objects)) assert.equal(pod.podLabels['app.kubernetes.io/part-of'], 'ev-pki', `${id(pod.owner)} pod template part-of label`);
}

/** The pod spec of a step's CronJob, as the Job made from it gets it. */
export const stepPod = (objects: K8sObject[], name: string): Obj => obj(obj(obj(obj(find(objects, 'CronJob', name).spec).jobTemplate).spec).template);
export const stepContainer = (objects: K8sObject[], name: string): Obj => obj(arr(obj(stepPod(objects, name).spec).containers)[0]);

export function deployment(objects: K8sObject[], name: string): { spec: Obj; pod: Obj; container: Obj } {
  const d = find(objects, 'Deployment', name);
  const spec = obj(d.spec);
  const pod = obj(obj(spec.template).spec);
  return { spec, pod, container: obj(arr(pod.containers)[0]) };
}

export function rejects(problems: string[], pattern: RegExp): void {
  assert.ok(problems.length > 0, 'a broken manifest passed the check');
  assert.ok(
    problems.some((p) => pattern.test(p)),
    `no problem matches ${String(pattern)}: ${problems.join('; ')}`,
  );
}

// ---------------------------------------------------------------------------------------------
// The Redis overlay (k8s/overlays/redis, a kustomize Component over the base)

/** The Secrets the operator creates from the `pki init` output (k8s/README.md): not in the render. */
export const INIT_SECRETS = ['pki-manifest', 'pki-ca-tls', 'pki-ra-tls', 'pki-ocsp-tls', 'pki-ra-jwt', 'pki-ca-issuer-key'];
/** What each service reads from its data dir (`*` = every key of one Secret, for keys/<issuerId>.key.pem). */
export const DATA_DIR_FILES: Record<string, readonly string[]> = {
  ra: ['pki.json', 'ra/jwt-public.jwk.json', 'secrets/ra-client.key.pem', 'secrets/ra-client.pem', 'secrets/service-ca.pem'],
  ocsp: ['pki.json', 'secrets/ocsp-client.key.pem', 'secrets/ocsp-client.pem', 'secrets/service-ca.pem'],
  ca: ['keys/*', 'pki.json', 'secrets/ca-server.key.pem', 'secrets/ca-server.pem', 'secrets/service-ca.pem'],
};
/** The one key file a service other than the CA may hold: its own TLS client key (mutual TLS to the CA). */
export const OWN_TLS_KEY: Record<string, string> = { 'Deployment/ra': 'secrets/ra-client.key.pem', 'Deployment/ocsp': 'secrets/ocsp-client.key.pem' };

/** The Redis server pods: StatefulSets whose main container is a Redis image. */
export const redisServers = (objects: K8sObject[]): PodSpecAt[] =>
  podSpecs(objects).filter((p) => p.owner.kind === 'StatefulSet' && arr(p.spec.containers).some((c) => isRedisContainer(obj(c))));

/** `redis.conf` → directives in order (lower-cased names, comments and blank lines dropped). */
export function parseRedisConf(text: string): [string, string][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\S+)\s*(.*)$/.exec(l);
      return [(m?.[1] ?? '').toLowerCase(), (m?.[2] ?? '').trim()];
    });
}

/** The redis.conf of the Redis server container: durable AOF, never evicting, its users from the ACL file Secret, no password in it. */
export function redisConfigProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const servers = redisServers(objects);
  if (servers.length !== 1) return [`expected one Redis StatefulSet, found ${servers.length}`];
  const pod = servers[0]!;
  const where = id(pod.owner);
  if (obj(pod.owner.spec).replicas !== 1) problems.push(`${where}: replicas is not 1 (one primary; see README for replicas)`);
  const c = obj(arr(pod.spec.containers).find((x) => isRedisContainer(obj(x))));
  const psc = obj(pod.spec.securityContext);
  if ((obj(c.securityContext).runAsUser ?? psc.runAsUser) !== 999) problems.push(`${where}: Redis does not run as uid 999`);
  const argv = [...arr(c.command), ...arr(c.args)].map(String);
  if (argv[0] !== 'redis-server') problems.push(`${where}: command is not redis-server (${argv.join(' ')})`);
  const confPath = argv.find((a) => a.endsWith('.conf'));
  const files = mountedFiles(pod, c);
  const confFile = confPath ? provides(files, confPath) : undefined;
  const cmRef = /^ConfigMap\/([^:]+):(.+)$/.exec(confFile?.source ?? '');
  const cm = cmRef ? objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cmRef[1]) : undefined;
  const text = cm ? str(obj(cm.data)[cmRef?.[2] ?? '']) : undefined;
  if (text === undefined) return [...problems, `${where}: redis-server is not started with a redis.conf from a ConfigMap of the render (${argv.join(' ')})`];
  const directives = parseRedisConf(text);
  const value = (name: string): string | undefined => directives.filter(([k]) => k === name).pop()?.[1];
  const expect: Record<string, string> = {
    appendonly: 'yes',
    appendfsync: 'always',
    'aof-use-rdb-preamble': 'yes',
    'protected-mode': 'yes',
  };
  for (const [k, v] of Object.entries(expect)) if (value(k) !== v) problems.push(`${where}: redis.conf ${k} is ${String(value(k))}, not ${v}`);
  if (value('no-appendfsync-on-rewrite') === 'yes') problems.push(`${where}: redis.conf no-appendfsync-on-rewrite yes skips fsync during rewrites`);
  if ((value('maxmemory-policy') ?? 'noeviction') !== 'noeviction') problems.push(`${where}: redis.conf maxmemory-policy ${String(value('maxmemory-policy'))} evicts data`);
  for (const secret of ['requirepass', 'masterauth', 'user']) if (value(secret) !== undefined) problems.push(`${where}: redis.conf (a ConfigMap) sets ${secret}`);
  const dir = value('dir') ?? '';
  const templates = arr(obj(pod.owner.spec).volumeClaimTemplates).map((t) => str(obj(obj(t).metadata).name));
  const dataMount = arr(c.volumeMounts).map(obj).find((m) => m.mountPath === dir);
  if (!dataMount || !templates.includes(str(dataMount.name))) problems.push(`${where}: redis.conf dir ${dir} is not a volumeClaimTemplate mount`);
  const aclfile = value('aclfile');
  const aclSource = aclfile ? provides(files, aclfile)?.source : undefined;
  if (!aclfile) problems.push(`${where}: redis.conf has no aclfile (the users of pki redis-acl, issue 15)`);
  else if (aclSource !== `Secret/${REDIS_ACL_SECRET}:users.acl`) problems.push(`${where}: redis.conf aclfile ${aclfile} is ${aclSource ?? 'in no volume mount'}, not Secret/${REDIS_ACL_SECRET}:users.acl`);
  const includes = directives.map(([k, v], i) => ({ k, v, i })).filter((d) => d.k === 'include');
  for (const inc of includes) {
    if (!provides(files, inc.v)) problems.push(`${where}: redis.conf includes ${inc.v}, which no volume mount provides`);
    // The last occurrence of a directive wins: an include after them could override the durability settings.
    if (directives.slice(0, inc.i).some(([k]) => k !== 'include')) problems.push(`${where}: redis.conf include ${inc.v} is not before all other directives`);
  }
  return problems;
}

/** RA and OCSP: several replicas, rolling updates, a PDB; the CA: one, Recreate; no PVC, no podAffinity. */
export function scalingProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
  for (const name of ['ra', 'ocsp']) {
    const pod = workload(objects, 'Deployment', name);
    const spec = obj(pod.owner.spec);
    const replicas = Number(spec.replicas ?? 1);
    if (replicas < 2) problems.push(`Deployment/${name}: replicas ${replicas} < 2`);
    if (obj(spec.strategy).type !== 'RollingUpdate') problems.push(`Deployment/${name}: strategy is not RollingUpdate`);
    const pdb = pdbs.find((p) => matches(obj(obj(p.spec).selector), pod.podLabels));
    if (!pdb) problems.push(`Deployment/${name}: no PodDisruptionBudget selects its pods`);
    else if (obj(pdb.spec).minAvailable !== 1) problems.push(`${id(pdb)}: minAvailable is ${String(obj(pdb.spec).minAvailable)}, not 1`);
  }
  const ca = workload(objects, 'Deployment', 'ca');
  if (obj(ca.owner.spec).replicas !== 1) problems.push('Deployment/ca: replicas is not 1');
  if (obj(obj(ca.owner.spec).strategy).type !== 'Recreate') problems.push('Deployment/ca: strategy is not Recreate');
  for (const pod of podSpecs(objects)) {
    if (obj(pod.spec.affinity).podAffinity) problems.push(`${id(pod.owner)}: podAffinity (no shared volume with Redis)`);
    const pvcs = arr(pod.spec.volumes).filter((v) => obj(v).persistentVolumeClaim);
    if (pod.owner.kind === 'Deployment' && pvcs.length) problems.push(`${id(pod.owner)}: mounts a PersistentVolumeClaim`);
  }
  return problems;
}

/**
 * Each service's data dir holds exactly the files it reads, read-only, from Secrets; no pod but the
 * CA gets an issuer key Secret (the pki CLI Jobs, pki-init and the rotation steps, create the keys
 * on their own volume pki-data, which only they mount).
 */
export function dataFileProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  let keySources: string[] = [];
  for (const [name, expected] of Object.entries(DATA_DIR_FILES)) {
    const pod = workload(objects, 'Deployment', name);
    const c = obj(arr(pod.spec.containers)[0]);
    const files = mountedFiles(pod, c).filter((f) => f.path === DATA_DIR || f.path.startsWith(`${DATA_DIR}/`));
    const seen = files.map((f) => (f.path === DATA_DIR ? '' : f.path.slice(DATA_DIR.length + 1)) + (f.any ? (f.path === DATA_DIR ? '*' : '/*') : '')).sort();
    if (JSON.stringify(seen) !== JSON.stringify(expected)) problems.push(`Deployment/${name}: data dir holds ${seen.join(', ')}; expected ${expected.join(', ')}`);
    for (const f of files) {
      if (!f.readOnly) problems.push(`Deployment/${name}: ${f.path} is mounted writable`);
      if (!f.source.startsWith('Secret/')) problems.push(`Deployment/${name}: ${f.path} comes from ${f.source}, not a Secret`);
    }
    if (name === 'ca') keySources = files.filter((f) => f.path === `${DATA_DIR}/keys`).map((f) => f.source.split(':')[0] ?? '');
  }
  const keySecrets = keySources.filter((s) => s.startsWith('Secret/')).map((s) => s.slice('Secret/'.length));
  if (!keySecrets.length) problems.push('Deployment/ca: its issuer key does not come from a Secret');
  for (const pod of podSpecs(objects)) {
    const owner = id(pod.owner);
    if (owner === 'Deployment/ca') continue;
    for (const v of arr(pod.spec.volumes).map(obj)) {
      const own = OWN_TLS_KEY[owner];
      const text = own ? JSON.stringify(v).replaceAll(`"${own}"`, '""') : JSON.stringify(v);
      for (const s of keySecrets) if (text.includes(`"${s}"`)) problems.push(`${owner}: volume ${String(v.name)} holds the CA key Secret ${s}`);
      if (/\.key\.pem"|"keys\//.test(text)) problems.push(`${owner}: volume ${String(v.name)} holds a key file`);
      if (str(obj(v.persistentVolumeClaim).claimName) === 'pki-data' && !isCliPod(pod)) problems.push(`${owner}: mounts pki-data, which holds the issuer keys`);
    }
  }
  return problems;
}

/**
 * REDIS_URL names the Service in front of the Redis pods, without credentials, and the
 * NetworkPolicy on the Redis pods admits exactly the RA, CA, OCSP and pki CLI pods: every pod that
 * connects, and no other.
 */
export function redisNetworkProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const servers = redisServers(objects);
  const serverLabels = servers[0]?.podLabels ?? {};
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy' && matches(obj(obj(o.spec).podSelector), serverLabels));
  if (policies.length !== 1) return [`expected one NetworkPolicy selecting the Redis pods, found ${policies.length}`];
  const np = obj(policies[0]!.spec);
  if (!arr(np.policyTypes).includes('Ingress')) problems.push('Redis NetworkPolicy: no Ingress policy type');
  const selectors: Obj[] = [];
  for (const rule of arr(np.ingress).map(obj)) {
    if (!arr(rule.from).length) problems.push('Redis NetworkPolicy: a rule without `from` admits everyone');
    for (const f of arr(rule.from).map(obj)) {
      if (f.namespaceSelector || f.ipBlock || !f.podSelector) problems.push(`Redis NetworkPolicy: peer ${JSON.stringify(f)} is not a podSelector in this namespace`);
      else selectors.push(obj(f.podSelector));
    }
    const ports = arr(rule.ports).map(obj);
    if (!ports.length || ports.some((p) => p.port !== 6379 || (p.protocol ?? 'TCP') !== 'TCP')) problems.push(`Redis NetworkPolicy: ports ${JSON.stringify(rule.ports)} are not only TCP 6379`);
  }
  const admitted = (p: PodSpecAt) => selectors.some((s) => Object.keys(obj(s.matchLabels)).length > 0 && matches(s, p.podLabels));
  const isPki = (p: PodSpecAt) =>
    (p.owner.kind === 'Deployment' && ['ra', 'ca', 'ocsp'].includes(p.owner.metadata.name)) || p.podLabels['app.kubernetes.io/component'] === 'pki-cli';
  for (const pod of podSpecs(objects)) {
    if (servers.includes(pod)) continue;
    if (admitted(pod) && !isPki(pod)) problems.push(`Redis NetworkPolicy admits ${id(pod.owner)}`);
    if (!admitted(pod) && isPki(pod)) problems.push(`Redis NetworkPolicy does not admit ${id(pod.owner)}`);
  }
  // Who connects: the URL points at a Service selecting the Redis pods, the pod is admitted.
  for (const at of containers(objects)) {
    if (isRedisContainer(at.c)) continue;
    const url = containerEnv(objects, at, problems).get('REDIS_URL');
    if (!url) continue;
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      problems.push(`${at.where}: REDIS_URL ${url} is not a URL`);
      continue;
    }
    if (u.username || u.password) problems.push(`${at.where}: REDIS_URL carries credentials`);
    const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === u.hostname.split('.')[0]);
    const port = Number(u.port || 6379);
    if (!svc || !servers.some((s) => matches({ matchLabels: obj(svc.spec).selector }, s.podLabels))) problems.push(`${at.where}: REDIS_URL host ${u.hostname} is no Service of the Redis pods`);
    else if (!arr(obj(svc.spec).ports).some((p) => obj(p).port === port)) problems.push(`${at.where}: Service ${svc.metadata.name} has no port ${port}`);
    if (!admitted(at.pod)) problems.push(`${at.where}: connects to Redis but the NetworkPolicy does not admit it`);
  }
  return problems;
}

/** The Redis user a pod connects as: the services their own, the pki CLI Jobs pki-cli; undefined for any other pod. */
function redisUserOf(pod: PodSpecAt): string | undefined {
  if (pod.owner.kind === 'Deployment' && ['ra', 'ca', 'ocsp'].includes(pod.owner.metadata.name)) return `pki-${pod.owner.metadata.name}`;
  return isCliPod(pod) ? 'pki-cli' : undefined;
}

/**
 * Issue 15: every container that connects to Redis does so as its pod's own user (REDIS_USERNAME)
 * with that user's password Secret; no pod holds another user's password; Redis containers see
 * only the probe password and the ACL file, and only the Redis pod the ACL file.
 */
export function redisUserProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const servers = redisServers(objects);
  const secretName = (source: string) => source.slice('Secret/'.length).split(':')[0] ?? '';
  for (const at of containers(objects)) {
    const files = mountedFiles(at.pod, at.c);
    if (isRedisContainer(at.c)) {
      for (const f of files.filter((x) => x.source.startsWith('Secret/')))
        if (![REDIS_PROBE_SECRET, REDIS_ACL_SECRET].includes(secretName(f.source))) problems.push(`${at.where}: a Redis container sees ${f.source} (only ${REDIS_PROBE_SECRET} and ${REDIS_ACL_SECRET})`);
      continue;
    }
    const env = containerEnv(objects, at, problems);
    if (!env.get('REDIS_URL')) continue;
    const user = redisUserOf(at.pod);
    if (!user) {
      problems.push(`${at.where}: connects to Redis but has no Redis user of its own`);
      continue;
    }
    if (env.get('REDIS_USERNAME') !== user) problems.push(`${at.where}: REDIS_USERNAME is ${String(env.get('REDIS_USERNAME'))}, not its own user ${user}`);
    const file = env.get('REDIS_PASSWORD_FILE');
    const source = file ? provides(files, file)?.source : undefined;
    const own = `Secret/${REDIS_USER_SECRETS[user] ?? '?'}:password`;
    if (source !== own) problems.push(`${at.where}: REDIS_PASSWORD_FILE is ${source ?? 'not mounted'}, not ${own} (${user}'s password)`);
  }
  for (const pod of podSpecs(objects))
    for (const s of secretsOf(pod)) {
      const user = Object.entries(REDIS_USER_SECRETS).find(([, name]) => name === s)?.[0];
      if (user && user !== redisUserOf(pod)) problems.push(`${id(pod.owner)}: holds the Redis password of ${user} (Secret ${s})`);
      if (s === REDIS_ACL_SECRET && !servers.some((server) => server.owner === pod.owner)) problems.push(`${id(pod.owner)}: mounts the Redis ACL file (Secret ${s})`);
    }
  return problems;
}

export const REDIS_CHECKS: Record<string, (objects: K8sObject[]) => string[]> = {
  'redis.conf durability': redisConfigProblems,
  'replicas and PodDisruptionBudgets': scalingProblems,
  'data dir files and keys': dataFileProblems,
  'Redis NetworkPolicy and REDIS_URL': redisNetworkProblems,
  'Redis users': redisUserProblems,
};
