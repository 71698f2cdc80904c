import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { loadCaConfig } from '@evpki/ca';
import { loadOcspConfig } from '@evpki/ocsp-responder';
import { loadRaConfig } from '@evpki/ra';
import { KNOWN_ENV, checkUnknownEnv } from '@evpki/service';

/**
 * The kustomize base in k8s/: rendered with `kubectl kustomize`, every object validated against the
 * Kubernetes schemas (kubernetes-models), every container's environment against KNOWN_ENV and the
 * services' own config loaders, plus probes, resources, security contexts and Secrets. Each check
 * is also run on broken copies, so that a check that rejects nothing fails here.
 */

// test/dist/k8s.test.js → ../../ is the repository root.
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const K8S_DIR = join(REPO_ROOT, 'k8s');

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

/** Renders an overlay of k8s/ (in a temporary directory) with the given extra kustomization lines. */
function renderOverlay(kustomization: string): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'evpki-k8s-'));
  try {
    // kustomize accepts only relative paths to a base.
    writeFileSync(join(dir, 'kustomization.yaml'), `resources:\n  - ${relative(dir, K8S_DIR)}\n${kustomization}`);
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
  readonly where: string;
}

function containers(objects: K8sObject[]): ContainerAt[] {
  const out: ContainerAt[] = [];
  for (const pod of podSpecs(objects))
    for (const field of ['initContainers', 'containers', 'ephemeralContainers'])
      for (const c of arr(pod.spec[field])) out.push({ pod, c: obj(c), where: `${id(pod.owner)} ${field}[${str(obj(c).name) ?? '?'}]` });
  return out;
}

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

/** Runs each service's own config loader over the environment its container gets. */
function configLoaderProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const loaders: Record<string, (env: NodeJS.ProcessEnv) => unknown> = {
    'services/ra/dist/main.js': loadRaConfig,
    'services/ca/dist/main.js': loadCaConfig,
    'services/ocsp/dist/main.js': loadOcspConfig,
    'services/cli/bin/pki.js': checkUnknownEnv,
  };
  for (const at of containers(objects)) {
    const argv = [...arr(at.c.command), ...arr(at.c.args)].map(String);
    const entry = argv.find((a) => a in loaders);
    if (!entry) {
      problems.push(`${at.where}: runs none of ${Object.keys(loaders).join(', ')} (${argv.join(' ')})`);
      continue;
    }
    const env = Object.fromEntries(containerEnv(objects, at, problems));
    try {
      loaders[entry]?.(env);
    } catch (e) {
      problems.push(`${at.where}: ${(e as Error).message}`);
    }
  }
  return problems;
}

function probeProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const expected: Record<string, readonly string[]> = { readinessProbe: ['/readyz'], livenessProbe: ['/healthz'], startupProbe: ['/healthz', '/readyz'] };
  for (const { pod, c, where } of containers(objects)) {
    const ports = arr(c.ports).map(obj);
    const longRunning = pod.owner.kind !== 'Job' && pod.owner.kind !== 'CronJob';
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

const CHECKS: Record<string, (objects: K8sObject[]) => string[]> = {
  env: envProblems,
  'config loaders': configLoaderProblems,
  probes: probeProblems,
  resources: resourceProblems,
  security: securityProblems,
  secrets: secretProblems,
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
      'Deployment/ca',
      'Deployment/ocsp',
      'Deployment/ra',
      'Job/pki-init',
      'Namespace/ev-pki',
      'NetworkPolicy/ca-ingress',
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
  for (const o of objects) {
    if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'ev-pki', `${id(o)} namespace`);
    assert.equal(o.metadata.labels?.['app.kubernetes.io/part-of'], 'ev-pki', `${id(o)} part-of label`);
  }
  for (const pod of podSpecs(objects)) assert.equal(pod.podLabels['app.kubernetes.io/part-of'], 'ev-pki', `${id(pod.owner)} pod template part-of label`);
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
  for (const svc of ['ra', 'ca', 'ocsp']) {
    const port = Number(cm[`${svc.toUpperCase()}_PORT`]);
    assert.equal(cm[`${svc.toUpperCase()}_HOST`], '0.0.0.0');
    const dep = find(objects, 'Deployment', svc);
    const podSpec = obj(obj(obj(dep.spec).template).spec);
    const c = obj(arr(podSpec.containers)[0]);
    assert.deepEqual(c.command, ['node', `services/${svc}/dist/main.js`]);
    const http = arr(c.ports).map(obj).find((p) => p.name === 'http');
    assert.equal(http?.containerPort, port, `${svc} containerPort = ${svc.toUpperCase()}_PORT`);
    const service = find(objects, 'Service', svc);
    assert.deepEqual(obj(service.spec).selector, obj(obj(dep.spec).selector).matchLabels, `Service/${svc} selects Deployment/${svc}`);
    const sp = obj(arr(obj(service.spec).ports)[0]);
    assert.equal(sp.port, port);
    assert.equal(sp.targetPort, 'http');
    const volMounts = arr(c.volumeMounts).map(obj).filter((m) => m.name === 'pki-data');
    // Services write only the store; pki.json, keys and secrets are read-only for them.
    for (const m of volMounts) assert.ok(m.readOnly === true || m.subPath === 'store', `${svc} mounts ${String(m.mountPath)} writable`);
  }
  const caUrl = new URL(String(cm.RA_CA_URL));
  assert.equal(caUrl.hostname, 'ca');
  assert.equal(Number(caUrl.port), Number(cm.CA_PORT));
});

test('k8s/: the CA admits only the RA, the OCSP responder and CLI Jobs; only the CA and CLI Jobs get the passphrase', () => {
  const objects = base();
  const np = obj(find(objects, 'NetworkPolicy', 'ca-ingress').spec);
  assert.deepEqual(obj(np.podSelector).matchLabels, { 'app.kubernetes.io/name': 'ca' });
  assert.deepEqual(np.policyTypes, ['Ingress']);
  const rules = arr(np.ingress).map(obj);
  assert.equal(rules.length, 1);
  assert.deepEqual(
    arr(rules[0]?.from).map((f) => obj(f)),
    [
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ra' } } },
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ocsp' } } },
      { podSelector: { matchLabels: { 'app.kubernetes.io/component': 'pki-cli' } } },
    ],
  );
  const ra = podSpecs(objects).find((p) => p.owner.kind === 'Deployment' && p.owner.metadata.name === 'ra');
  assert.equal(ra?.podLabels['app.kubernetes.io/name'], 'ra');
  const job = podSpecs(objects).find((p) => p.owner.kind === 'Job' && p.owner.metadata.name === 'pki-init');
  assert.equal(job?.podLabels['app.kubernetes.io/component'], 'pki-cli');

  for (const pod of podSpecs(objects)) {
    const secretVolumes = arr(pod.spec.volumes).map(obj).filter((v) => v.secret);
    const isCa = pod.owner.kind === 'Deployment' && pod.owner.metadata.name === 'ca';
    const isCli = pod.podLabels['app.kubernetes.io/component'] === 'pki-cli';
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
