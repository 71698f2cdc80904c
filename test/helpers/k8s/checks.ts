/**
 * The checks of every render (base and Redis overlay), each returning a list of problems ([] =
 * fine), for the real manifests and for broken copies: Kubernetes schemas, environment (KNOWN_ENV
 * and the services' own config loaders), probes, resources, security contexts, Secrets, mounted
 * files, Redis containers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCaConfig } from '@evpki/ca';
import { loadOcspConfig } from '@evpki/ocsp-responder';
import { loadRaConfig } from '@evpki/ra';
import { KNOWN_ENV, checkUnknownEnv, loadStoreConfig } from '@evpki/service';
import { mountedFiles, provides } from './mounts.js';
import { arr, containers, id, isObj, isRedisContainer, obj, podSpecs, str, type ContainerAt, type K8sObject, type Obj } from './objects.js';

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
    env.set(name, str(obj(e).value) ?? (obj(e).valueFrom ? valueFromOf(c, obj(obj(e).valueFrom), `${where}: env ${name}`, problems) : ''));
  }
  return env;
}

/** Kubernetes CPU quantities: "2", "1.5", "1500m". */
const cpuCores = (q: string): number => (q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q));

/**
 * What a valueFrom gives: a CPU resourceFieldRef is resolved from the container's own resources as
 * Kubernetes does (rounded up to the divisor: OCSP_WORKERS from limits.cpu); other sources are not
 * known here: a placeholder that the loaders parse as a string.
 */
function valueFromOf(c: Record<string, unknown>, from: Record<string, unknown>, where: string, problems: string[]): string {
  const ref = from.resourceFieldRef ? obj(from.resourceFieldRef) : undefined;
  const resource = str(ref?.resource) ?? '';
  if (!ref || !/^(limits|requests)\.cpu$/.test(resource)) return '(from valueFrom)';
  const [kind, res] = resource.split('.') as [string, string];
  const raw = obj(obj(c.resources)[kind])[res];
  const q = typeof raw === 'number' ? String(raw) : str(raw);
  if (q === undefined) {
    problems.push(`${where}: resourceFieldRef ${resource} but the container sets no ${resource}`);
    return '(from valueFrom)';
  }
  return String(Math.ceil(cpuCores(q) / cpuCores(str(ref.divisor) ?? '1')));
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
