/**
 * The pki CLI steps (k8s/rotation/): suspended CronJob templates an operator runs as Jobs, the RBAC of
 * the prepare steps that write the CA's key Secret, and the audit log retention CronJob.
 */
import { isDeepStrictEqual } from 'node:util';
import { parseRetention } from '@evpki/cli';
import { containerEnv } from './checks.js';
import { mountedFiles, provides } from './mounts.js';
import { DATA_DIR, REDIS_CLI_SECRET, arr, id, isCliPod, isObj, matches, obj, podSpecs, str, workload, type ContainerAt, type K8sObject, type Obj, type PodSpecAt } from './objects.js';

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
/** The unattended renewals (issue 18): pki CLI CronJobs that run by themselves, and the command each runs. */
export const RENEWALS: Record<string, readonly string[]> = {
  'pki-service-certs-auto-renew': ['service-certs', 'renew', '--if-expiring-within'],
  'pki-crl-sign-root': ['crl', 'sign', '--root', '--if-next-update-within'],
};
/** The pki CLI CronJobs that are no operator step: the retention and the renewals. */
export const isScheduledCli = (name: string): boolean => name === RETAIN || name in RENEWALS;
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
      if (pod.owner.kind === 'CronJob' && isCliPod(pod) && !isScheduledCli(name)) problems.push(`${where}: a pki-cli CronJob that is no step of STEPS`);
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

/** The Redis overlay's service certificate renewal writes the services' TLS Secrets (--k8s-secrets) as this account. */
export const SERVICE_TLS_WRITER = { cronJob: 'pki-service-certs-auto-renew', serviceAccount: 'pki-service-tls-writer', secrets: ['pki-ca-tls', 'pki-ra-tls', 'pki-ocsp-tls'] } as const;

/**
 * The unattended renewals (RENEWALS): each runs by itself on a schedule that comes due, one run at a
 * time, labelled pki-cli, its command with a due-check option, not retried after exit 2, with a
 * deadline and a TTL; pki-data read-write (keys and store) and the key passphrase; no service
 * account, except, with `secretWriter` (the Redis overlay), the service certificate renewal, which
 * writes the services' TLS Secrets (--k8s-secrets) as SERVICE_TLS_WRITER, allowed get and patch of
 * those Secrets and nothing else, with a token for the Kubernetes API only.
 */
export function renewalProblems(objects: K8sObject[], secretWriter = false): string[] {
  const problems: string[] = [];
  for (const [name, sub] of Object.entries(RENEWALS)) {
    const cron = objects.find((o) => o.kind === 'CronJob' && o.metadata.name === name);
    if (!cron) {
      problems.push(`CronJob/${name} is missing`);
      continue;
    }
    const where = id(cron);
    const spec = obj(cron.spec);
    if (spec.suspend === true) problems.push(`${where}: suspend is true`);
    if (/^\S+ \S+ 3[01] 2 \S+$/.test(str(spec.schedule) ?? '31 2')) problems.push(`${where}: schedule ${String(spec.schedule)} never comes due`);
    if (spec.concurrencyPolicy !== 'Forbid') problems.push(`${where}: concurrencyPolicy ${String(spec.concurrencyPolicy)}, not Forbid`);
    const jobTemplate = obj(spec.jobTemplate);
    const pod = podSpecs(objects).find((p) => p.owner === cron);
    if (!pod) {
      problems.push(`${where}: no pod template`);
      continue;
    }
    for (const [what, labels] of [['CronJob', cron.metadata.labels], ['jobTemplate', obj(jobTemplate.metadata).labels], ['pod template', pod.podLabels]] as const)
      if (obj(labels)['app.kubernetes.io/component'] !== 'pki-cli') problems.push(`${where}: ${what} not labelled app.kubernetes.io/component=pki-cli`);
    const job = obj(jobTemplate.spec);
    const failJobOn2 = arr(obj(job.podFailurePolicy).rules)
      .map(obj)
      .some((r) => r.action === 'FailJob' && obj(r.onExitCodes).operator === 'In' && arr(obj(r.onExitCodes).values).includes(2));
    if (job.backoffLimit !== 0 && !failJobOn2) problems.push(`${where}: retries after exit 2: backoffLimit 0, or a podFailurePolicy FailJob on 2`);
    if (!(Number(job.activeDeadlineSeconds) > 0)) problems.push(`${where}: no activeDeadlineSeconds`);
    if (!(Number(job.ttlSecondsAfterFinished) > 0)) problems.push(`${where}: no ttlSecondsAfterFinished`);
    const c = obj(arr(pod.spec.containers)[0]);
    const at: ContainerAt = { pod, c, field: 'containers', where: `${where} containers[${str(c.name) ?? '?'}]` };
    const argv = [...arr(c.command), ...arr(c.args)].map(String);
    const expected = [...PKI_CLI, ...sub];
    if (JSON.stringify(argv.slice(0, expected.length)) !== JSON.stringify(expected)) problems.push(`${where}: runs ${argv.join(' ')}, expected ${expected.join(' ')} …`);
    const files = mountedFiles(pod, c);
    const data = provides(files, `${DATA_DIR}/pki.json`);
    if (data?.source !== 'PersistentVolumeClaim/pki-data' || data.readOnly) problems.push(`${at.where}: ${DATA_DIR} is not the pki-data volume, read-write (${data?.source ?? 'not mounted'})`);
    const passphrase = containerEnv(objects, at, problems).get('PKI_KEY_PASSPHRASE_FILE');
    if (!passphrase || !provides(files, passphrase)) problems.push(`${at.where}: no key passphrase (PKI_KEY_PASSPHRASE_FILE) mounted`);
    const writes = secretWriter && name === SERVICE_TLS_WRITER.cronJob;
    if (!writes) {
      if (str(pod.spec.serviceAccountName) || tokenSources(pod).length) problems.push(`${where}: a service account or token`);
      if (argv.includes('--k8s-secrets')) problems.push(`${where}: --k8s-secrets, but the services read pki-data`);
      continue;
    }
    if (!argv.includes('--k8s-secrets')) problems.push(`${where}: no --k8s-secrets: the services read their TLS files from Secrets`);
    if (str(pod.spec.serviceAccountName) !== SERVICE_TLS_WRITER.serviceAccount) problems.push(`${where}: serviceAccountName ${String(pod.spec.serviceAccountName)}, not ${SERVICE_TLS_WRITER.serviceAccount}`);
    for (const [file, source] of [['token', 'serviceAccountToken'], ['ca.crt', 'ConfigMap/kube-root-ca.crt:ca.crt'], ['namespace', 'downwardAPI:namespace']] as const)
      if (provides(files, `${SA_DIR}/${file}`)?.source !== source) problems.push(`${at.where}: ${SA_DIR}/${file} is not from ${source}`);
    for (const t of tokenSources(pod)) if (t.audience !== undefined) problems.push(`${where}: a token for audience ${JSON.stringify(t.audience)}, not the Kubernetes API`);
    const account = objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === SERVICE_TLS_WRITER.serviceAccount);
    if (account?.automountServiceAccountToken !== false) problems.push(`ServiceAccount/${SERVICE_TLS_WRITER.serviceAccount}: missing, or automountServiceAccountToken is not false`);
    const rules = objects
      .filter((o) => o.kind === 'RoleBinding' && arr(o.subjects).some((x) => obj(x).kind === 'ServiceAccount' && obj(x).name === SERVICE_TLS_WRITER.serviceAccount))
      .flatMap((b) => arr(objects.find((o) => o.kind === 'Role' && o.metadata.name === obj(b.roleRef).name)?.rules));
    const only = [{ apiGroups: [''], resources: ['secrets'], resourceNames: [...SERVICE_TLS_WRITER.secrets], verbs: ['get', 'patch'] }];
    if (!isDeepStrictEqual(rules, only)) problems.push(`ServiceAccount/${SERVICE_TLS_WRITER.serviceAccount} may ${JSON.stringify(rules)}; expected only ${JSON.stringify(only)}`);
    for (const p of podSpecs(objects))
      if (str(p.spec.serviceAccountName) === SERVICE_TLS_WRITER.serviceAccount && p.owner !== cron) problems.push(`${id(p.owner)}: runs as ${SERVICE_TLS_WRITER.serviceAccount}, the service TLS writer`);
  }
  return problems;
}
