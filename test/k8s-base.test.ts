import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CA_HOSTNAMES } from '@evpki/cli';
import { allProblems, arr, assertNamespacedAndLabelled, base, CA_API_PORT, CA_OPS_PORT, CHECKS, configLoaderProblems, deployment, envProblems, find, id, obj, podSpecs, probeProblems, rejects, RENEWALS, renewalProblems, renderOverlay, resourceProblems, RETAIN, schemaProblems, secretProblems, securityProblems, STEPS, str } from './helpers/k8s.js';

/**
 * The kustomize base in k8s/ (test/helpers/k8s.ts renders it and has the checks): every object against
 * the Kubernetes schemas, every check of CHECKS, the objects, ConfigMap, ports, Services, the CA's
 * NetworkPolicy and the Secret; and the checks rejecting broken copies of the base.
 */

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
      `CronJob/${RETAIN}`,
      ...Object.keys(RENEWALS).map((n) => `CronJob/${n}`),
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

// ---------------------------------------------------------------------------------------------
// The checks reject broken copies

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

test('k8s/ (issue 18): the unattended renewals (service certificates weekly, the root CRL monthly) run by themselves with the store, the keys and the passphrase', () => {
  assert.deepEqual(renewalProblems(base()), []);
  const objects = base();
  const crl = obj(find(objects, 'CronJob', 'pki-crl-sign-root').spec);
  crl.suspend = true;
  crl.concurrencyPolicy = 'Allow';
  const auto = obj(obj(obj(obj(find(objects, 'CronJob', 'pki-service-certs-auto-renew').spec).jobTemplate).spec).template);
  const c = obj(arr(obj(auto.spec).containers)[0]);
  c.args = ['service-certs', 'renew'];
  c.env = [];
  const problems = renewalProblems(objects);
  rejects(problems, /CronJob\/pki-crl-sign-root: suspend is true/);
  rejects(problems, /CronJob\/pki-crl-sign-root: concurrencyPolicy Allow, not Forbid/);
  rejects(problems, /CronJob\/pki-service-certs-auto-renew: runs node services\/cli\/bin\/pki.js service-certs renew, expected .* --if-expiring-within/);
  rejects(problems, /pki-service-certs-auto-renew containers\[pki\]: no key passphrase/);
  rejects(renewalProblems(objects.filter((o) => o.metadata.name !== 'pki-crl-sign-root')), /CronJob\/pki-crl-sign-root is missing/);
});
