import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCaConfig, createCaService } from '@evpki/ca';
import { initPki, mintToken, type MintOptions } from '@evpki/cli';
import { fileSigner, readPrivateKey, readSecretFile, type IssuerKeyAlgorithm } from '@evpki/keys';
import { loadOcspConfig, createOcspService } from '@evpki/ocsp-responder';
import { loadRaConfig, createRaService } from '@evpki/ra';
import { createLogger, dataPaths, loadStoreConfig, readServiceTls, type Logger, type PkiManifest } from '@evpki/service';
import { openStore, type Store } from '@evpki/store';

export interface DevPki {
  readonly dataDir: string;
  /** The store's environment (REDIS_URL for the Redis backend; empty: LMDB in dataDir). */
  readonly storeEnv: Record<string, string>;
  readonly manifest: PkiManifest;
  cleanup(): void;
}

/** A fresh dev PKI (`pki init --dev`) in a temporary directory; with `storeEnv.REDIS_URL`, its store is that Redis. */
export async function makeDevPki(algorithm: IssuerKeyAlgorithm = 'ecdsa-p256', storeEnv: Record<string, string> = {}): Promise<DevPki> {
  const dataDir = mkdtempSync(join(tmpdir(), 'evpki-test-'));
  const manifest = await initPki({
    dataDir,
    dev: true,
    force: false,
    algorithm,
    organization: 'Demo CPO',
    publicOcspBase: 'http://127.0.0.1:8082',
    env: storeEnv,
  });
  return { dataDir, storeEnv, manifest, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
}

export interface Stack {
  readonly pki: DevPki;
  readonly store: Store;
  readonly raUrl: string;
  /** The CA's API: https, mutual TLS with a service certificate (test/helpers/service-tls.ts). */
  readonly caUrl: string;
  /** The CA's ops listener: plain HTTP /healthz, /readyz, /metrics. */
  readonly caOpsUrl: string;
  readonly ocspUrl: string;
  /** The in-process responder, for driving its pre-signer in tests. */
  readonly ocsp: ReturnType<typeof createOcspService>;
  /** A bearer token of `tenant` (default demo) with every scope, unless `opts` says otherwise. */
  token(tenant?: string, opts?: Partial<MintOptions>): Promise<string>;
  stop(): Promise<void>;
}

const quiet = createLogger('test', 'silent');

/** RA, CA and OCSP in this process on free ports, over one store, RA validating its responses. */
export async function startStack(
  pki: DevPki,
  opts: { now?: () => Date; caEnv?: Record<string, string>; ocspEnv?: Record<string, string>; raEnv?: Record<string, string>; caLogger?: Logger; logger?: Logger } = {},
): Promise<Stack> {
  const paths = dataPaths(pki.dataDir);
  const env = { PKI_DATA_DIR: pki.dataDir, CA_PORT: '0', CA_OPS_PORT: '0', RA_PORT: '0', OCSP_PORT: '0', ...pki.storeEnv };
  const store = openStore(loadStoreConfig(env));
  const passphrase = readSecretFile(paths.devPassphrase);
  const now = opts.now ?? (() => new Date());
  // Whatever started is stopped again if a later step fails, so a failed setup cannot hang the run.
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of started.reverse()) await s.stop();
    await store.close();
  };
  try {
    const ca = createCaService(
      loadCaConfig({ ...env, ...opts.caEnv }),
      { publicOcspBase: pki.manifest.publicOcspBase },
      { loadIssuerSigner: async (issuerId) => fileSigner(readPrivateKey(paths.issuerKey(issuerId), passphrase)), tls: readServiceTls(pki.dataDir, 'ca-server') },
      { store, now, logger: opts.caLogger ?? opts.logger ?? quiet },
    );
    started.push(ca);
    const { port: caPort, opsPort: caOpsPort } = await ca.start();
    const ocsp = createOcspService(
      loadOcspConfig({ ...env, CA_PORT: String(caPort), OCSP_CA_URL: `https://127.0.0.1:${caPort}`, ...opts.ocspEnv }),
      { caTls: readServiceTls(pki.dataDir, 'ocsp-client') },
      { store, now, logger: opts.logger ?? quiet },
    );
    started.push(ocsp);
    const ocspPort = (await ocsp.start()).port;
    const ra = createRaService(
      loadRaConfig({
        PKI_DATA_DIR: pki.dataDir,
        ...pki.storeEnv,
        RA_PORT: '0',
        RA_CA_URL: `https://127.0.0.1:${caPort}`,
        // As scripts/run-dev.sh (make run) does: the ports only; the RA derives RA_OCSP_URL from OCSP_PORT.
        OCSP_PORT: String(ocspPort),
        RA_VALIDATE_RESPONSES: 'true',
        ...opts.raEnv,
      }),
      { jwtIssuer: pki.manifest.jwt.issuer, jwtAudience: pki.manifest.jwt.audience },
      { caTls: readServiceTls(pki.dataDir, 'ra-client') },
      { store, now, logger: opts.logger ?? quiet },
    );
    started.push(ra);
    const raPort = (await ra.start()).port;
    return {
      pki,
      store,
      // With RA_TLS_* the RA serves HTTPS (test/ra-tls.test.ts calls it with its own CA).
      raUrl: `${opts.raEnv?.RA_TLS_CERT_FILE ? 'https' : 'http'}://127.0.0.1:${raPort}`,
      caUrl: `https://127.0.0.1:${caPort}`,
      caOpsUrl: `http://127.0.0.1:${caOpsPort}`,
      ocspUrl: `http://127.0.0.1:${ocspPort}`,
      ocsp,
      token: (tenant = 'demo', opts = {}) => mintToken({ dataDir: pki.dataDir, tenant, ttlSeconds: 600, ...opts }),
      stop: stopAll,
    };
  } catch (e) {
    await stopAll().catch(() => undefined);
    throw e;
  }
}

export interface JsonResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: any;
}

/** A request with a JSON body (a string is sent as it is) to any of our HTTP APIs; the body parsed back. */
export async function requestJson(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
  const res = await fetch(url, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
}

/** JSON request to the stack's RA with a bearer token of the dev tenant (or the `authorization` given). */
export async function api(stack: Stack, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
  const authorization = headers.authorization === undefined ? `Bearer ${await stack.token()}` : headers.authorization;
  return requestJson(stack.raUrl + path, method, body, { ...(authorization ? { authorization } : {}), ...headers });
}

export async function registerStation(stack: Stack, stationId: string, serialNumber: string, allowed = true): Promise<void> {
  const r = await api(stack, 'PUT', `/v1/stations/${stationId}`, { serialNumber, allowed });
  if (r.status !== 201 && r.status !== 200) throw new Error(`station registration failed: ${r.status} ${JSON.stringify(r.body)}`);
}
