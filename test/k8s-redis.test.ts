import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadStoreConfig } from '@evpki/service';
import { allProblems, arr, assertNamespacedAndLabelled, caKeySecret, CHECKS, containers, DATA_DIR, dataFileProblems, deployment, find, id, INIT_SECRETS, isRedisContainer, K8S_DIR, matches, mountedFileProblems, mountedFiles, obj, parseManifests, podSpecs, PREPARE_STEPS, provides, rbacProblems, redis, REDIS_CHECKS, REDIS_DIR, REDIS_SECRET_FILES, REDIS_SECRET_GENERATORS, REDIS_SECRETS, REDIS_USER_SECRETS, redisConfigProblems, redisContainerProblems, redisNetworkProblems, redisUserProblems, rejects, RENEWALS, renewalProblems, SERVICE_TLS_WRITER, renderOverlay, resourceProblems, RETAIN, RUNBOOK_STEP_OPTIONS, SA_DIR, scalingProblems, schemaProblems, secretProblems, secretsOf, securityProblems, stepContainer, stepPod, stepProblems, STEPS, str, workload } from './helpers/k8s.js';

/**
 * The Redis overlay (k8s/overlays/redis, a kustomize Component over the base): the same checks as
 * the base plus REDIS_CHECKS, the objects and Secrets, the README's own and managed-Redis overlays,
 * the CA key writer, the export pod; and the Redis checks rejecting broken copies.
 */

// ---------------------------------------------------------------------------------------------
// The Redis overlay (k8s/overlays/redis, a kustomize Component over the base)

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
      ...Object.keys(RENEWALS).map((n) => `CronJob/${n}`),
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
      'Role/pki-service-tls-writer',
      'RoleBinding/csms-cert-renew',
      'RoleBinding/pki-ca-key-writer',
      'RoleBinding/pki-service-tls-writer',
      'Secret/pki-secrets',
      'Service/ca',
      'Service/ocsp',
      'Service/ocsp-metrics',
      'Service/ra',
      'Service/redis',
      'Service/redis-headless',
      'ServiceAccount/csms-cert-renew',
      'ServiceAccount/pki-ca-key-writer',
      'ServiceAccount/pki-service-tls-writer',
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
  assert.deepEqual([...referenced].filter((n) => !rendered.has(n)).sort(), [...INIT_SECRETS, ...REDIS_SECRETS].sort());
  const readme = readFileSync(join(K8S_DIR, 'README.md'), 'utf8');
  for (const n of INIT_SECRETS) assert.match(readme, new RegExp(`kubectl -n ev-pki create secret generic ${n} `), `k8s/README.md shows how to create ${n}`);
  const generators = REDIS_SECRET_GENERATORS.map((l) => `   ${l}`).join('\n');
  assert.ok(readme.includes(generators), `k8s/README.md shows how to generate ${REDIS_SECRETS.join(', ')}:\n${generators}`);
  assert.match(readme, /pki\.js redis-acl --password-dir redis-passwords --out users\.acl/, 'k8s/README.md shows how to write them');
});

test('k8s/overlays/redis: an overlay of your own as in the README (real Secrets, --org) passes every check', async () => {
  const objects = renderOverlay(
    [
      'secretGenerator:',
      '  - name: pki-secrets',
      '    behavior: replace',
      '    files: [key-passphrase]',
      ...REDIS_SECRET_GENERATORS,
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
    { redis: true, files: { 'key-passphrase': 'not-a-real-passphrase-0123456789\n', ...REDIS_SECRET_FILES } },
  );
  assert.deepEqual(await allProblems(objects), []);
  for (const check of Object.values(REDIS_CHECKS)) assert.deepEqual(check(objects), []);
  const data = (name: string, key: string) => Buffer.from(String(obj(find(objects, 'Secret', name).data)[key]), 'base64').toString();
  assert.equal(data('redis-auth', 'password'), REDIS_SECRET_FILES['redis-passwords/default']);
  for (const [user, secret] of Object.entries(REDIS_USER_SECRETS)) assert.equal(data(secret, 'password'), REDIS_SECRET_FILES[`redis-passwords/${user}`], secret);
  assert.equal(data('redis-acl', 'users.acl'), REDIS_SECRET_FILES['users.acl']);
  assert.notEqual(obj(find(objects, 'Secret', 'pki-secrets').data)['key-passphrase'], '', 'the placeholder was replaced under its own name');
  assert.equal(deployment(objects, 'ra').container.image, 'registry.example.com/ev-pki:1.2.3');
});

test('k8s/overlays/redis: the managed-Redis variant of the README drops the in-cluster Redis and still passes the checks', async () => {
  const del = (apiVersion: string, kind: string, name: string) =>
    ['  - patch: |-', '      $patch: delete', `      apiVersion: ${apiVersion}`, `      kind: ${kind}`, `      metadata: {name: ${name}}`];
  const objects = renderOverlay(
    [
      'secretGenerator:',
      ...REDIS_SECRET_GENERATORS,
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
    { redis: true, files: REDIS_SECRET_FILES },
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
    assert.equal(provides(files, '/var/run/secrets/redis/password')?.source, 'Secret/redis-auth-cli:password');
    assert.equal(provides(files, `${SA_DIR}/token`)?.source, prepare ? 'serviceAccountToken' : undefined);
    assert.deepEqual(secretsOf(pod).sort(), ['pki-secrets', 'redis-auth-cli'], `${name}: no Secret but the passphrase and the pki CLI's Redis password`);
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
      ...REDIS_SECRET_GENERATORS,
      ...RUNBOOK_STEP_OPTIONS,
      '',
    ].join('\n'),
    { redis: true, files: REDIS_SECRET_FILES },
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
    [(t: string) => `${t}\ninclude /etc/redis/extra.conf\n`, /include \/etc\/redis\/extra\.conf is not before all other directives/],
    [(t: string) => `include /etc/redis/extra.conf\n${t}`, /includes \/etc\/redis\/extra\.conf, which no volume mount provides/],
    [(t: string) => t.replace(/^aclfile .*$/m, ''), /has no aclfile/],
    [(t: string) => t.replace(/^aclfile .*$/m, 'aclfile /data/users.acl'), /aclfile \/data\/users\.acl is .*, not Secret\/redis-acl:users\.acl/],
    [(t: string) => `${t}\nuser default on nopass ~* +@all\n`, /sets user/],
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

test('broken: an RA without its OAuth2 token key (POST /oauth/token would answer 500) is rejected', () => {
  const objects = redis();
  const projected = obj(obj(arr(deployment(objects, 'ra').pod.volumes).map(obj).find((v) => v.name === 'pki-data')).projected);
  projected.sources = arr(projected.sources).filter((s) => obj(obj(s).secret).name !== 'pki-ra-token');
  rejects(dataFileProblems(objects), /Deployment\/ra: data dir holds [^;]*secrets\/ra-client\.pem, secrets\/service-ca\.pem; expected .*secrets\/ra-token\.key\.pem/);
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

test('broken (issue 15): a service on another Redis user or with another user\'s password, a pod with the ACL file, a Redis container with a service password is rejected', () => {
  const objects = redis();
  const setUser = (c: Record<string, unknown>, value?: string) =>
    (c.env = [...arr(c.env).filter((e) => obj(e).name !== 'REDIS_USERNAME'), ...(value ? [{ name: 'REDIS_USERNAME', value }] : [])]);
  setUser(deployment(objects, 'ra').container, 'pki-ca');
  setUser(deployment(objects, 'ca').container);
  const ocsp = deployment(objects, 'ocsp');
  obj(obj(arr(ocsp.pod.volumes).map(obj).find((v) => v.name === 'redis-auth')).secret).secretName = 'redis-auth-ca';
  const retain = obj(stepPod(objects, RETAIN).spec);
  retain.volumes = [...arr(retain.volumes), { name: 'acl', secret: { secretName: 'redis-acl' } }];
  const sts = obj(obj(obj(find(objects, 'StatefulSet', 'redis').spec).template).spec);
  obj(obj(arr(sts.volumes).map(obj).find((v) => v.name === 'redis-auth')).secret).secretName = 'redis-auth-cli';
  const problems = redisUserProblems(objects);
  rejects(problems, /Deployment\/ra containers\[ra\]: REDIS_USERNAME is pki-ca, not its own user pki-ra/);
  rejects(problems, /Deployment\/ca containers\[ca\]: REDIS_USERNAME is undefined, not its own user pki-ca/);
  rejects(problems, /Deployment\/ocsp containers\[ocsp\]: REDIS_PASSWORD_FILE is Secret\/redis-auth-ca:password, not Secret\/redis-auth-ocsp:password/);
  rejects(problems, /Deployment\/ocsp: holds the Redis password of pki-ca/);
  rejects(problems, /CronJob\/pki-audit-retain: mounts the Redis ACL file/);
  rejects(problems, /StatefulSet\/redis containers\[redis\]: a Redis container sees Secret\/redis-auth-cli:password/);
  rejects(problems, /StatefulSet\/redis: holds the Redis password of pki-cli/);
});

test('k8s/overlays/redis (issue 18): the renewals run; the service certificate renewal also writes the services\' TLS Secrets, as an account allowed only that', () => {
  assert.deepEqual(renewalProblems(redis(), true), []);
  const objects = redis();
  const role = find(objects, 'Role', SERVICE_TLS_WRITER.serviceAccount);
  role.rules = [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['pki-ca-tls', 'pki-ca-issuer-key'], verbs: ['get', 'patch'] }];
  const cron = obj(obj(obj(obj(find(objects, 'CronJob', SERVICE_TLS_WRITER.cronJob).spec).jobTemplate).spec).template);
  const c = obj(arr(obj(cron.spec).containers)[0]);
  c.args = arr(c.args).filter((a) => a !== '--k8s-secrets');
  const problems = renewalProblems(objects, true);
  rejects(problems, /ServiceAccount\/pki-service-tls-writer may .*pki-ca-issuer-key/);
  rejects(problems, /CronJob\/pki-service-certs-auto-renew: no --k8s-secrets/);
  // In the base the services read pki-data: no account, no token, no Secret writes.
  rejects(renewalProblems(redis(), false), /CronJob\/pki-service-certs-auto-renew: a service account or token/);
});
