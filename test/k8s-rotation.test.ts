import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { arr, base, CA_API_PORT, caKeySecret, containerEnv, DATA_DIR, find, id, isScheduledCli, obj, PKI_CLI, rbacProblems, rejects, REPO_ROOT, stepContainer, stepPod, stepProblems, STEPS, workload } from './helpers/k8s.js';

/**
 * The pki CLI steps of k8s/rotation/ (suspended CronJob templates an operator runs as Jobs): their
 * templates, their commands run on a real PKI, and the step and RBAC checks rejecting broken copies.
 */

test('k8s/rotation: pki status and every rotation step are suspended CronJob templates; the only Job that runs on apply is pki-init', () => {
  const objects = base();
  assert.deepEqual(objects.filter((o) => o.kind === 'Job').map(id), ['Job/pki-init']);
  const cli = objects.filter((o) => o.kind === 'CronJob' && o.metadata.labels?.['app.kubernetes.io/component'] === 'pki-cli' && !isScheduledCli(o.metadata.name));
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
    assert.match(await run('CronJob', 'pki-service-certs-renew'), /The CA, the RA and the OCSP responder reload them/);
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
