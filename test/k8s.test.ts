import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { loadCaConfig } from '@evpki/ca';
import { DEFAULT_CA_HOSTNAMES, parseRetention } from '@evpki/cli';
import { loadOcspConfig } from '@evpki/ocsp-responder';
import { loadRaConfig } from '@evpki/ra';
import { KNOWN_ENV, checkUnknownEnv, loadStoreConfig } from '@evpki/service';
import { openStore } from '@evpki/store';
import { makeDevPki } from './helpers/pki.js';

/**
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
 * so that a check that rejects nothing fails here.
 */

// test/dist/k8s.test.js → ../../ is the repository root.
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const K8S_DIR = join(REPO_ROOT, 'k8s');
// A kustomize Component, not an overlay with `resources: [../..]`: kustomize refuses a base that is
// a parent directory of the kustomization using it (a cycle).
const REDIS_DIR = join(K8S_DIR, 'overlays', 'redis');

// ---------------------------------------------------------------------------------------------
// Rendering

type Obj = Record<string, unknown>;
interface K8sObject extends Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
}

function kubectlKustomize(dir: string): string {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT')
    assert.fail('kubectl is not installed (not on PATH): the k8s/ test needs `kubectl kustomize` (kustomize ≥ 4.5, i.e. kubectl ≥ 1.24)');
  if (r.error) throw r.error;
  if (r.status !== 0) assert.fail(`kubectl kustomize ${dir} failed (exit ${String(r.status)}):\n${r.stderr}`);
  return r.stdout;
}

function parseManifests(text: string): K8sObject[] {
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

function render(dir: string): K8sObject[] {
  return parseManifests(kubectlKustomize(dir));
}

/**
 * Renders an overlay of k8s/ (in a temporary directory) with the given extra kustomization lines,
 * optionally with the Redis component and extra files (e.g. for a secretGenerator).
 */
function renderOverlay(kustomization: string, opts: { redis?: boolean; files?: Record<string, string> } = {}): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'evpki-k8s-'));
  try {
    // kustomize accepts only relative paths to a base.
    const components = opts.redis ? `components:\n  - ${relative(dir, REDIS_DIR)}\n` : '';
    writeFileSync(join(dir, 'kustomization.yaml'), `resources:\n  - ${relative(dir, K8S_DIR)}\n${components}${kustomization}`);
    for (const [name, text] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), text);
    return render(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let renderedBase: K8sObject[] | undefined;
function base(): K8sObject[] {
  assert.ok(existsSync(join(K8S_DIR, 'kustomization.yaml')), `no kustomization.yaml in ${K8S_DIR}`);
  renderedBase ??= render(K8S_DIR);
  return structuredClone(renderedBase);
}

let renderedRedis: K8sObject[] | undefined;
/** The base with the Redis component and nothing else (placeholder Secrets, example --org). */
function redis(): K8sObject[] {
  assert.ok(existsSync(join(REDIS_DIR, 'kustomization.yaml')), `no kustomization.yaml in ${REDIS_DIR}`);
  renderedRedis ??= renderOverlay('', { redis: true });
  return structuredClone(renderedRedis);
}

// ---------------------------------------------------------------------------------------------
// Helpers

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const id = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is missing from the rendered manifests`);
  return o;
}

interface PodSpecAt {
  readonly owner: K8sObject;
  readonly podLabels: Record<string, string>;
  readonly spec: Obj;
}

/** The pod specs of every workload (with the labels of their pod template). */
function podSpecs(objects: K8sObject[]): PodSpecAt[] {
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

interface ContainerAt {
  readonly pod: PodSpecAt;
  readonly c: Obj;
  readonly field: 'initContainers' | 'containers' | 'ephemeralContainers';
  readonly where: string;
}

function containers(objects: K8sObject[]): ContainerAt[] {
  const out: ContainerAt[] = [];
  for (const pod of podSpecs(objects))
    for (const field of ['initContainers', 'containers', 'ephemeralContainers'] as const)
      for (const c of arr(pod.spec[field])) out.push({ pod, c: obj(c), field, where: `${id(pod.owner)} ${field}[${str(obj(c).name) ?? '?'}]` });
  return out;
}

/** The image's repository name without registry, tag or digest: `redis` for docker.io/library/redis:7.2. */
function imageName(image: unknown): string {
  const noDigest = (str(image) ?? '').split('@')[0] ?? '';
  const last = noDigest.split('/').pop() ?? '';
  return last.split(':')[0] ?? '';
}

/** Redis containers (server, init and wait containers) get the Redis checks; every other container the PKI ones. */
const isRedisContainer = (c: Obj): boolean => imageName(c.image) === 'redis';

/** PKI_DATA_DIR of pki-config: pki.json, store/, keys/, secrets/, ra/. */
const DATA_DIR = '/var/lib/pki';

/** A label selector (matchLabels only; matchExpressions never match here) against pod labels. */
const matches = (selector: Obj, labels: Record<string, string>): boolean =>
  Object.entries(obj(selector.matchLabels)).every(([k, v]) => labels[k] === v) && arr(selector.matchExpressions).length === 0;

/** Generated by the operator's own overlay (k8s/README.md): a placeholder in the component could not be replaced from there. */
const REDIS_SECRET = 'redis-auth';

const isCliPod = (pod: PodSpecAt): boolean => pod.podLabels['app.kubernetes.io/component'] === 'pki-cli';

/** The pod spec of the workload kind/name. */
function workload(objects: K8sObject[], kind: string, name: string): PodSpecAt {
  const pod = podSpecs(objects).find((p) => p.owner.kind === kind && p.owner.metadata.name === name);
  assert.ok(pod, `${kind}/${name} is missing from the rendered manifests`);
  return pod;
}

// ---------------------------------------------------------------------------------------------
// Which files a container sees: from its volume mounts (Secret, ConfigMap and projected items,
// service account tokens, downward API; a volume without items (PVC, emptyDir, Secret without
// items) provides any file under its mount).

interface MountedFile {
  /** Absolute path in the container; with `any`, every path below it. */
  readonly path: string;
  /** e.g. `Secret/pki-manifest:pki.json`, `Secret/pki-ca-issuer-key`, `PersistentVolumeClaim/pki-data`. */
  readonly source: string;
  readonly any: boolean;
  readonly readOnly: boolean;
}

interface VolumeFile {
  readonly rel: string;
  readonly source: string;
  readonly any: boolean;
}

function volumeFiles(v: Obj): VolumeFile[] {
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

function mountedFiles(pod: PodSpecAt, c: Obj): MountedFile[] {
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

const provides = (files: MountedFile[], path: string): MountedFile | undefined =>
  files.find((f) => f.path === path || (f.any && path.startsWith(`${f.path}/`)));

// ---------------------------------------------------------------------------------------------
// Checks: each returns a list of problems ([] = fine), for the real base and for broken copies.

interface ModelClass {
  readonly apiVersion?: string;
  readonly kind?: string;
  new (data: Obj): { validate(): void };
}

/** The kubernetes-models class for an apiVersion/kind, or undefined when it has none. */
async function schemaClass(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
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

async function schemaProblems(objects: K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objects) {
    const cls = await schemaClass(o.apiVersion, o.kind);
    if (!cls) {
      problems.push(`${id(o)}: no Kubernetes schema for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new cls(o).validate();
    } catch (e) {
      problems.push(`${id(o)}: ${(e as Error).message}`);
    }
  }
  return problems;
}

/** Names and values a container gets from env and envFrom (ConfigMaps and Secrets of the render). */
function containerEnv(objects: K8sObject[], { c, where }: ContainerAt, problems: string[]): Map<string, string> {
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

function envProblems(objects: K8sObject[]): string[] {
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
function configLoaderProblems(objects: K8sObject[]): string[] {
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

function configLoaderProblemsWith(objects: K8sObject[], placeholderFile: string, problems: string[]): void {
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

function probeProblems(objects: K8sObject[]): string[] {
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

function resourceProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const { c, where } of containers(objects))
    for (const kind of ['requests', 'limits'])
      for (const r of ['cpu', 'memory'])
        if (obj(obj(c.resources)[kind])[r] === undefined) problems.push(`${where}: no resources.${kind}.${r}`);
  return problems;
}

function securityProblems(objects: K8sObject[]): string[] {
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

const PEM_PRIVATE_KEY = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;

/** No PEM private key anywhere: Secret data (decoded), stringData, or any other string. */
function secretProblems(objects: K8sObject[]): string[] {
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
function mountedFileProblems(objects: K8sObject[]): string[] {
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
function redisContainerProblems(objects: K8sObject[]): string[] {
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
const STEPS: Record<string, readonly string[]> = {
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
const RUNBOOK_STEP_OPTIONS = [
  'patches:',
  '  - target: {kind: CronJob, name: pki-rotate-root-prepare}',
  '    patch: |-',
  '      - {op: add, path: /spec/jobTemplate/spec/template/spec/containers/0/args/-, value: --algorithm}',
  '      - {op: add, path: /spec/jobTemplate/spec/template/spec/containers/0/args/-, value: ecdsa-p384}',
];
/** The steps that make a new issuing CA key, which the CA must get. */
const PREPARE_STEPS: readonly string[] = ['pki-rotate-root-prepare', 'pki-rotate-issuer-prepare'];
/** The pki CLI CronJob that runs by itself, daily: the audit log's retention (issue 14.5). */
const RETAIN = 'pki-audit-retain';
/** Where it writes its exports: the PVC pki-audit-export. */
const AUDIT_EXPORT_DIR = '/var/lib/pki-audit';
const PKI_CLI = ['node', 'services/cli/bin/pki.js'];
/** Where `pki --k8s-secret` reads its API credentials (services/cli/src/k8s-secret.ts). */
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The Secret the CA reads its keys/ directory from (Redis overlay); undefined when it reads them from pki-data (base). */
function caKeySecret(objects: K8sObject[]): string | undefined {
  const ca = workload(objects, 'Deployment', 'ca');
  const src = provides(mountedFiles(ca, obj(arr(ca.spec.containers)[0])), `${DATA_DIR}/keys/issuer.key.pem`)?.source ?? '';
  return src.startsWith('Secret/') ? src.slice('Secret/'.length).split(':')[0] : undefined;
}

/** Names of the Secrets a pod's volumes refer to (secret volumes and projected sources). */
function secretsOf(pod: PodSpecAt): string[] {
  return arr(pod.spec.volumes).flatMap((raw) => {
    const v = obj(raw);
    const direct = str(obj(v.secret).secretName);
    const projected = arr(obj(v.projected).sources).flatMap((src) => (obj(src).secret ? [String(obj(obj(src).secret).name)] : []));
    return [...(direct ? [direct] : []), ...projected];
  });
}

/** The projected service account token sources of a pod. */
const tokenSources = (pod: PodSpecAt): Obj[] =>
  arr(pod.spec.volumes).flatMap((v) => arr(obj(obj(v).projected).sources).map(obj).filter((src) => src.serviceAccountToken).map((src) => obj(src.serviceAccountToken)));

const admitsFrom = (rule: unknown, labels: Record<string, string>): boolean =>
  arr(obj(rule).from).some((f) => !obj(f).namespaceSelector && isObj(obj(f).podSelector) && matches(obj(obj(f).podSelector), labels));
/** Whether a NetworkPolicy rule admits pods with these labels from this namespace. */
const admits = (np: K8sObject, labels: Record<string, string>): boolean => arr(obj(np.spec).ingress).some((rule) => admitsFrom(rule, labels));
/** The ports the rules admitting these pods open. */
const admittedPorts = (np: K8sObject, labels: Record<string, string>): unknown[] =>
  arr(obj(np.spec).ingress)
    .filter((rule) => admitsFrom(rule, labels))
    .flatMap((rule) => arr(obj(rule).ports).map((p) => obj(p).port));
/** The CA's API (mutual TLS) and ops (plain HTTP: /healthz, /readyz, /metrics) ports. */
const CA_API_PORT = 8081;
const CA_OPS_PORT = 8083;

/**
 * The step templates: suspended CronJobs that never come due, labelled pki-cli (so the CA's
 * NetworkPolicy admits them), one attempt (or none after exit 2), a deadline and a TTL; `pki` with
 * the step's subcommand; the pki-data volume read-write and the key passphrase, never a CA key
 * Secret; PKI_CA_URL naming the CA's Service. Where the CA reads its keys from a Secret (Redis), the
 * two prepare steps write the new issuing key into it (--k8s-secret) with a projected API token of
 * a service account that may only get and patch that one Secret; no other pod has that account,
 * and no other step any.
 */
function stepProblems(objects: K8sObject[]): string[] {
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
      if (secret !== 'pki-secrets' && secret !== REDIS_SECRET) problems.push(`${where}: mounts Secret ${secret} (a step gets the passphrase and the Redis password only; keys come from pki-data)`);

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
function keyWriterProblems(objects: K8sObject[], sa: string, secret: string): string[] {
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
function rbacProblems(objects: K8sObject[]): string[] {
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
function retainProblems(objects: K8sObject[]): string[] {
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
  for (const secret of secretsOf(pod)) if (secret !== REDIS_SECRET) problems.push(`${where}: mounts Secret ${secret} (it needs the store only)`);
  if (str(pod.spec.serviceAccountName) || tokenSources(pod).length) problems.push(`${where}: a service account or token (it needs the store only)`);
  return problems;
}

const CHECKS: Record<string, (objects: K8sObject[]) => string[]> = {
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

async function allProblems(objects: K8sObject[]): Promise<string[]> {
  return [...(await schemaProblems(objects)), ...Object.values(CHECKS).flatMap((check) => check(objects))];
}

// ---------------------------------------------------------------------------------------------
// The base passes every check

test('k8s/ renders with kubectl kustomize', () => {
  const objects = base();
  assert.ok(objects.length > 0, 'kubectl kustomize k8s/ rendered nothing');
});

/** Every object in the ev-pki namespace and labelled part-of ev-pki, pod templates included. */
function assertNamespacedAndLabelled(objects: K8sObject[]): void {
  for (const o of objects) {
    if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'ev-pki', `${id(o)} namespace`);
    assert.equal(o.metadata.labels?.['app.kubernetes.io/part-of'], 'ev-pki', `${id(o)} part-of label`);
  }
  for (const pod of podSpecs(objects)) assert.equal(pod.podLabels['app.kubernetes.io/part-of'], 'ev-pki', `${id(pod.owner)} pod template part-of label`);
}

test('k8s/: every object validates against the Kubernetes schema', async () => {
  assert.deepEqual(await schemaProblems(base()), []);
});

for (const [name, check] of Object.entries(CHECKS))
  test(`k8s/: ${name}`, () => {
    assert.deepEqual(check(base()), []);
  });

// ---------------------------------------------------------------------------------------------
// What the base must contain

test('k8s/: the expected objects, all in namespace ev-pki and labelled part-of ev-pki', () => {
  const objects = base();
  const names = objects.map(id).sort();
  assert.deepEqual(
    names,
    [
      'ConfigMap/pki-config',
      'CronJob/csms-cert-renew',
      `CronJob/${RETAIN}`,
      ...Object.keys(STEPS).map((n) => `CronJob/${n}`),
      'Deployment/ca',
      'Deployment/ocsp',
      'Deployment/ra',
      'Job/pki-init',
      'Namespace/ev-pki',
      'NetworkPolicy/ca-ingress',
      'PersistentVolumeClaim/pki-audit-export',
      'PersistentVolumeClaim/pki-data',
      'Role/csms-cert-renew',
      'RoleBinding/csms-cert-renew',
      'Secret/pki-secrets',
      'Service/ca',
      'Service/ocsp',
      'Service/ra',
      'ServiceAccount/csms-cert-renew',
    ].sort(),
  );
  assertNamespacedAndLabelled(objects);
});

test('k8s/: one replica per Deployment, all pods on the LMDB volume together on one node', () => {
  const objects = base();
  const pvc = find(objects, 'PersistentVolumeClaim', 'pki-data');
  assert.deepEqual(obj(pvc.spec).accessModes, ['ReadWriteOnce']);
  for (const d of objects.filter((o) => o.kind === 'Deployment')) {
    assert.equal(obj(d.spec).replicas, 1, `${id(d)} replicas`);
    assert.equal(obj(obj(d.spec).strategy).type, 'Recreate', `${id(d)} strategy`);
  }
  for (const pod of podSpecs(objects)) {
    const usesPvc = arr(pod.spec.volumes).some((v) => str(obj(obj(v).persistentVolumeClaim).claimName) === 'pki-data');
    if (!usesPvc) continue;
    assert.equal(pod.podLabels['ev-pki/data-volume'], 'pki-data', `${id(pod.owner)} data-volume label`);
    const terms = arr(obj(obj(obj(pod.spec.affinity).podAffinity)).requiredDuringSchedulingIgnoredDuringExecution).map(obj);
    assert.ok(
      terms.some((t) => t.topologyKey === 'kubernetes.io/hostname' && obj(obj(t.labelSelector).matchLabels)['ev-pki/data-volume'] === 'pki-data'),
      `${id(pod.owner)} has no required podAffinity to the other pki-data pods`,
    );
  }
});

test('k8s/: ConfigMap, container ports, Services and RA_CA_URL agree', () => {
  const objects = base();
  const cm = obj(find(objects, 'ConfigMap', 'pki-config').data);
  assert.equal(cm.PKI_DATA_DIR, '/var/lib/pki');
  // The API port: plain HTTP for the RA and the responder, mutual TLS for the CA.
  const apiPort: Record<string, string> = { ra: 'http', ca: 'https', ocsp: 'http' };
  for (const svc of ['ra', 'ca', 'ocsp']) {
    const port = Number(cm[`${svc.toUpperCase()}_PORT`]);
    assert.equal(cm[`${svc.toUpperCase()}_HOST`], '0.0.0.0');
    const dep = find(objects, 'Deployment', svc);
    const podSpec = obj(obj(obj(dep.spec).template).spec);
    const c = obj(arr(podSpec.containers)[0]);
    assert.deepEqual(c.command, ['node', `services/${svc}/dist/main.js`]);
    const http = arr(c.ports).map(obj).find((p) => p.name === apiPort[svc]);
    assert.equal(http?.containerPort, port, `${svc} containerPort = ${svc.toUpperCase()}_PORT`);
    const service = find(objects, 'Service', svc);
    assert.deepEqual(obj(service.spec).selector, obj(obj(dep.spec).selector).matchLabels, `Service/${svc} selects Deployment/${svc}`);
    const sp = obj(arr(obj(service.spec).ports)[0]);
    assert.equal(sp.port, port);
    assert.equal(sp.targetPort, apiPort[svc]);
    const volMounts = arr(c.volumeMounts).map(obj).filter((m) => m.name === 'pki-data');
    // Services write only the store; pki.json, keys and secrets are read-only for them.
    for (const m of volMounts) assert.ok(m.readOnly === true || m.subPath === 'store', `${svc} mounts ${String(m.mountPath)} writable`);
  }
  // The CA's ops port: container port, Service port, and the probes on it.
  const ca = deployment(objects, 'ca').container;
  assert.equal(Number(cm.CA_OPS_PORT), CA_OPS_PORT);
  assert.equal(Number(cm.CA_PORT), CA_API_PORT);
  assert.equal(arr(ca.ports).map(obj).find((p) => p.name === 'ops')?.containerPort, CA_OPS_PORT);
  assert.deepEqual(arr(obj(find(objects, 'Service', 'ca').spec).ports).map(obj)[1], { name: 'ops', port: CA_OPS_PORT, targetPort: 'ops' });
  for (const probe of ['readinessProbe', 'livenessProbe']) assert.equal(obj(obj(ca[probe]).httpGet).port, 'ops', `the CA's ${probe} is on the ops port`);
  // The RA and the responder reach the CA's API over https at a name its server certificate carries by default.
  const namespace = find(objects, 'Namespace', 'ev-pki').metadata.name;
  for (const name of ['ca', `ca.${namespace}.svc`, `ca.${namespace}.svc.cluster.local`]) assert.ok(DEFAULT_CA_HOSTNAMES.includes(name), `pki init's default CA host names include ${name}`);
  for (const key of ['RA_CA_URL', 'OCSP_CA_URL']) {
    const caUrl = new URL(String(cm[key]));
    assert.equal(caUrl.protocol, 'https:', key);
    assert.equal(caUrl.hostname, 'ca', key);
    assert.equal(Number(caUrl.port), Number(cm.CA_PORT), key);
  }
});

test('k8s/: the CA admits the RA and the OCSP responder to its API, CLI Jobs to its ops port; only the CA and CLI Jobs get the passphrase', () => {
  const objects = base();
  const np = obj(find(objects, 'NetworkPolicy', 'ca-ingress').spec);
  assert.deepEqual(obj(np.podSelector).matchLabels, { 'app.kubernetes.io/name': 'ca' });
  assert.deepEqual(np.policyTypes, ['Ingress']);
  assert.deepEqual(np.ingress, [
    {
      from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ra' } } }, { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ocsp' } } }],
      ports: [{ protocol: 'TCP', port: CA_API_PORT }],
    },
    { from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'pki-cli' } } }], ports: [{ protocol: 'TCP', port: CA_OPS_PORT }] },
  ]);
  const ra = podSpecs(objects).find((p) => p.owner.kind === 'Deployment' && p.owner.metadata.name === 'ra');
  assert.equal(ra?.podLabels['app.kubernetes.io/name'], 'ra');
  const job = podSpecs(objects).find((p) => p.owner.kind === 'Job' && p.owner.metadata.name === 'pki-init');
  assert.equal(job?.podLabels['app.kubernetes.io/component'], 'pki-cli');

  for (const pod of podSpecs(objects)) {
    const secretVolumes = arr(pod.spec.volumes).map(obj).filter((v) => v.secret);
    const isCa = pod.owner.kind === 'Deployment' && pod.owner.metadata.name === 'ca';
    // The audit retention is a pki CLI pod that needs the store only.
    const isCli = pod.podLabels['app.kubernetes.io/component'] === 'pki-cli' && pod.owner.metadata.name !== RETAIN;
    if (!isCa && !isCli) {
      assert.deepEqual(secretVolumes, [], `${id(pod.owner)} mounts a Secret`);
      continue;
    }
    // PKI_KEY_PASSPHRASE_FILE points at the key-passphrase item of the mounted pki-secrets.
    const c = obj(arr(pod.spec.containers)[0]);
    const file = str(obj(arr(c.env).map(obj).find((e) => e.name === 'PKI_KEY_PASSPHRASE_FILE')).value);
    const vol = secretVolumes.find((v) => obj(v.secret).secretName === 'pki-secrets');
    assert.ok(vol, `${id(pod.owner)} does not mount pki-secrets`);
    const mount = arr(c.volumeMounts).map(obj).find((m) => m.name === vol.name);
    const item = arr(obj(vol.secret).items).map(obj).find((i) => i.key === 'key-passphrase');
    assert.equal(file, `${String(mount?.mountPath)}/${String(item?.path)}`, `${id(pod.owner)} PKI_KEY_PASSPHRASE_FILE`);
    assert.equal(file, '/var/run/secrets/pki/key-passphrase');
  }
});

test('k8s/: the Secret is an empty placeholder', () => {
  const secret = find(base(), 'Secret', 'pki-secrets');
  assert.ok(Object.keys(obj(secret.data)).includes('key-passphrase'));
  for (const [k, v] of [...Object.entries(obj(secret.data)), ...Object.entries(obj(secret.stringData))]) assert.equal(v, '', `Secret pki-secrets ${k} is not empty`);
});

/** The pod spec of a step's CronJob, as the Job made from it gets it. */
const stepPod = (objects: K8sObject[], name: string): Obj => obj(obj(obj(obj(find(objects, 'CronJob', name).spec).jobTemplate).spec).template);
const stepContainer = (objects: K8sObject[], name: string): Obj => obj(arr(obj(stepPod(objects, name).spec).containers)[0]);

test('k8s/rotation: pki status and every rotation step are suspended CronJob templates; the only Job that runs on apply is pki-init', () => {
  const objects = base();
  assert.deepEqual(objects.filter((o) => o.kind === 'Job').map(id), ['Job/pki-init']);
  const cli = objects.filter((o) => o.kind === 'CronJob' && o.metadata.labels?.['app.kubernetes.io/component'] === 'pki-cli' && o.metadata.name !== RETAIN);
  assert.deepEqual(cli.map((o) => o.metadata.name).sort(), Object.keys(STEPS).sort());
  for (const [name, sub] of Object.entries(STEPS)) {
    const spec = obj(find(objects, 'CronJob', name).spec);
    assert.equal(spec.suspend, true, `${name} suspended`);
    const job = obj(obj(spec.jobTemplate).spec);
    assert.equal(job.backoffLimit, 0, `${name}: one attempt, the operator re-runs`);
    // What `kubectl create job --from=cronjob/...` copies: the jobTemplate's labels and spec.
    assert.equal(obj(obj(obj(spec.jobTemplate).metadata).labels)['app.kubernetes.io/component'], 'pki-cli', `${name}: the Job is labelled pki-cli`);
    const c = stepContainer(objects, name);
    assert.deepEqual([...arr(c.command), ...arr(c.args)], [...PKI_CLI, ...sub], `${name} runs pki ${sub.join(' ')} (in the base without --k8s-secret: the CA reads keys from pki-data)`);
    assert.equal(obj(stepPod(objects, name).spec).serviceAccountName, undefined, `${name}: no service account in the base`);
  }
  assert.deepEqual(stepProblems(objects), []);
  // The CA reads its keys from pki-data in the base: a new key written there reaches it.
  assert.equal(caKeySecret(objects), undefined);
});

// ---------------------------------------------------------------------------------------------
// The checks reject broken copies

function deployment(objects: K8sObject[], name: string): { spec: Obj; pod: Obj; container: Obj } {
  const d = find(objects, 'Deployment', name);
  const spec = obj(d.spec);
  const pod = obj(obj(spec.template).spec);
  return { spec, pod, container: obj(arr(pod.containers)[0]) };
}

function rejects(problems: string[], pattern: RegExp): void {
  assert.ok(problems.length > 0, 'a broken manifest passed the check');
  assert.ok(
    problems.some((p) => pattern.test(p)),
    `no problem matches ${String(pattern)}: ${problems.join('; ')}`,
  );
}

test('broken: an unknown env var is rejected (env and the service config loader)', () => {
  const objects = base();
  deployment(objects, 'ra').container.env = [{ name: 'RA_CA_ULR', value: 'http://ca:8081' }];
  rejects(envProblems(objects), /Deployment\/ra .*RA_CA_ULR is not in KNOWN_ENV/);
  rejects(configLoaderProblems(objects), /Deployment\/ra .*unknown configuration variable\(s\): RA_CA_ULR/);
});

test('broken: an unknown key in a ConfigMap used by envFrom is rejected', () => {
  const objects = base();
  obj(find(objects, 'ConfigMap', 'pki-config').data).PKI_ORG = 'Example CPO';
  rejects(envProblems(objects), /Deployment\/ca .*PKI_ORG is not in KNOWN_ENV/);
  rejects(configLoaderProblems(objects), /Deployment\/ocsp .*PKI_ORG/);
});

test('broken: an invalid value is rejected by the service config loader', () => {
  const objects = base();
  obj(find(objects, 'ConfigMap', 'pki-config').data).RA_PORT = 'http';
  rejects(configLoaderProblems(objects), /Deployment\/ra .*RA_PORT must be an integer/);
});

test('broken: $(VAR) in args without such a variable is rejected', () => {
  const objects = base();
  const job = obj(obj(obj(find(objects, 'Job', 'pki-init').spec).template).spec);
  obj(arr(job.containers)[0]).args = ['init', '--org', '$(PKI_ORG)'];
  rejects(envProblems(objects), /Job\/pki-init .*\$\(PKI_ORG\)/);
});

test('broken: wrong field types and unknown kinds are rejected by the schema check', async () => {
  const objects = base();
  const ra = deployment(objects, 'ra');
  ra.spec.replicas = 'one';
  obj(arr(deployment(objects, 'ca').container.ports)[0]).containerPort = '8081';
  const cpu = obj(obj(deployment(objects, 'ocsp').container.resources).limits);
  cpu.cpu = 'lots';
  objects.push({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } });
  objects.push({ apiVersion: 'v1', kind: 'Container', metadata: { name: 'not-a-top-level-kind' } });
  const problems = await schemaProblems(objects);
  rejects(problems, /Deployment\/ra: .*replicas must be integer/);
  rejects(problems, /Deployment\/ca: .*containerPort must be integer/);
  rejects(problems, /Deployment\/ocsp: .*limits\/cpu/);
  rejects(problems, /Widget\/w: no Kubernetes schema/);
  rejects(problems, /Container\/not-a-top-level-kind: no Kubernetes schema/);
});

test('broken: wrong or missing probes are rejected', () => {
  const objects = base();
  const ra = deployment(objects, 'ra').container;
  obj(obj(ra.readinessProbe).httpGet).path = '/metrics';
  const ca = deployment(objects, 'ca').container;
  obj(obj(ca.livenessProbe).httpGet).path = '/readyz'; // would restart the CA whenever it is unready
  const ocsp = deployment(objects, 'ocsp').container;
  ocsp.readinesProbe = ocsp.readinessProbe; // a typo the schema does not catch …
  delete ocsp.readinessProbe; // … but the missing probe is
  const problems = probeProblems(objects);
  rejects(problems, /Deployment\/ra .*readinessProbe path \/metrics/);
  rejects(problems, /Deployment\/ca .*livenessProbe path \/readyz/);
  rejects(problems, /Deployment\/ocsp .*no readinessProbe/);
});

test('broken: missing resource limits are rejected', () => {
  const objects = base();
  delete obj(deployment(objects, 'ca').container.resources).limits;
  rejects(resourceProblems(objects), /Deployment\/ca .*no resources\.limits\.cpu/);
});

test('broken: a permissive securityContext or pod spec is rejected', () => {
  const objects = base();
  const ra = deployment(objects, 'ra');
  ra.container.securityContext = { privileged: true, capabilities: { add: ['NET_ADMIN'] } };
  delete ra.pod.securityContext;
  const ca = deployment(objects, 'ca');
  ca.pod.automountServiceAccountToken = true;
  delete ca.pod.enableServiceLinks;
  const problems = securityProblems(objects);
  for (const p of [
    /Deployment\/ra .*runAsNonRoot is not true/,
    /Deployment\/ra .*readOnlyRootFilesystem is not true/,
    /Deployment\/ra .*allowPrivilegeEscalation is not false/,
    /Deployment\/ra .*privileged/,
    /Deployment\/ra .*capabilities do not drop ALL/,
    /Deployment\/ra .*capabilities added: NET_ADMIN/,
    /Deployment\/ra .*seccompProfile/,
    /Deployment\/ca: automountServiceAccountToken is not false/,
    /Deployment\/ca: enableServiceLinks is not false/,
  ])
    rejects(problems, p);
});

test('broken: a Secret holding a PEM private key is rejected', () => {
  const objects = base();
  // Not a key: only the PEM armour matters to the check.
  const pem = '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n';
  obj(find(objects, 'Secret', 'pki-secrets').data)['issuer.key.pem'] = Buffer.from(pem).toString('base64');
  objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'other' }, stringData: { 'k.pem': pem.replace('ENCRYPTED ', 'EC ') } });
  const problems = secretProblems(objects);
  rejects(problems, /Secret\/pki-secrets: data\.issuer\.key\.pem is a PEM private key/);
  rejects(problems, /Secret\/other: contains a PEM private key/);
});

test('broken: an overlay adding an unknown env var fails the whole pipeline', async () => {
  const objects = renderOverlay(
    [
      'patches:',
      '  - target: {kind: Job, name: pki-init}',
      '    patch: |-',
      '      - op: add',
      '        path: /spec/template/spec/containers/0/env/-',
      '        value: {name: PKI_ORG, value: Example CPO}',
      '',
    ].join('\n'),
  );
  const problems = await allProblems(objects);
  rejects(problems, /Job\/pki-init .*PKI_ORG is not in KNOWN_ENV/);
  rejects(problems, /Job\/pki-init .*unknown configuration variable\(s\): PKI_ORG/);
  assert.deepEqual(await allProblems(renderOverlay('')), [], 'an empty overlay of the base has problems');
});

test('k8s/rotation: the commands of pki-init and of every step, with their environment, run both rotations on a real PKI', async () => {
  const objects = base();
  const dir = mkdtempSync(join(tmpdir(), 'evpki-k8s-steps-'));
  // Stands in for the CA's /readyz, which `activate` asks: it holds every issuing CA key on the volume.
  const ca = createServer((req, res) => {
    const held = readdirSync(join(dir, 'keys')).filter((f) => f.startsWith('cp-')).map((f) => [f.replace(/\.key\.pem$/, ''), true]);
    res.writeHead(req.url === '/readyz' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ready', issuerKeys: Object.fromEntries(held) }));
  });
  await new Promise<void>((resolve) => ca.listen(0, '127.0.0.1', resolve));
  try {
    const passphrase = join(dir, 'key-passphrase');
    writeFileSync(passphrase, 'not-a-real-passphrase-0123456789\n');
    // The container's command, arguments and environment; only the paths and the CA's address differ from the cluster.
    const local: Record<string, string> = { PKI_DATA_DIR: dir, PKI_KEY_PASSPHRASE_FILE: passphrase, PKI_CA_URL: `http://127.0.0.1:${(ca.address() as AddressInfo).port}` };
    const run = async (kind: string, name: string): Promise<string> => {
      const pod = workload(objects, kind, name);
      const c = obj(arr(pod.spec.containers)[0]);
      const problems: string[] = [];
      const env = Object.fromEntries(containerEnv(objects, { pod, c, field: 'containers', where: name }, problems));
      assert.deepEqual(problems, []);
      for (const k of Object.keys(local)) if (k !== 'PKI_CA_URL' || name.endsWith('-activate')) assert.ok(k in env, `${kind}/${name} sets ${k}`);
      const argv = [...arr(c.command), ...arr(c.args)].map(String);
      assert.equal(argv[0], 'node');
      try {
        const r = await promisify(execFile)(process.execPath, [join(REPO_ROOT, argv[1] ?? ''), ...argv.slice(2)], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, ...env, ...local } });
        return r.stdout;
      } catch (e) {
        const x = e as { code?: unknown; stdout?: string; stderr?: string };
        return assert.fail(`${kind}/${name}: ${argv.slice(1).join(' ')} exited ${String(x.code)}: ${x.stderr ?? ''}${x.stdout ?? ''}`);
      }
    };
    await run('Job', 'pki-init');
    const serverCert = (): string => readFileSync(join(dir, 'secrets', 'ca-server.pem'), 'utf8');
    const before = serverCert();
    assert.match(await run('CronJob', 'pki-service-certs-renew'), /Restart the CA, the RA and the OCSP responder/);
    assert.notEqual(serverCert(), before, 'pki-service-certs-renew wrote a new CA server certificate');
    for (const kind of ['root', 'issuer']) for (const step of ['prepare', 'publish', 'activate', 'retire']) await run('CronJob', `pki-rotate-${kind}-${step}`);
    const status = await run('CronJob', 'pki-status');
    assert.match(status, /Issuing CA rotation .*\n.*\n.*\n {2}finished/, status);
  } finally {
    ca.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('broken: a rotation step that runs by itself, runs the wrong command, retries, mounts a CA key or cannot reach the CA is rejected', () => {
  const objects = base();
  const cronSpec = (n: string) => obj(find(objects, 'CronJob', n).spec);
  cronSpec('pki-rotate-root-activate').suspend = false;
  cronSpec('pki-rotate-root-publish').schedule = '0 3 * * *';
  stepContainer(objects, 'pki-rotate-root-prepare').args = ['rotate-issuer', 'prepare'];
  obj(obj(cronSpec('pki-rotate-root-retire').jobTemplate).spec).backoffLimit = 3;
  const publish = obj(stepPod(objects, 'pki-rotate-issuer-publish').spec);
  publish.volumes = [...arr(publish.volumes), { name: 'keys', secret: { secretName: 'pki-ca-issuer-key' } }];
  delete obj(obj(stepPod(objects, 'pki-status').metadata).labels)['app.kubernetes.io/component'];
  const activate = stepContainer(objects, 'pki-rotate-issuer-activate');
  activate.env = arr(activate.env).map((e) => (obj(e).name === 'PKI_CA_URL' ? { name: 'PKI_CA_URL', value: 'http://ra:8080' } : e));
  const retire = stepContainer(objects, 'pki-rotate-issuer-retire');
  retire.volumeMounts = arr(retire.volumeMounts).map((m) => (obj(m).mountPath === DATA_DIR ? { ...obj(m), readOnly: true } : m));
  const problems = stepProblems(objects);
  rejects(problems, /CronJob\/pki-rotate-root-activate: not suspended/);
  rejects(problems, /CronJob\/pki-rotate-root-publish: schedule 0 3 \* \* \* can come due/);
  rejects(problems, /CronJob\/pki-rotate-root-prepare: runs node services\/cli\/bin\/pki\.js rotate-issuer prepare, expected .*pki\.js rotate-root prepare/);
  rejects(problems, /CronJob\/pki-rotate-root-retire: retries after exit 2/);
  rejects(problems, /CronJob\/pki-rotate-issuer-publish: mounts Secret pki-ca-issuer-key/);
  rejects(problems, /CronJob\/pki-status: pod template not labelled app\.kubernetes\.io\/component=pki-cli/);
  rejects(problems, /CronJob\/pki-status: the CA's NetworkPolicy does not admit it/);
  rejects(problems, /CronJob\/pki-rotate-issuer-activate containers\[pki\]: PKI_CA_URL "http:\/\/ra:8080" is not the CA's Service/);
  rejects(problems, /CronJob\/pki-rotate-issuer-retire containers\[pki\]: \/var\/lib\/pki is not the pki-data volume, read-write/);

  // The CA's NetworkPolicy without the pki CLI rule, or with it on the API port instead of the ops port.
  const isCliRule = (rule: unknown): boolean => arr(obj(rule).from).some((f) => obj(obj(obj(f).podSelector).matchLabels)['app.kubernetes.io/component'] === 'pki-cli');
  const closed = base();
  const closedSpec = obj(find(closed, 'NetworkPolicy', 'ca-ingress').spec);
  closedSpec.ingress = arr(closedSpec.ingress).filter((rule) => !isCliRule(rule));
  rejects(stepProblems(closed), /CronJob\/pki-rotate-root-activate: the CA's NetworkPolicy does not admit it/);
  const apiOnly = base();
  const cliRule = obj(arr(obj(find(apiOnly, 'NetworkPolicy', 'ca-ingress').spec).ingress).find(isCliRule));
  cliRule.ports = [{ protocol: 'TCP', port: CA_API_PORT }];
  rejects(stepProblems(apiOnly), /CronJob\/pki-rotate-issuer-activate: the CA's NetworkPolicy does not admit it to the ops port 8083/);

  // In the base the CA reads its keys from pki-data: no Secret to write, so no --k8s-secret and no service account.
  const extra = base();
  stepContainer(extra, 'pki-rotate-root-prepare').args = ['rotate-root', 'prepare', '--k8s-secret', 'pki-ca-issuer-key'];
  obj(stepPod(extra, 'pki-rotate-root-prepare').spec).serviceAccountName = 'default';
  rejects(stepProblems(extra), /CronJob\/pki-rotate-root-prepare: --k8s-secret pki-ca-issuer-key, but the CA reads no key from it/);
  rejects(stepProblems(extra), /CronJob\/pki-rotate-root-prepare: serviceAccountName default, but it writes no Secret/);

  // A pki-cli CronJob that is not a known step, and a missing step.
  const unknown = base();
  find(unknown, 'CronJob', 'pki-status').metadata.name = 'pki-backup';
  rejects(stepProblems(unknown), /CronJob\/pki-backup: a pki-cli CronJob that is no step of STEPS/);
  rejects(stepProblems(unknown), /CronJob\/pki-status is missing/);
});

test('broken: cluster-wide RBAC, wildcards, unnamed objects and other verbs are rejected', () => {
  const objects = base();
  const role = find(objects, 'Role', 'csms-cert-renew');
  role.rules = [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'create'] }, { apiGroups: ['*'], resources: ['*'], resourceNames: ['x'], verbs: ['*'] }];
  objects.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'wide' } });
  const problems = rbacProblems(objects);
  rejects(problems, /Role\/csms-cert-renew: a rule without resourceNames/);
  rejects(problems, /Role\/csms-cert-renew: verb list/);
  rejects(problems, /Role\/csms-cert-renew: verb create/);
  rejects(problems, /Role\/csms-cert-renew: a wildcard/);
  rejects(problems, /ClusterRoleBinding\/wide: cluster-wide RBAC/);
});

// ---------------------------------------------------------------------------------------------
// The Redis overlay (k8s/overlays/redis, a kustomize Component over the base)

/** The Secrets the operator creates from the `pki init` output (k8s/README.md): not in the render. */
const INIT_SECRETS = ['pki-manifest', 'pki-ca-tls', 'pki-ra-tls', 'pki-ocsp-tls', 'pki-ra-jwt', 'pki-ca-issuer-key'];
/** What each service reads from its data dir (`*` = every key of one Secret, for keys/<issuerId>.key.pem). */
const DATA_DIR_FILES: Record<string, readonly string[]> = {
  ra: ['pki.json', 'ra/jwt-public.jwk.json', 'secrets/ra-client.key.pem', 'secrets/ra-client.pem', 'secrets/service-ca.pem'],
  ocsp: ['pki.json', 'secrets/ocsp-client.key.pem', 'secrets/ocsp-client.pem', 'secrets/service-ca.pem'],
  ca: ['keys/*', 'pki.json', 'secrets/ca-server.key.pem', 'secrets/ca-server.pem', 'secrets/service-ca.pem'],
};
/** The one key file a service other than the CA may hold: its own TLS client key (mutual TLS to the CA). */
const OWN_TLS_KEY: Record<string, string> = { 'Deployment/ra': 'secrets/ra-client.key.pem', 'Deployment/ocsp': 'secrets/ocsp-client.key.pem' };

/** The Redis server pods: StatefulSets whose main container is a Redis image. */
const redisServers = (objects: K8sObject[]): PodSpecAt[] =>
  podSpecs(objects).filter((p) => p.owner.kind === 'StatefulSet' && arr(p.spec.containers).some((c) => isRedisContainer(obj(c))));

/** `redis.conf` → directives in order (lower-cased names, comments and blank lines dropped). */
function parseRedisConf(text: string): [string, string][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\S+)\s*(.*)$/.exec(l);
      return [(m?.[1] ?? '').toLowerCase(), (m?.[2] ?? '').trim()];
    });
}

/** The redis.conf of the Redis server container: durable AOF, never evicting, password only via include. */
function redisConfigProblems(objects: K8sObject[]): string[] {
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
  const includes = directives.map(([k, v], i) => ({ k, v, i })).filter((d) => d.k === 'include');
  if (!includes.length) problems.push(`${where}: redis.conf includes no password file`);
  for (const inc of includes) {
    if (!provides(files, inc.v)) problems.push(`${where}: redis.conf includes ${inc.v}, which no volume mount provides`);
    // The last occurrence of a directive wins: an include after them could override the durability settings.
    if (directives.slice(0, inc.i).some(([k]) => k !== 'include')) problems.push(`${where}: redis.conf include ${inc.v} is not before all other directives`);
  }
  return problems;
}

/** RA and OCSP: several replicas, rolling updates, a PDB; the CA: one, Recreate; no PVC, no podAffinity. */
function scalingProblems(objects: K8sObject[]): string[] {
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
function dataFileProblems(objects: K8sObject[]): string[] {
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
function redisNetworkProblems(objects: K8sObject[]): string[] {
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

const REDIS_CHECKS: Record<string, (objects: K8sObject[]) => string[]> = {
  'redis.conf durability': redisConfigProblems,
  'replicas and PodDisruptionBudgets': scalingProblems,
  'data dir files and keys': dataFileProblems,
  'Redis NetworkPolicy and REDIS_URL': redisNetworkProblems,
};

test('k8s/overlays/redis: every object validates against the Kubernetes schema', async () => {
  assert.deepEqual(await schemaProblems(redis()), []);
});

for (const [name, check] of Object.entries({ ...CHECKS, ...REDIS_CHECKS }))
  test(`k8s/overlays/redis: ${name}`, () => {
    assert.deepEqual(check(redis()), []);
  });

test('k8s/overlays/redis: the expected objects, all in namespace ev-pki and labelled part-of ev-pki', () => {
  const objects = redis();
  const names = objects.map((o) => id(o).replace(/^(ConfigMap\/redis-config)-[a-z0-9]+$/, '$1')).sort();
  assert.deepEqual(
    names,
    [
      'ConfigMap/pki-config',
      'ConfigMap/redis-config',
      'CronJob/csms-cert-renew',
      `CronJob/${RETAIN}`,
      ...Object.keys(STEPS).map((n) => `CronJob/${n}`),
      'Deployment/ca',
      'Deployment/ocsp',
      'Deployment/ra',
      'Job/pki-init',
      'Namespace/ev-pki',
      'NetworkPolicy/ca-ingress',
      'NetworkPolicy/redis-ingress',
      'PersistentVolumeClaim/pki-audit-export',
      'PersistentVolumeClaim/pki-data',
      'PodDisruptionBudget/ocsp',
      'PodDisruptionBudget/ra',
      'Role/csms-cert-renew',
      'Role/pki-ca-key-writer',
      'RoleBinding/csms-cert-renew',
      'RoleBinding/pki-ca-key-writer',
      'Secret/pki-secrets',
      'Service/ca',
      'Service/ocsp',
      'Service/ra',
      'Service/redis',
      'Service/redis-headless',
      'ServiceAccount/csms-cert-renew',
      'ServiceAccount/pki-ca-key-writer',
      'StatefulSet/redis',
    ].sort(),
  );
  assertNamespacedAndLabelled(objects);
});

test('k8s/overlays/redis: every service uses Redis; the Secrets not in the render are those the README has you create', () => {
  const objects = redis();
  const cm = obj(find(objects, 'ConfigMap', 'pki-config').data);
  const store = loadStoreConfig({ ...cm, REDIS_PASSWORD_FILE: '' });
  assert.equal(store.redis?.url, 'redis://redis:6379');
  assert.equal(store.redis?.waitReplicas, 0, 'durability from the AOF (appendfsync always), not from WAIT');
  for (const name of ['ra', 'ca', 'ocsp']) {
    const c = deployment(objects, name).container;
    assert.ok(arr(c.envFrom).some((f) => obj(obj(f).configMapRef).name === 'pki-config'), `${name} gets pki-config`);
  }
  for (const s of objects.filter((o) => o.kind === 'Secret'))
    for (const [k, v] of Object.entries(obj(s.data))) assert.equal(v, '', `${id(s)} ${k} is not an empty placeholder`);
  // Every Secret a pod refers to is either in the render (placeholders) or one the README creates.
  const rendered = new Set(objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name));
  const referenced = new Set<string>();
  for (const pod of podSpecs(objects))
    for (const v of arr(pod.spec.volumes).map(obj)) {
      const n = str(obj(v.secret).secretName);
      if (n) referenced.add(n);
      for (const s of arr(obj(v.projected).sources).map(obj)) if (s.secret) referenced.add(String(obj(s.secret).name));
    }
  assert.deepEqual([...referenced].filter((n) => !rendered.has(n)).sort(), [...INIT_SECRETS, REDIS_SECRET].sort());
  const readme = readFileSync(join(K8S_DIR, 'README.md'), 'utf8');
  for (const n of INIT_SECRETS) assert.match(readme, new RegExp(`kubectl -n ev-pki create secret generic ${n} `), `k8s/README.md shows how to create ${n}`);
  assert.match(readme, new RegExp(`- name: ${REDIS_SECRET}\\n +files: \\[password=`), `k8s/README.md shows how to generate ${REDIS_SECRET}`);
});

test('k8s/overlays/redis: an overlay of your own as in the README (real Secrets, --org) passes every check', async () => {
  const objects = renderOverlay(
    [
      'secretGenerator:',
      '  - name: pki-secrets',
      '    behavior: replace',
      '    files: [key-passphrase]',
      '  - name: redis-auth',
      '    files: [password=redis-password]',
      '    options: {disableNameSuffixHash: true}',
      'patches:',
      '  - target: {kind: Job, name: pki-init}',
      '    patch: |-',
      '      - op: replace',
      '        path: /spec/template/spec/containers/0/args',
      '        value: [init, --org, My CPO, --ocsp-url, "https://ocsp.pki.example.net"]',
      'images:',
      '  - {name: ev-pki, newName: registry.example.com/ev-pki, newTag: "1.2.3"}',
      '',
    ].join('\n'),
    { redis: true, files: { 'key-passphrase': 'not-a-real-passphrase-0123456789\n', 'redis-password': '0123456789abcdef0123456789abcdef\n' } },
  );
  assert.deepEqual(await allProblems(objects), []);
  for (const check of Object.values(REDIS_CHECKS)) assert.deepEqual(check(objects), []);
  assert.equal(Buffer.from(String(obj(find(objects, 'Secret', 'redis-auth').data).password), 'base64').toString().trim(), '0123456789abcdef0123456789abcdef');
  assert.notEqual(obj(find(objects, 'Secret', 'pki-secrets').data)['key-passphrase'], '', 'the placeholder was replaced under its own name');
  assert.equal(deployment(objects, 'ra').container.image, 'registry.example.com/ev-pki:1.2.3');
});

test('k8s/overlays/redis: the managed-Redis variant of the README drops the in-cluster Redis and still passes the checks', async () => {
  const del = (apiVersion: string, kind: string, name: string) =>
    ['  - patch: |-', '      $patch: delete', `      apiVersion: ${apiVersion}`, `      kind: ${kind}`, `      metadata: {name: ${name}}`];
  const objects = renderOverlay(
    [
      'secretGenerator:',
      '  - name: redis-auth',
      '    files: [password=redis-password]',
      '    options: {disableNameSuffixHash: true}',
      'patches:',
      '  - target: {kind: ConfigMap, name: pki-config}',
      '    patch: |-',
      '      - {op: replace, path: /data/REDIS_URL, value: "rediss://my-redis.example.net:6380"}',
      '  - target: {kind: Job, name: pki-init}',
      '    patch: |-',
      '      - {op: remove, path: /spec/template/spec/initContainers}',
      ...del('apps/v1', 'StatefulSet', 'redis'),
      ...del('v1', 'Service', 'redis'),
      ...del('v1', 'Service', 'redis-headless'),
      ...del('networking.k8s.io/v1', 'NetworkPolicy', 'redis-ingress'),
      ...del('v1', 'ConfigMap', 'redis-config'),
      '',
    ].join('\n'),
    { redis: true, files: { 'redis-password': '0123456789abcdef0123456789abcdef\n' } },
  );
  assert.deepEqual(objects.filter((o) => o.metadata.name.startsWith('redis') && o.kind !== 'Secret').map(id), []);
  assert.deepEqual(containers(objects).filter((at) => isRedisContainer(at.c)).map((at) => at.where), []);
  assert.deepEqual(await allProblems(objects), []);
  assert.deepEqual([...scalingProblems(objects), ...dataFileProblems(objects)], []);
  assert.equal(obj(find(objects, 'ConfigMap', 'pki-config').data).REDIS_URL, 'rediss://my-redis.example.net:6380');
});

test('k8s/overlays/redis: the prepare steps write the new issuing key into pki-ca-issuer-key as pki-ca-key-writer, which may only get and patch it', () => {
  const objects = redis();
  assert.equal(caKeySecret(objects), 'pki-ca-issuer-key');
  for (const [name, sub] of Object.entries(STEPS)) {
    const prepare = PREPARE_STEPS.includes(name);
    const pod = workload(objects, 'CronJob', name);
    const c = obj(arr(pod.spec.containers)[0]);
    assert.deepEqual(c.args, prepare ? [...sub, '--k8s-secret', 'pki-ca-issuer-key'] : sub, `${name} args`);
    assert.equal(pod.spec.serviceAccountName, prepare ? 'pki-ca-key-writer' : undefined, `${name} service account`);
    assert.equal(pod.spec.automountServiceAccountToken, false);
    assert.equal(pod.spec.affinity, undefined, `${name}: no podAffinity on Redis`);
    const files = mountedFiles(pod, c);
    assert.equal(provides(files, '/var/run/secrets/redis/password')?.source, 'Secret/redis-auth:password');
    assert.equal(provides(files, `${SA_DIR}/token`)?.source, prepare ? 'serviceAccountToken' : undefined);
    assert.deepEqual(secretsOf(pod).sort(), ['pki-secrets', 'redis-auth'], `${name}: no Secret but the passphrase and the Redis password`);
  }
  assert.deepEqual(find(objects, 'Role', 'pki-ca-key-writer').rules, [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['pki-ca-issuer-key'], verbs: ['get', 'patch'] }]);
  const binding = find(objects, 'RoleBinding', 'pki-ca-key-writer');
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pki-ca-key-writer' });
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'pki-ca-key-writer', namespace: 'ev-pki' }]);
  assert.equal(find(objects, 'ServiceAccount', 'pki-ca-key-writer').automountServiceAccountToken, false);
  // The CA sees the new key only through a directory mount (the kubelet updates it); a subPath never changes.
  const ca = deployment(objects, 'ca').container;
  const keys = arr(ca.volumeMounts).map(obj).find((m) => m.mountPath === `${DATA_DIR}/keys`);
  assert.ok(keys, 'the CA mounts keys/');
  assert.equal(keys.subPath, undefined, "the CA's keys/ must not be a subPath mount");
});

test('k8s/overlays/redis: a step option added as the runbook shows (op: add) keeps --k8s-secret', async () => {
  const objects = renderOverlay(
    [
      'secretGenerator:',
      '  - name: redis-auth',
      '    files: [password=redis-password]',
      '    options: {disableNameSuffixHash: true}',
      ...RUNBOOK_STEP_OPTIONS,
      '',
    ].join('\n'),
    { redis: true, files: { 'redis-password': '0123456789abcdef0123456789abcdef\n' } },
  );
  assert.deepEqual(await allProblems(objects), []);
  assert.deepEqual(stepContainer(objects, 'pki-rotate-root-prepare').args, ['rotate-root', 'prepare', '--k8s-secret', 'pki-ca-issuer-key', '--algorithm', 'ecdsa-p384']);
  const readme = readFileSync(join(K8S_DIR, 'README.md'), 'utf8');
  assert.ok(readme.includes(RUNBOOK_STEP_OPTIONS.join('\n')), 'k8s/README.md shows this patch');
});

test('broken: a CA key writer that may do more, a prepare step not writing the key, or another pod with its account is rejected', () => {
  const objects = redis();
  find(objects, 'Role', 'pki-ca-key-writer').rules = [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'patch', 'list'] }];
  stepContainer(objects, 'pki-rotate-issuer-prepare').args = ['rotate-issuer', 'prepare'];
  obj(stepPod(objects, 'pki-rotate-root-activate').spec).serviceAccountName = 'pki-ca-key-writer';
  deployment(objects, 'ra').pod.serviceAccountName = 'pki-ca-key-writer';
  const problems = [...stepProblems(objects), ...rbacProblems(objects)];
  rejects(problems, /ServiceAccount\/pki-ca-key-writer may .*"list".*; expected only/);
  rejects(problems, /Role\/pki-ca-key-writer: a rule without resourceNames/);
  rejects(problems, /Role\/pki-ca-key-writer: verb list/);
  rejects(problems, /CronJob\/pki-rotate-issuer-prepare: does not write the new issuing key into the CA's key Secret \(--k8s-secret pki-ca-issuer-key; none\)/);
  rejects(problems, /CronJob\/pki-rotate-root-activate: serviceAccountName pki-ca-key-writer, but it writes no Secret/);
  rejects(problems, /Deployment\/ra: runs as pki-ca-key-writer/);

  const cluster = redis();
  find(cluster, 'RoleBinding', 'pki-ca-key-writer').roleRef = { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' };
  rejects(stepProblems(cluster), /RoleBinding\/pki-ca-key-writer: binds pki-ca-key-writer to ClusterRole\/edit/);

  const token = redis();
  const prep = obj(stepPod(token, 'pki-rotate-root-prepare').spec);
  const api = obj(arr(prep.volumes).map(obj).find((v) => v.name === 'kube-api-access'));
  obj(obj(arr(obj(api.projected).sources)[0]).serviceAccountToken).audience = 'evpki-ra';
  prep.volumes = arr(prep.volumes).filter((v) => obj(v).name !== 'redis-auth');
  rejects(stepProblems(token), /CronJob\/pki-rotate-root-prepare: a token for audience "evpki-ra", not the Kubernetes API/);
  const noApi = redis();
  const prepC = stepContainer(noApi, 'pki-rotate-issuer-prepare');
  prepC.volumeMounts = arr(prepC.volumeMounts).filter((m) => obj(m).name !== 'kube-api-access');
  rejects(stepProblems(noApi), /CronJob\/pki-rotate-issuer-prepare containers\[pki\]: \/var\/run\/secrets\/kubernetes\.io\/serviceaccount\/token is not from serviceAccountToken/);
});

test('k8s/pki-keys-pod.yaml: a restricted helper with pki-data read-write and nothing else, admitted nowhere, placed with the pki-data pods', async () => {
  const objects = parseManifests(readFileSync(join(K8S_DIR, 'pki-keys-pod.yaml'), 'utf8'));
  assert.deepEqual(objects.map(id), ['Pod/pki-keys']);
  assert.deepEqual(await schemaProblems(objects), []);
  assert.deepEqual([...securityProblems(objects), ...resourceProblems(objects), ...secretProblems(objects)], []);
  const pod = podSpecs(objects)[0]!;
  const c = obj(arr(pod.spec.containers)[0]);
  assert.deepEqual(
    mountedFiles(pod, c).map((f) => [f.path, f.source, f.readOnly]),
    [[DATA_DIR, 'PersistentVolumeClaim/pki-data', false]],
  );
  assert.equal(pod.spec.serviceAccountName, undefined);
  assert.ok(!isCliPod(pod), 'not a pki-cli pod');
  // Its required podAffinity matches its own labels: next to the LMDB pods in the base, anywhere with Redis.
  const terms = arr(obj(obj(pod.spec.affinity).podAffinity).requiredDuringSchedulingIgnoredDuringExecution).map(obj);
  assert.ok(terms.length && terms.every((t) => matches(obj(t.labelSelector), pod.podLabels)));
  for (const objectsOf of [base, redis])
    for (const np of objectsOf().filter((o) => o.kind === 'NetworkPolicy')) assert.ok(!admits(np, pod.podLabels), `${id(np)} admits pki-keys`);
  assert.ok(!base().some((o) => o.kind === 'Pod'), 'not part of the kustomization');
});

test('k8s/README.md: the runbook runs every step as a Job from its CronJob; README.md links to it', () => {
  const readme = readFileSync(join(K8S_DIR, 'README.md'), 'utf8');
  assert.match(readme, /^## Operator runbook$/m);
  for (const h of ['First install', 'Running a step', 'Rotating the root', 'Rotating an issuing CA', 'The root key: off-line between rotations', 'What to watch during and after a rotation'])
    assert.match(readme, new RegExp(`^### ${h}$`, 'm'), `k8s/README.md has "### ${h}"`);
  assert.ok(readme.includes('kubectl -n ev-pki create job --from="cronjob/pki-$step" "$job"'), 'the pki_step helper makes a Job from the CronJob');
  for (const name of Object.keys(STEPS)) assert.ok(readme.includes(`pki_step ${name.slice('pki-'.length)}`), `k8s/README.md runs ${name}`);
  // The root rotation in order: nothing is activated before the stations have the new root.
  const order = ['pki_step rotate-root-prepare', 'pki_step rotate-root-publish', 'InstallCertificate.req', 'GetInstalledCertificateIds.req', 'pki_step rotate-root-activate', 'pki_step rotate-root-retire'];
  const section = readme.slice(readme.indexOf('### Rotating the root'), readme.indexOf('### Rotating an issuing CA'));
  const at = order.map((t) => section.indexOf(t));
  assert.ok(at.every((i) => i >= 0) && at.every((i, n) => n === 0 || i > (at[n - 1] ?? 0)), `"Rotating the root" names ${order.join(' → ')} in this order`);
  const top = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  assert.ok(top.includes('(k8s/README.md#operator-runbook)'), 'README.md links to the runbook');
});

test('k8s/README.md: the base overlay of the first install passes every check', async () => {
  const objects = renderOverlay(
    [
      'secretGenerator:',
      '  - name: pki-secrets',
      '    behavior: replace',
      '    files: [key-passphrase]',
      'patches:',
      '  - target: {kind: Job, name: pki-init}',
      '    patch: |-',
      '      - op: replace',
      '        path: /spec/template/spec/containers/0/args',
      '        value: [init, --org, My CPO, --ocsp-url, "https://ocsp.pki.example.net"]',
      'images:',
      '  - {name: ev-pki, newName: registry.example.com/ev-pki, newTag: "1.2.3"}',
      '',
    ].join('\n'),
    { files: { 'key-passphrase': 'not-a-real-passphrase-0123456789\n' } },
  );
  assert.deepEqual(await allProblems(objects), []);
  for (const name of Object.keys(STEPS)) assert.equal(stepContainer(objects, name).image, 'registry.example.com/ev-pki:1.2.3', `${name} gets the overlay's image`);
});

test('k8s/overlays/redis/pki-export-pod.yaml: a restricted, read-only helper that reaches neither Redis nor the CA', async () => {
  const objects = parseManifests(readFileSync(join(REDIS_DIR, 'pki-export-pod.yaml'), 'utf8'));
  assert.deepEqual(objects.map(id), ['Pod/pki-export']);
  assert.deepEqual(await schemaProblems(objects), []);
  assert.deepEqual([...securityProblems(objects), ...resourceProblems(objects), ...secretProblems(objects)], []);
  const pod = podSpecs(objects)[0]!;
  const c = obj(arr(pod.spec.containers)[0]);
  assert.deepEqual(
    mountedFiles(pod, c).map((f) => [f.path, f.source, f.readOnly]),
    [[DATA_DIR, 'PersistentVolumeClaim/pki-data', true]],
  );
  // Not a pki-cli pod: the NetworkPolicies admit it nowhere.
  const all = [...redis(), ...objects];
  for (const np of all.filter((o) => o.kind === 'NetworkPolicy'))
    for (const f of arr(obj(arr(obj(np.spec).ingress)[0]).from).map(obj)) assert.ok(!matches(obj(f.podSelector), pod.podLabels), `${id(np)} admits pki-export`);
});

// The Redis checks reject broken copies

test('broken: a Redis without a durable AOF, or with the password in its ConfigMap, is rejected', () => {
  for (const [edit, pattern] of [
    [(t: string) => t.replace(/^appendfsync always$/m, 'appendfsync everysec'), /appendfsync is everysec, not always/],
    [(t: string) => t.replace(/^appendonly yes$/m, 'appendonly no'), /appendonly is no, not yes/],
    [(t: string) => `${t}\nappendonly no\n`, /appendonly is no/],
    [(t: string) => `${t}\nrequirepass hunter2\n`, /sets requirepass/],
    [(t: string) => t.replace(/^maxmemory-policy noeviction$/m, 'maxmemory-policy allkeys-lru'), /evicts data/],
    [(t: string) => `${t.replace(/^include .*$/m, '')}\n${/^include .*$/m.exec(t)?.[0] ?? ''}\n`, /include \S+ is not before all other directives/],
    [(t: string) => t.replace(/^include .*$/m, ''), /includes no password file/],
  ] as const) {
    const objects = redis();
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('redis-config'));
    const data = obj(cm?.data);
    data['redis.conf'] = edit(String(data['redis.conf']));
    rejects(redisConfigProblems(objects), pattern);
  }
  const objects = redis();
  obj(find(objects, 'StatefulSet', 'redis').spec).replicas = 3;
  rejects(redisConfigProblems(objects), /replicas is not 1/);
});

test('broken: a Redis password on the command line or in the environment is rejected', () => {
  const objects = redis();
  const sts = obj(obj(obj(find(objects, 'StatefulSet', 'redis').spec).template).spec);
  const c = obj(arr(sts.containers)[0]);
  c.args = ['--requirepass', 'hunter2'];
  c.env = [{ name: 'REDIS_PASSWORD', value: 'hunter2' }];
  obj(obj(c.readinessProbe).exec).command = ['redis-cli', '-a', 'hunter2', 'ping'];
  const problems = redisContainerProblems(objects);
  rejects(problems, /StatefulSet\/redis containers\[redis\]: a password option on the command line: --requirepass/);
  rejects(problems, /StatefulSet\/redis containers\[redis\]: a Redis container has env/);
  rejects(problems, /a password option on the command line: -a/);
});

test('broken: one RA replica, a missing PDB, a CA with two replicas or a PVC on a service is rejected', () => {
  const objects = redis();
  deployment(objects, 'ra').spec.replicas = 1;
  deployment(objects, 'ca').spec.replicas = 2;
  const withoutPdb = objects.filter((o) => !(o.kind === 'PodDisruptionBudget' && o.metadata.name === 'ocsp'));
  deployment(withoutPdb, 'ocsp').pod.volumes = [...arr(deployment(withoutPdb, 'ocsp').pod.volumes), { name: 'x', persistentVolumeClaim: { claimName: 'pki-data' } }];
  const problems = scalingProblems(withoutPdb);
  rejects(problems, /Deployment\/ra: replicas 1 < 2/);
  rejects(problems, /Deployment\/ocsp: no PodDisruptionBudget/);
  rejects(problems, /Deployment\/ca: replicas is not 1/);
  rejects(problems, /Deployment\/ocsp: mounts a PersistentVolumeClaim/);
});

test('broken: a key file outside the CA, or a service seeing more than it needs, is rejected', () => {
  const objects = redis();
  const ra = deployment(objects, 'ra');
  ra.pod.volumes = [...arr(ra.pod.volumes), { name: 'keys', secret: { secretName: 'pki-ca-issuer-key' } }];
  const ocsp = deployment(objects, 'ocsp');
  const projected = obj(obj(arr(ocsp.pod.volumes).map(obj).find((v) => v.name === 'pki-data')).projected);
  projected.sources = [...arr(projected.sources), { secret: { name: 'pki-ra-tls', items: [{ key: 'tls.key', path: 'secrets/ra-client.key.pem' }] } }];
  const job = obj(obj(obj(find(objects, 'CronJob', 'csms-cert-renew').spec).jobTemplate).spec);
  const cronPod = obj(obj(job.template).spec);
  cronPod.volumes = [...arr(cronPod.volumes), { name: 'pki', persistentVolumeClaim: { claimName: 'pki-data' } }];
  const problems = dataFileProblems(objects);
  rejects(problems, /Deployment\/ra: volume keys holds the CA key Secret pki-ca-issuer-key/);
  rejects(problems, /Deployment\/ocsp: data dir holds .*secrets\/ra-client\.key\.pem.*; expected/);
  rejects(problems, /Deployment\/ocsp: volume pki-data holds a key file/);
  rejects(problems, /CronJob\/csms-cert-renew: mounts pki-data/);
});

test('broken: a Redis NetworkPolicy admitting other pods, or not a connecting one, is rejected', () => {
  const objects = redis();
  const np = obj(find(objects, 'NetworkPolicy', 'redis-ingress').spec);
  const rule = obj(arr(np.ingress)[0]);
  rule.from = [
    ...arr(rule.from).filter((f) => obj(obj(obj(f).podSelector).matchLabels)['app.kubernetes.io/name'] !== 'ocsp'),
    { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'csms-cert-renew' } } },
  ];
  const problems = redisNetworkProblems(objects);
  rejects(problems, /Redis NetworkPolicy admits CronJob\/csms-cert-renew/);
  rejects(problems, /Redis NetworkPolicy does not admit Deployment\/ocsp/);
  rejects(problems, /Deployment\/ocsp containers\[ocsp\]: connects to Redis but the NetworkPolicy does not admit it/);
  const open = redis();
  obj(arr(obj(find(open, 'NetworkPolicy', 'redis-ingress').spec).ingress)[0]).from = [{ namespaceSelector: {} }];
  rejects(redisNetworkProblems(open), /not a podSelector in this namespace/);
  const wrongUrl = redis();
  obj(find(wrongUrl, 'ConfigMap', 'pki-config').data).REDIS_URL = 'redis://:hunter2@cache:6379';
  rejects(redisNetworkProblems(wrongUrl), /REDIS_URL carries credentials/);
  rejects(redisNetworkProblems(wrongUrl), /REDIS_URL host cache is no Service of the Redis pods/);
});

test('broken: a *_FILE variable without the mounted file is rejected', () => {
  const objects = redis();
  const ocsp = deployment(objects, 'ocsp').container;
  ocsp.volumeMounts = arr(ocsp.volumeMounts).filter((m) => obj(m).name !== 'redis-auth');
  rejects(mountedFileProblems(objects), /Deployment\/ocsp containers\[ocsp\]: REDIS_PASSWORD_FILE=\/var\/run\/secrets\/redis\/password is in none of its volume mounts/);
});

// ---------------------------------------------------------------------------------------------
// The audit log retention (issue 14.5)

test('issue 14.5: k8s/ and overlays/redis: the audit log retention is a daily CronJob (not suspended) with the retention a ConfigMap setting and its exports on a PVC', () => {
  for (const [variant, objects] of [['base', base()], ['redis', redis()]] as const) {
    assert.deepEqual(retainProblems(objects), [], variant);
    const spec = obj(find(objects, 'CronJob', RETAIN).spec);
    assert.notEqual(spec.suspend, true, `${variant}: runs by itself`);
    assert.equal(obj(find(objects, 'ConfigMap', 'pki-config').data).PKI_AUDIT_RETENTION, '400d', `${variant}: the setting, in pki-config`);
    assert.deepEqual(obj(find(objects, 'PersistentVolumeClaim', 'pki-audit-export').spec).accessModes, ['ReadWriteOnce']);
    const pod = workload(objects, 'CronJob', RETAIN);
    assert.deepEqual(secretsOf(pod), variant === 'redis' ? [REDIS_SECRET] : [], `${variant}: the Redis password only where the store is Redis`);
    assert.equal(pod.spec.affinity === undefined, variant === 'redis', `${variant}: placed with the pki-data pods only on LMDB`);
  }
});

test('issue 14.5: k8s/: the pki-audit-retain command, with its environment, exports and prunes the old audit entries on a real PKI', async () => {
  const objects = base();
  const dev = await makeDevPki();
  const exportDir = mkdtempSync(join(tmpdir(), 'evpki-k8s-retain-'));
  try {
    const old = new Date(Date.now() - 500 * 86_400_000).toISOString();
    const store = openStore({ ...loadStoreConfig({}), dataDir: dev.dataDir });
    try {
      for (let i = 0; i < 3; i++) await store.appendAudit([{ event: 'certificate.issued', actor: 'ca', outcome: 'ok', tenant: 'demo', details: { i } }], old);
      await store.appendAudit([{ event: 'certificate.issued', actor: 'ca', outcome: 'ok', tenant: 'demo' }], new Date().toISOString());
    } finally {
      await store.close();
    }
    const pod = workload(objects, 'CronJob', RETAIN);
    const c = obj(arr(pod.spec.containers)[0]);
    const problems: string[] = [];
    const env = Object.fromEntries(containerEnv(objects, { pod, c, field: 'containers', where: RETAIN }, problems));
    assert.deepEqual(problems, []);
    // The container's command, arguments and environment; only the paths differ from the cluster.
    const argv = [...arr(c.command), ...arr(c.args)].map(String).map((a) => (a === AUDIT_EXPORT_DIR ? exportDir : a));
    assert.ok(argv.includes(exportDir), `writes to ${AUDIT_EXPORT_DIR}`);
    const run = async (): Promise<{ files: { file: string; pruned: number }[]; checkpoint: { seq: number } }> => {
      const r = await promisify(execFile)(process.execPath, [join(REPO_ROOT, argv[1] ?? ''), ...argv.slice(2)], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, ...env, PKI_DATA_DIR: dev.dataDir } });
      return JSON.parse(r.stdout);
    };
    const first = await run();
    assert.deepEqual(first.files.map((f) => [f.file, f.pruned]), [[join(exportDir, 'audit-1-3.jsonl'), 3]]);
    assert.equal(first.checkpoint.seq, 3);
    assert.equal(readFileSync(join(exportDir, 'audit-1-3.jsonl'), 'utf8').trimEnd().split('\n').length, 3);
    const again = await run();
    assert.deepEqual([again.files, again.checkpoint], [[], first.checkpoint], 'again: nothing to do');
  } finally {
    rmSync(exportDir, { recursive: true, force: true });
    dev.cleanup();
  }
});

test('issue 14.5: broken: an audit retention that is suspended, not daily, concurrent, under a year, exports to no PVC, holds a passphrase or retries after exit 2 is rejected', () => {
  rejects(retainProblems(base().filter((o) => !(o.kind === 'CronJob' && o.metadata.name === RETAIN))), /CronJob\/pki-audit-retain is missing/);
  const objects = base();
  const spec = obj(find(objects, 'CronJob', RETAIN).spec);
  spec.suspend = true;
  spec.schedule = '0 3 * * 0';
  spec.concurrencyPolicy = 'Allow';
  const job = obj(obj(spec.jobTemplate).spec);
  job.podFailurePolicy = undefined;
  const pod = obj(obj(job.template).spec);
  pod.volumes = arr(pod.volumes).map((v) => (obj(v).name === 'audit-export' ? { name: 'audit-export', emptyDir: {} } : v));
  pod.volumes = [...arr(pod.volumes), { name: 'pki-secrets', secret: { secretName: 'pki-secrets' } }];
  obj(find(objects, 'ConfigMap', 'pki-config').data).PKI_AUDIT_RETENTION = '90d';
  const problems = retainProblems(objects);
  rejects(problems, /CronJob\/pki-audit-retain: suspended/);
  rejects(problems, /schedule 0 3 \* \* 0 is not once a day/);
  rejects(problems, /concurrencyPolicy Allow, not Forbid/);
  rejects(problems, /retries after exit 2/);
  rejects(problems, /--export-dir \/var\/lib\/pki-audit is not on the PVC pki-audit-export, read-write \(emptyDir\)/);
  rejects(problems, /mounts Secret pki-secrets/);
  rejects(problems, /the retention 90d is under a year/);
  const bad = base();
  obj(find(bad, 'ConfigMap', 'pki-config').data).PKI_AUDIT_RETENTION = '12h';
  rejects(retainProblems(bad), /the retention "12h" .*at least 1 day/);
});
