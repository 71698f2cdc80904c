/**
 * The Redis overlay (k8s/overlays/redis, a kustomize Component over the base): Redis
 * durability, replicas and PodDisruptionBudgets, which pod holds which file, the Redis NetworkPolicy.
 */
import { basename, relative } from 'node:path';
import { dataPaths } from '@evpki/service';
import { containerEnv } from './checks.js';
import { secretsOf } from './steps.js';
import { mountedFiles, provides } from './mounts.js';
import { DATA_DIR, REDIS_ACL_SECRET, REDIS_PROBE_SECRET, REDIS_USER_SECRETS, arr, containers, id, isCliPod, isRedisContainer, matches, obj, podSpecs, str, workload, type K8sObject, type Obj, type PodSpecAt } from './objects.js';

/** The Secrets the operator creates from the `pki init` output (k8s/README.md): not in the render. */
export const INIT_SECRETS = ['pki-manifest', 'pki-ca-tls', 'pki-ra-tls', 'pki-ocsp-tls', 'pki-ra-jwt', 'pki-ra-token', 'pki-ca-issuer-key'];
/** The RA's OAuth2 token key (POST /oauth/token signs with it), where the RA reads it: taken from dataPaths, so the manifests cannot drift from the code. */
export const RA_TOKEN_KEY_FILE = relative(DATA_DIR, dataPaths(DATA_DIR).raTokenKey);
/** What each service reads from its data dir (`*` = every key of one Secret, for keys/<issuerId>.key.pem). */
export const DATA_DIR_FILES: Record<string, readonly string[]> = {
  ra: ['pki.json', 'ra/jwt-public.jwk.json', 'secrets/ra-client.key.pem', 'secrets/ra-client.pem', RA_TOKEN_KEY_FILE, 'secrets/service-ca.pem'].sort(),
  ocsp: ['pki.json', 'secrets/ocsp-client.key.pem', 'secrets/ocsp-client.pem', 'secrets/service-ca.pem'],
  ca: ['keys/*', 'pki.json', 'secrets/ca-server.key.pem', 'secrets/ca-server.pem', 'secrets/service-ca.pem'],
};
/** The key files a service other than the CA may hold: its own TLS client key (mutual TLS to the CA), and the RA its OAuth2 token key. */
export const OWN_KEYS: Record<string, readonly string[]> = { 'Deployment/ra': ['secrets/ra-client.key.pem', RA_TOKEN_KEY_FILE], 'Deployment/ocsp': ['secrets/ocsp-client.key.pem'] };

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
      // Its own keys, by path and by the Secret key named after the file (pki-ra-token's ra-token.key.pem).
      const text = (OWN_KEYS[owner] ?? []).flatMap((own) => [own, basename(own)]).reduce((t, own) => t.replaceAll(`"${own}"`, '""'), JSON.stringify(v));
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
