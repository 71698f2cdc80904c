import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from './cli-error.js';
import { EX_TEMPFAIL } from './exit-codes.js';

/** Where a pod finds its service account credentials (the standard projection path). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface K8sApiTarget {
  /** `https://host:port` of the API server; in a pod from KUBERNETES_SERVICE_HOST/PORT. */
  readonly apiServer: string;
  /** Directory holding `token`, `ca.crt` and `namespace` (a projected service account token). */
  readonly serviceAccountDir: string;
}

/** The in-cluster API server: KUBERNETES_SERVICE_HOST/PORT (always set in pods), else the DNS name. */
export function inClusterTarget(env: NodeJS.ProcessEnv): K8sApiTarget {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const apiServer = host ? `https://${host.includes(':') ? `[${host}]` : host}:${port}` : 'https://kubernetes.default.svc';
  return { apiServer, serviceAccountDir: SERVICE_ACCOUNT_DIR };
}

export interface TlsSecretContent {
  readonly name: string;
  readonly keyPem: string;
  readonly chainPem: string;
  /** Recorded as annotations, for `kubectl get secret -o yaml` readers. */
  readonly serialNumber: string;
  readonly notAfter: string;
}

interface ApiAnswer {
  readonly status: number;
  readonly body: string;
}

function readSa(dir: string, file: string): string {
  try {
    return readFileSync(join(dir, file), 'utf8').trim();
  } catch {
    throw new CliError(`--k8s-secret: cannot read ${join(dir, file)} (is a service account token projected into the pod?)`, 2);
  }
}

function call(target: K8sApiTarget, method: string, path: string, contentType: string, body: string): Promise<ApiAnswer> {
  // Re-read on every call: projected service account tokens are rotated by the kubelet.
  const token = readSa(target.serviceAccountDir, 'token');
  const ca = readSa(target.serviceAccountDir, 'ca.crt');
  const url = new URL(path, target.apiServer);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'content-type': contentType, 'content-length': Buffer.byteLength(body) },
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

const statusMessage = (a: ApiAnswer): string => {
  try {
    return (JSON.parse(a.body) as { message?: string }).message ?? a.body.slice(0, 200);
  } catch {
    return a.body.slice(0, 200);
  }
};

function failure(what: string, a: ApiAnswer): CliError {
  const msg = `Kubernetes API: ${what} answered ${a.status}: ${statusMessage(a)}`;
  return new CliError(msg, a.status >= 500 || a.status === 429 || a.status === 409 ? EX_TEMPFAIL : 2);
}

/**
 * Writes key and chain into a `kubernetes.io/tls` Secret in the pod's namespace with one merge
 * patch (both keys change in one object update: readers never see a new key with an old chain).
 * The Role needs get/update/patch on this one Secret (resourceNames). If the Secret does not exist
 * yet it is created, which needs `create` on secrets: RBAC cannot restrict create to a name, so the
 * base Role does not grant it and a 403 there says how to create the Secret once.
 */
export async function writeTlsSecret(target: K8sApiTarget, s: TlsSecretContent): Promise<'patched' | 'created'> {
  const namespace = readSa(target.serviceAccountDir, 'namespace');
  const data = { 'tls.crt': Buffer.from(s.chainPem).toString('base64'), 'tls.key': Buffer.from(s.keyPem).toString('base64') };
  const annotations = { 'evpki.io/serial-number': s.serialNumber, 'evpki.io/not-after': s.notAfter };
  const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  const patch = JSON.stringify({ metadata: { annotations }, data });
  const net = (e: unknown): CliError => new CliError(`Kubernetes API ${target.apiServer} unreachable: ${(e as Error).message}`, EX_TEMPFAIL);

  const patched = await call(target, 'PATCH', `${base}/${encodeURIComponent(s.name)}`, 'application/merge-patch+json', patch).catch((e: unknown) => {
    throw net(e);
  });
  if (patched.status === 200) return 'patched';
  if (patched.status !== 404) throw failure(`PATCH secret ${namespace}/${s.name}`, patched);

  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: s.name, namespace, annotations }, type: 'kubernetes.io/tls', data };
  const created = await call(target, 'POST', base, 'application/json', JSON.stringify(secret)).catch((e: unknown) => {
    throw net(e);
  });
  if (created.status === 201) return 'created';
  if (created.status === 403)
    throw new CliError(
      `Kubernetes API: Secret ${namespace}/${s.name} does not exist and this service account may not create it; create it once ` +
        `(kubectl -n ${namespace} create secret generic ${s.name} --type=kubernetes.io/tls --from-literal=tls.crt= --from-literal=tls.key=)`,
      2,
    );
  throw failure(`POST secret ${namespace}/${s.name}`, created);
}

/**
 * Adds files to an existing Opaque Secret with one merge patch (other keys stay), e.g. a rotation's
 * new issuing CA key (encrypted PEM) into the Secret the CA mounts as its keys/ directory. The Role
 * needs get/patch on this one Secret; a missing Secret is an error (no create).
 */
export async function addToSecret(target: K8sApiTarget, name: string, files: Readonly<Record<string, string>>): Promise<void> {
  const namespace = readSa(target.serviceAccountDir, 'namespace');
  const data = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`;
  const answer = await call(target, 'PATCH', path, 'application/merge-patch+json', JSON.stringify({ data })).catch((e: unknown) => {
    throw new CliError(`Kubernetes API ${target.apiServer} unreachable: ${(e as Error).message}`, EX_TEMPFAIL);
  });
  if (answer.status !== 200) throw failure(`PATCH secret ${namespace}/${name}`, answer);
}
