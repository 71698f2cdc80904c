/**
 * The runbook "From image to first certificate" in k8s/README.md (issue 18): every make target,
 * file, kustomize overlay, Kubernetes object, Service port, `pki` command (run for real on a PKI) and
 * RA route it names exists, and its names agree with the manifests (the tenant and CPO name that
 * RA_K8S_SA_MAP and the csms-cert-renew CronJob expect).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadOperations, OPENAPI_PATH } from '@evpki/ra';
import { allProblems, arr, find, obj, REPO_ROOT, renderOverlay, str, workload, type K8sObject } from './helpers/k8s.js';
import { makeDevPki, type DevPki } from './helpers/pki.js';
import { runPki } from './helpers/processes.js';

const README = readFileSync(join(REPO_ROOT, 'k8s', 'README.md'), 'utf8');
const block = /<!-- k8s-runbook -->\s*```sh\n([\s\S]*?)\n```/.exec(README)?.[1] ?? '';
/** The runbook's lines, continuation lines joined, comments dropped. */
const lines = block
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .filter((l) => l.trim() && !l.trim().startsWith('#'));

/** Shell words of a line: single and double quotes, no expansion (enough for the runbook). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

/** The overlay the runbook writes (between <<'YAML' and YAML), and its objects rendered over k8s/. */
const overlayText = /cat > kustomization\.yaml <<'YAML'\n([\s\S]*?)\nYAML/.exec(block)?.[1] ?? '';
let objects: K8sObject[];
let pki: DevPki;

before(async () => {
  const overlay = parse(overlayText) as Record<string, unknown>;
  assert.deepEqual(overlay.resources, ['../ev-pki/k8s'], 'the overlay sits next to the ev-pki checkout');
  const { resources: _r, apiVersion: _a, kind: _k, ...rest } = overlay;
  objects = renderOverlay(stringify(rest), { files: { 'key-passphrase': 'a-passphrase-of-at-least-16-chars\n' } });
  pki = await makeDevPki();
});
after(() => pki?.cleanup());

test('the runbook block is there, and its overlay renders and passes every check of the base', async () => {
  assert.ok(lines.length > 20, 'k8s/README.md has the <!-- k8s-runbook --> block');
  assert.deepEqual(await allProblems(objects), []);
});

test('its make targets and files exist: make image writes the OCI archive it loads', () => {
  const makefile = readFileSync(join(REPO_ROOT, 'Makefile'), 'utf8');
  const targets = lines.filter((l) => l.startsWith('make ')).map((l) => words(l)[1]!);
  assert.deepEqual(targets, ['image']);
  for (const t of targets) assert.match(makefile, new RegExp(`^${t}:`, 'm'), `Makefile has ${t}`);
  const archive = /oci-archive:(\S+?):?\s/.exec(block)?.[1];
  assert.equal(archive, 'dist/ev-pki.oci.tar');
  assert.match(readFileSync(join(REPO_ROOT, 'scripts', 'build-image.sh'), 'utf8'), /ARCHIVE=\$\{IMAGE_ARCHIVE-dist\/ev-pki\.oci\.tar\}/);
  // The image loaded is the one the base names (images: ev-pki:dev).
  assert.match(block, /docker-archive:\S+:ev-pki:dev/);
  assert.equal(str(obj(arr(workload(objects, 'Deployment', 'ra').spec.containers)[0]).image), 'ev-pki:dev');
});

test('every kubectl object it names exists in the rendered manifests; port-forwards match the Services', () => {
  const named = [...block.matchAll(/\b(job|cronjob|deployment|svc)\/([a-z0-9-]+)/g)].map((m) => [m[1]!, m[2]!] as const);
  assert.ok(named.length >= 6);
  const kinds: Record<string, string> = { job: 'Job', cronjob: 'CronJob', deployment: 'Deployment', svc: 'Service' };
  for (const [kind, name] of named) assert.ok(find(objects, kinds[kind]!, name), `${kind}/${name} exists`);
  for (const l of lines.filter((x) => x.includes('port-forward'))) {
    const w = words(l);
    const svc = w.find((x) => x.startsWith('svc/'))!.slice(4);
    const port = Number(w.find((x) => /^\d+:\d+$/.test(x))!.split(':')[1]);
    const ports = arr(obj(find(objects, 'Service', svc).spec).ports).map((p) => Number(obj(p).port));
    assert.ok(ports.includes(port), `Service ${svc} has port ${port}`);
  }
  assert.ok(lines.some((l) => l.trim() === 'kubectl apply -k .'), 'applies the overlay it wrote');
});

test('its names agree with the manifests: the tenant and CPO name of RA_K8S_SA_MAP, the csms-cert-renew CronJob and pki-init', () => {
  const tenantsAdd = words(lines.find((l) => l.startsWith('pki_run tenants add'))!);
  const opt = (w: string[], name: string): string => w[w.indexOf(name) + 1]!;
  const ra = obj(arr(workload(objects, 'Deployment', 'ra').spec.containers)[0]);
  const map = JSON.parse(str(obj(arr(ra.env).map(obj).find((e) => e.name === 'RA_K8S_SA_MAP')).value)!) as Record<string, { tenant: string }>;
  assert.equal(map['system:serviceaccount:ev-pki:csms-cert-renew']?.tenant, opt(tenantsAdd, '--id'));
  const renew = arr(obj(arr(workload(objects, 'CronJob', 'csms-cert-renew').spec.containers)[0]).args).map(String);
  assert.equal(opt(renew, '--org'), opt(tenantsAdd, '--cpo-name'), 'the CronJob renews for the tenant the runbook adds');
  assert.ok(opt(renew, '--cn').endsWith(`.${opt(tenantsAdd, '--server-domain')}`), 'its server name is in the tenant domain');
  const init = arr(obj(arr(workload(objects, 'Job', 'pki-init').spec.containers)[0]).args).map(String);
  assert.equal(opt(init, '--org'), opt(tenantsAdd, '--cpo-name'));
  assert.match(block, new RegExp(`-subj "/O=${opt(tenantsAdd, '--cpo-name')}/CN=`), 'the CSR names the CPO');
});

test('its pki commands run (the real CLI, on a PKI): tenants add, clients add', async () => {
  const runs = lines.filter((l) => l.startsWith('pki_run ')).map((l) => words(l.replace(/\s*>.*$/, '')).slice(1));
  assert.equal(runs.length, 2);
  for (const args of runs) {
    const r = await runPki(['--data-dir', pki.dataDir, ...args], pki.storeEnv, 60_000);
    assert.equal(r.code, 0, `pki ${args.join(' ')}: ${r.stderr}`);
    if (args.includes('--json')) assert.ok(JSON.parse(r.stdout).clientSecret, 'client.json holds the client id and secret the token step reads');
  }
});

test('every RA route it calls is an operation of openapi.yaml (or POST /oauth/token)', () => {
  const ops = loadOperations(OPENAPI_PATH);
  const calls = lines
    .filter((l) => l.includes('curl '))
    .map((l) => {
      const w = words(l);
      const url = w.find((x) => x.startsWith('$RA/'))!;
      const method = w.includes('-X') ? w[w.indexOf('-X') + 1]! : w.includes('-d') || w.includes('--data') ? 'POST' : 'GET';
      return [method, url.slice(3)] as const;
    });
  assert.ok(calls.length >= 4);
  for (const [method, path] of calls) {
    if (path === '/oauth/token') assert.equal(method, 'POST');
    else assert.ok(ops.match(method, path), `${method} ${path} is an openapi.yaml operation`);
  }
  // The OCSP check asks the forwarded responder at its path.
  assert.match(block, /-url http:\/\/127\.0\.0\.1:8082\/ocsp/);
});
