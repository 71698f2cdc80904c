/** In-process micro-benchmarks: policy, TBS build + sign, LMDB write, the CA pipeline on LMDB and on an in-memory store. */
import { createHash, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signChargePointCertificate, type SignDeps } from '@evpki/ca';
import { certify, chargingStation, coverageOf, issuerFacts, type SigningIssuer } from '@evpki/issuance';
import { fileSigner } from '@evpki/keys';
import { checkChargePointCsr, DEFAULT_KEY_POLICY, readCsr } from '@evpki/policy';
import { issuerUrls } from '@evpki/service';
import { LmdbStore, openStore, type StationRecord, type Store } from '@evpki/store';
import { inspectSpki, parseCertificate, publicKeyObject, randomSerial, serialToHex, toPem } from '@evpki/x509';
import { CERT_TYPE, CPO, QUICK, STATIONS, TENANT, type CsrItem } from '../bench-kit.js';
import { MemStore, type IssuanceStore } from './mem-store.js';
import type { Issuer } from './pki.js';

export interface Micro {
  readonly op: string;
  readonly n: number;
  /** Wall time per operation. */
  readonly usPerOp: number;
  readonly opsPerSec: number;
  /** CPU time of this process (all threads) per operation, for async operations. */
  readonly cpuUsPerOp?: number;
  readonly note?: string;
}

export function microSync(op: string, n: number, fn: (i: number) => void, note?: string): Micro {
  for (let i = 0; i < Math.min(300, n); i++) fn(i); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const us = ((performance.now() - t0) * 1000) / n;
  return { op, n, usPerOp: us, opsPerSec: 1e6 / us, ...(note ? { note } : {}) };
}

/** `n` calls with `inFlight` outstanding at once (after a warm-up of `warm` calls); µs = wall time / call. */
export async function microAsync(op: string, n: number, inFlight: number, fn: () => Promise<unknown>, opts: { warm?: number; note?: string } = {}): Promise<Micro> {
  for (let i = 0; i < (opts.warm ?? 100); i++) await fn();
  let i = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (i++ < n) await fn();
    }),
  );
  const us = ((performance.now() - t0) * 1000) / n;
  const cu = process.cpuUsage(c0);
  return { op, n, usPerOp: us, opsPerSec: 1e6 / us, cpuUsPerOp: (cu.user + cu.system) / n, ...(opts.note ? { note: opts.note } : {}) };
}

export async function runMicro(issuer: Issuer, dataDir: string, csrs: readonly CsrItem[], fresh: (n: number) => Promise<CsrItem[]>): Promise<Micro[]> {
  const out: Micro[] = [];
  const N = csrs.length;
  const parsed = csrs.map((c) => {
    const r = readCsr(c.csr);
    if ('violation' in r) throw new Error(r.violation.message);
    return r.csr;
  });
  const keys = parsed.map((p) => inspectSpki(p.spki));
  const stationFor = (i: number) => ({ serialNumber: `BENCH-${csrs[i % N]!.station}`, allowed: true });

  out.push(microSync('readCsr (strict DER parse of the PEM CSR)', N, (i) => void readCsr(csrs[i % N]!.csr)));
  let k = 0;
  out.push(
    await microAsync(
      'policy: readCsr + checkChargePointCsr (RA and CA each run it)',
      N,
      1,
      async () => {
        const i = k++;
        const r = readCsr(csrs[i % N]!.csr);
        if ('violation' in r) throw new Error('bad csr');
        const res = await checkChargePointCsr(r.csr, {
          station: stationFor(i),
          cpoName: CPO,
          keyPolicy: DEFAULT_KEY_POLICY,
          isKeyBlocked: () => false,
          wasKeyCertified: () => false,
        });
        if (!res.ok) throw new Error(JSON.stringify(res.violations));
      },
      { warm: 300, note: 'in-memory lookups' },
    ),
  );
  // publicKeyObject imports an uncompressed EC point as JWK (libs/x509 keys.ts): OpenSSL's SPKI DER decoder, the row after, costs more.
  out.push(microSync('  of which publicKeyObject (the JWK import of the point)', N, (i) => void publicKeyObject(parsed[i % N]!.spki)));
  out.push(microSync('  (createPublicKey from the SPKI DER instead, for comparison)', N, (i) => void createPublicKey({ key: parsed[i % N]!.spki, format: 'der', type: 'spki' })));
  const pubKeys = parsed.map((p) => publicKeyObject(p.spki));
  out.push(
    microSync('  of which crypto.verify ECDSA P-256 (proof of possession)', N, (i) => {
      if (!nodeVerify('sha256', parsed[i % N]!.info, { key: pubKeys[i % N]!, dsaEncoding: 'der' }, parsed[i % N]!.signature)) throw new Error('POP');
    }),
  );

  // CA: TBS build + sign with the issuer key, as sign-certificate.ts does
  const cert = parseCertificate(issuer.der);
  const signing: SigningIssuer = {
    ...issuerFacts(issuer.id, cert, issuerUrls(issuer.publicOcspBase, issuer.id)),
    hierarchy: 'csms',
    cert,
    signer: fileSigner(issuer.key),
    chainPem: issuer.chainPem,
  };
  let c = 0;
  out.push(
    await microAsync(
      'CA certify: validity + subject + extensions + buildTbs + sign (P-256 file key, charging-station profile)',
      N,
      1,
      async () => {
        const i = c++;
        const key = keys[i % N]!;
        if (key.type === 'unsupported') throw new Error('bad key');
        await certify(chargingStation, signing, signing.signer, { subject: { publicKey: key, csr: parsed[i % N]! }, lifetimeSeconds: 365 * 86400, now: new Date() });
      },
      { warm: 300 },
    ),
  );
  out.push(microSync('  of which crypto.sign ECDSA P-256 (issuer KeyObject)', N, () => void nodeSign('sha256', cert.tbs, { key: issuer.key, dsaEncoding: 'der' })));
  const sampleResp = JSON.stringify({
    certificateChain: toPem('CERTIFICATE', cert.der) + issuer.chainPem,
    certificateType: CERT_TYPE,
    serialNumber: 'ab'.repeat(16),
    notBefore: new Date().toISOString(),
    notAfter: new Date().toISOString(),
    sha256Fingerprint: 'ab'.repeat(32),
  });
  out.push(microSync(`JSON.parse + JSON.stringify, ${sampleResp.length}-byte sign response`, N, () => void JSON.stringify(JSON.parse(sampleResp))));

  // LMDB: the issuance write (one write transaction, durable on resolve), in a scratch store
  const scratch = mkdtempSync(join(tmpdir(), 'evpki-bench-lmdb-'));
  try {
    const store = new LmdbStore(join(scratch, 'store'));
    // Leaves are recorded only under the active issuing CA.
    await store.putIssuer({ id: 'bench', hierarchy: 'csms', role: 'issuing', parentId: 'bench-root', certificate: cert.der, state: 'active', createdAt: new Date().toISOString() });
    const der = Buffer.alloc(650, 7);
    let seq = 0;
    const write = async (): Promise<void> => {
      const serial = randomSerial();
      const now = new Date().toISOString();
      const r = await store.recordIssuance(
        {
        serial: serialToHex(serial),
        issuerId: 'bench',
        der,
        kind: CERT_TYPE,
        tenant: TENANT,
        stationId: `bench-${seq % STATIONS}`,
        subject: `O=${CPO}, CN=BENCH-0`,
        notBefore: now,
        notAfter: now,
        issuedAt: now,
        spkiSha256: createHash('sha256').update(String(seq++)).update(serial).digest('hex'),
        sha256Fingerprint: createHash('sha256').update(serial).digest('hex'),
        status: 'good',
        },
        coverageOf(chargingStation),
      );
      if (!r.ok) throw new Error('recordIssuance conflict');
    };
    for (const inFlight of [1, 8, 32, 128])
      out.push(await microAsync(`LMDB recordIssuance, ${inFlight} in flight`, inFlight === 1 ? (QUICK ? 200 : 500) : QUICK ? 2000 : 6000, inFlight, write, { note: 'commit durable on resolve' }));
    await store.close();
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  // The whole CA pipeline in-process (no HTTP): on the bench PKI's LMDB store, then on a Map store
  const lmdb = openStore({ dataDir });
  const mem = new MemStore();
  try {
    // The bench stations, as PUT /v1/stations/{id} would record them (the RA's PUT later answers 200).
    const tenant = await lmdb.getTenant(TENANT);
    if (!tenant) throw new Error(`tenant ${TENANT} missing from the dev PKI`);
    await mem.putTenant(tenant);
    for (let i = 0; i < STATIONS; i++) {
      const now = new Date().toISOString();
      const st: StationRecord = { tenant: TENANT, stationId: `bench-${i}`, serialNumber: `BENCH-${i}`, allowed: true, createdAt: now, updatedAt: now };
      await lmdb.putStation(st);
      await mem.putStation(st);
    }
    for (const [name, store] of [
      ['in-memory', mem as IssuanceStore as Store],
      ['LMDB', lmdb],
    ] as const) {
      const deps: SignDeps = {
        store,
        issuer: signing,
        keyPolicy: DEFAULT_KEY_POLICY,
        leafValiditySeconds: 365 * 86400,
        now: () => new Date(),
      };
      for (const inFlight of [1, 32]) {
        const n = inFlight === 1 ? (QUICK ? 200 : 500) : QUICK ? 1000 : 3000;
        const pool = await fresh(n + 300);
        let j = 0;
        const one = async (): Promise<void> => {
          const c = pool[j++]!;
          await signChargePointCertificate({ tenant: TENANT, stationId: `bench-${c.station}`, csr: c.csr, certificateType: CERT_TYPE }, deps);
        };
        out.push(await microAsync(`CA signChargePointCertificate in-process, ${name} store, ${inFlight} in flight`, n, inFlight, one, { warm: 300, note: 'policy + build + sign + record' }));
      }
    }
  } finally {
    await lmdb.close();
  }
  return out;
}
