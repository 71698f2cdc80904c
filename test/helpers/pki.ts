import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { loadCaConfig, createCaService } from '@evpki/ca';
import { initPki, mintToken } from '@evpki/cli';
import { readPrivateKey, readSecretFile, type IssuerKeyAlgorithm } from '@evpki/keys';
import { loadOcspConfig, createOcspService } from '@evpki/ocsp-responder';
import { loadRaConfig, createRaService } from '@evpki/ra';
import { createLogger, dataPaths, loadStoreConfig, type PkiManifest } from '@evpki/service';
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
  readonly caUrl: string;
  readonly ocspUrl: string;
  /** The in-process responder, for driving its pre-signer in tests. */
  readonly ocsp: ReturnType<typeof createOcspService>;
  token(tenant?: string): Promise<string>;
  stop(): Promise<void>;
}

const quiet = createLogger('test', 'silent');

/** RA, CA and OCSP in this process on free ports, over one store, RA validating its responses. */
export async function startStack(pki: DevPki, opts: { now?: () => Date; caEnv?: Record<string, string>; ocspEnv?: Record<string, string>; raEnv?: Record<string, string> } = {}): Promise<Stack> {
  const paths = dataPaths(pki.dataDir);
  const env = { PKI_DATA_DIR: pki.dataDir, CA_PORT: '0', RA_PORT: '0', OCSP_PORT: '0', ...pki.storeEnv };
  const store = openStore(loadStoreConfig(env));
  const passphrase = readSecretFile(paths.devPassphrase);
  const clientToken = readSecretFile(paths.caClientToken);
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
      { loadIssuerKey: (issuerId) => readPrivateKey(paths.issuerKey(issuerId), passphrase), clientToken, ocspClientToken: readSecretFile(paths.ocspClientToken) },
      { store, now, logger: quiet },
    );
    started.push(ca);
    const caPort = (await ca.start()).port;
    const ocsp = createOcspService(
      loadOcspConfig({ ...env, CA_PORT: String(caPort), OCSP_CA_URL: `http://127.0.0.1:${caPort}`, ...opts.ocspEnv }),
      { caClientToken: readSecretFile(paths.ocspClientToken) },
      { store, now, logger: quiet },
    );
    started.push(ocsp);
    const ocspPort = (await ocsp.start()).port;
    const ra = createRaService(
      loadRaConfig({
        PKI_DATA_DIR: pki.dataDir,
        ...pki.storeEnv,
        RA_PORT: '0',
        RA_CA_URL: `http://127.0.0.1:${caPort}`,
        RA_OCSP_URL: `http://127.0.0.1:${ocspPort}`,
        RA_VALIDATE_RESPONSES: 'true',
        ...opts.raEnv,
      }),
      { jwtIssuer: pki.manifest.jwt.issuer, jwtAudience: pki.manifest.jwt.audience },
      { caClientToken: clientToken, jwtPublicJwk: JSON.parse(readFileSync(paths.jwtPublicJwk, 'utf8')) as JWK },
      { store, now, logger: quiet },
    );
    started.push(ra);
    const raPort = (await ra.start()).port;
    return {
      pki,
      store,
      raUrl: `http://127.0.0.1:${raPort}`,
      caUrl: `http://127.0.0.1:${caPort}`,
      ocspUrl: `http://127.0.0.1:${ocspPort}`,
      ocsp,
      token: (tenant = 'demo') => mintToken({ dataDir: pki.dataDir, tenant, ttlSeconds: 600 }),
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
