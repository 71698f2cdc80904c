import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadStoreConfig } from '@evpki/service';
import { openStore } from '@evpki/store';
import { makeDevPki } from './helpers/pki.js';
import { admits, allProblems, arr, AUDIT_EXPORT_DIR, base, containerEnv, DATA_DIR, find, id, isCliPod, K8S_DIR, matches, mountedFiles, obj, parseManifests, podSpecs, redis, REDIS_CLI_SECRET, rejects, renderOverlay, REPO_ROOT, resourceProblems, RETAIN, retainProblems, schemaProblems, secretProblems, secretsOf, securityProblems, stepContainer, STEPS, workload } from './helpers/k8s.js';

/**
 * Operating the k8s/ deployment: the pki-keys helper pod, the runbook in k8s/README.md, the first
 * install's overlay, and the audit log retention CronJob (issue 14.5).
 */

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
    assert.deepEqual(secretsOf(pod), variant === 'redis' ? [REDIS_CLI_SECRET] : [], `${variant}: the Redis password only where the store is Redis`);
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
