/** The baseline: the naive one-process @peculiar/x509 path, measured in the same run. */
import { webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import { issuerUrls } from '@evpki/service';
import { randomSerial } from '@evpki/x509';
import type { CsrItem } from '../bench-kit.js';
import { checkChain } from './chains.js';
import { cpuSince, snap } from './cpu.js';
import { pct, type Phase } from './load-client.js';
import type { Issuer } from './pki.js';
import { toScenario, type ScenarioResult } from './scenario.js';

/**
 * Minimal Reflect metadata API (the part of reflect-metadata that tsyringe and tslib's decorator
 * helpers use). @peculiar/x509 2.x imports tsyringe, which throws at load time without it, and
 * reflect-metadata is not a dependency of this repo: so this is installed, then @peculiar/x509 is
 * imported dynamically. Nothing else in the bench sees it before that point.
 */
export function installReflectMetadataShim(): void {
  const R = Reflect as unknown as Record<string, unknown>;
  if (typeof R.getMetadata === 'function') return;
  type Key = string | symbol | undefined;
  const maps = new WeakMap<object, Map<Key, Map<unknown, unknown>>>();
  const table = (target: object, prop: Key, create: boolean): Map<unknown, unknown> | undefined => {
    let byProp = maps.get(target);
    if (!byProp) {
      if (!create) return undefined;
      maps.set(target, (byProp = new Map()));
    }
    let t = byProp.get(prop);
    if (!t && create) byProp.set(prop, (t = new Map()));
    return t;
  };
  const hasOwn = (k: unknown, target: object, prop?: Key): boolean => table(target, prop, false)?.has(k) ?? false;
  const getOwn = (k: unknown, target: object, prop?: Key): unknown => table(target, prop, false)?.get(k);
  const define = (k: unknown, v: unknown, target: object, prop?: Key): void => void table(target, prop, true)!.set(k, v);
  const walk = <T>(target: object, f: (t: object) => T | undefined): T | undefined => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
      const r = f(t);
      if (r !== undefined) return r;
    }
    return undefined;
  };
  Object.assign(R, {
    defineMetadata: define,
    hasOwnMetadata: hasOwn,
    getOwnMetadata: getOwn,
    hasMetadata: (k: unknown, target: object, prop?: Key) => walk(target, (t) => (hasOwn(k, t, prop) ? true : undefined)) ?? false,
    getMetadata: (k: unknown, target: object, prop?: Key) => walk(target, (t) => (hasOwn(k, t, prop) ? { v: getOwn(k, t, prop) } : undefined))?.v,
    getOwnMetadataKeys: (target: object, prop?: Key) => [...(table(target, prop, false)?.keys() ?? [])],
    getMetadataKeys: (target: object, prop?: Key) => {
      const keys = new Set<unknown>();
      walk(target, (t) => void table(t, prop, false)?.forEach((_v, k) => keys.add(k)));
      return [...keys];
    },
    deleteMetadata: (k: unknown, target: object, prop?: Key) => table(target, prop, false)?.delete(k) ?? false,
    metadata: (k: unknown, v: unknown) => (target: object, prop?: Key) => define(k, v, target, prop),
  });
}

export async function runBaseline(issuer: Issuer, csrs: readonly CsrItem[], conc: number, seconds: number): Promise<{ result: ScenarioResult; check?: string; used: number }> {
  installReflectMetadataShim();
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const issuerCert = new x509.X509Certificate(issuer.der);
  const signingKey = await webcrypto.subtle.importKey('pkcs8', issuer.key.export({ type: 'pkcs8', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'sign',
  ]);
  const urls = issuerUrls(issuer.publicOcspBase, issuer.id);

  // The straightforward way: parse, verify, generate with the charge point profile's extensions, PEM.
  async function issueOne(pem: string): Promise<string> {
    const csr = new x509.Pkcs10CertificateRequest(pem);
    if (!(await csr.verify())) throw new Error('CSR signature does not verify');
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial().toString('hex'),
      subject: csr.subjectName,
      issuer: issuerCert.subjectName,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 365 * 86400_000),
      publicKey: csr.publicKey,
      signingKey: signingKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as X509.X509CertificateCreateWithKeyParams['signingAlgorithm'],
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.2']),
        await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
        // the issuer's own SKI (truncated SHA-256, RFC 7093); create(publicKey) would compute a SHA-1 one that does not match
        new x509.AuthorityKeyIdentifierExtension(issuerCert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId),
        new x509.AuthorityInfoAccessExtension({ ocsp: [urls.ocsp], caIssuers: [urls.caIssuers] }),
        new x509.CRLDistributionPointsExtension([urls.crl]),
      ],
    });
    return cert.toString('pem') + '\n' + issuer.chainPem;
  }

  let i = 0;
  for (const warmUntil = performance.now() + 500; performance.now() < warmUntil && i < 100; i++) await issueOne(csrs[i]!.csr); // warm-up, not counted
  const lat: number[] = [];
  let last = '';
  const c0 = snap({});
  const deadline = c0.t + seconds * 1000;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (performance.now() < deadline && i < csrs.length) {
        const item = csrs[i++]!;
        const a = performance.now();
        last = await issueOne(item.csr);
        lat.push(performance.now() - a);
      }
    }),
  );
  const cpu = cpuSince(c0, {});
  const sorted = Float64Array.from(lat).sort();
  const phase: Phase = {
    ok: lat.length,
    failed: 0,
    seconds: cpu.seconds,
    perSecond: lat.length / cpu.seconds,
    p50: pct(sorted, 0.5),
    p99: pct(sorted, 0.99),
    mean: lat.reduce((a, b) => a + b, 0) / lat.length,
    failures: {},
    failureSamples: [],
    samples: [],
    cpu: { ...cpu, procs: { baseline: cpu.procs.client! } },
  };
  const check = checkChain(last);
  return { result: toScenario('baseline', 'baseline @peculiar/x509 (1 process)', conc, phase), ...(check ? { check } : {}), used: i };
}
