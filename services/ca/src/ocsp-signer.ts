import { createHash, randomUUID, type KeyObject } from 'node:crypto';
import { DEFAULT_KEY_POLICY, Rule, checkCsrKey, readCsr, type Violation } from '@evpki/policy';
import { AppError } from '@evpki/service';
import type { CertificateRecord, RateBucket, CaStore } from '@evpki/store';
import {
  OID,
  attributeValues,
  buildName,
  buildTbs,
  keyIdentifier,
  ocspSignerExtensions,
  publicKeyObject,
  randomSerial,
  serialToHex,
  signTbs,
  toPem,
} from '@evpki/x509';
import type { LoadedIssuer } from './issuer.js';

export interface OcspSignerDeps {
  readonly store: CaStore;
  /** The issuer asked for (any the CA holds, active or not); undefined when the CA does not hold it. */
  readonly issuer: LoadedIssuer | undefined;
  readonly now: () => Date;
  readonly validitySeconds: number;
  /** At most this many signers per issuer in any hour, counted in the store (CA_OCSP_SIGNERS_PER_ISSUER_PER_HOUR). */
  readonly perIssuerPerHour: number;
  /** Keys certified for something else (CAs, the service certificates, the caller's own): never a signer's. */
  readonly reservedKeys: () => Promise<readonly KeyObject[]>;
}

const HOUR_MS = 3_600_000;

/**
 * Certifies an OCSP responder's own P-256/P-384 key as the delegated signer for this CA
 * (RFC 6960 4.2.2.2), so that the responder never holds a CA key. The CSR proves possession (its
 * signature verifies with its key); the key must be new (never certified, not blocked, not a CA's
 * or a service's). A signer can vouch for anything of its issuer until its notAfter, so a
 * compromised responder may get only a few, short-lived ones: at most `perIssuerPerHour` per
 * issuer in any hour, shared by every CA instance through the store.
 */
export async function issueOcspSigner(issuerId: string, csrPem: string, d: OcspSignerDeps): Promise<{ certificate: string; serialNumber: string; notAfter: string }> {
  const { issuer, store } = d;
  if (!issuer || issuerId !== issuer.id) throw new AppError('not-found', `this CA does not hold the key of issuer ${issuerId}`);
  const parsed = readCsr(csrPem);
  if ('violation' in parsed) throw new AppError('policy', parsed.violation.message, [parsed.violation]);
  const violations: Violation[] = [];
  const key = await checkCsrKey(
    parsed.csr,
    { keyPolicy: DEFAULT_KEY_POLICY, isKeyBlocked: (h) => store.isKeyBlocked(h), wasKeyCertified: (h) => store.isKeyCertified(h) },
    violations,
  );
  if (key && key.type !== 'ec') violations.push({ rule: Rule.signingAlgorithm, message: 'an OCSP signing key must be ECDSA' });
  if (key && key.type !== 'unsupported' && !violations.length) {
    const candidate = publicKeyObject(key.common.spki);
    if ((await d.reservedKeys()).some((k) => k.equals(candidate)))
      violations.push({ rule: Rule.newKeyPair, message: 'this key belongs to a CA or a service certificate; an OCSP signer needs a new key pair' });
  }
  if (violations.length || !key || key.type !== 'ec') throw new AppError('policy', 'the OCSP signer request violates policy', violations);

  // Counted once the request passed policy; taken back when it is not recorded.
  const bucket: RateBucket = { key: `ocsp-signer:${issuer.id}`, limit: d.perIssuerPerHour, windowMs: HOUR_MS };
  const eventId = randomUUID();
  const rate = await store.consumeRate([bucket], d.now().getTime(), eventId);
  if (!rate.allowed) {
    const retryAfterSeconds = Math.ceil(rate.retryAfterMs / 1000);
    const message = `at most ${d.perIssuerPerHour} OCSP signer certificates per issuer per hour`;
    throw new AppError('rate-limited', `${message}; retry in ${retryAfterSeconds} s`, [{ rule: Rule.ocspSignerRate, message }], retryAfterSeconds);
  }
  const now = d.now();
  const notBefore = new Date(now.getTime() - 60_000);
  const wanted = new Date(now.getTime() + d.validitySeconds * 1000);
  const notAfter = wanted > issuer.cert.notAfter ? issuer.cert.notAfter : wanted;
  const organization = attributeValues(issuer.cert.subject, OID.organizationName)[0] ?? 'EV PKI';
  const subject = buildName([
    { oid: OID.organizationName, value: organization },
    { oid: OID.commonName, value: `OCSP Signer ${issuer.id}` },
  ]);
  const serial = randomSerial();
  const der = signTbs(
    buildTbs(issuer.signer.algorithmDer, issuer.cert.subject.der, {
      serial,
      notBefore,
      notAfter,
      subject,
      spki: key.common.spki,
      extensions: ocspSignerExtensions(key.common.publicKey, keyIdentifier(issuer.cert.publicKey)),
    }),
    issuer.signer,
  );
  const record: CertificateRecord = {
    serial: serialToHex(serial),
    issuerId: issuer.id,
    der,
    kind: 'OcspSigningCertificate',
    tenant: '',
    stationId: '',
    subject: `CN=OCSP Signer ${issuer.id},O=${organization}`,
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    issuedAt: now.toISOString(),
    spkiSha256: key.common.spkiSha256,
    sha256Fingerprint: createHash('sha256').update(der).digest('hex'),
    status: 'good',
  };
  // Recorded before it is returned, like every certificate the CA signs.
  const outcome = await store.recordIssuance(record).catch(async (e: unknown) => {
    await store.releaseRate([bucket], eventId).catch(() => undefined);
    throw e;
  });
  if (!outcome.ok) {
    await store.releaseRate([bucket], eventId);
    if (outcome.conflict === 'key') throw new AppError('policy', 'this key was already certified', [{ rule: Rule.newKeyPair, message: 'this key was already certified; an OCSP signer needs a new key pair' }]);
    throw new AppError('conflict', 'serial collision, retry');
  }
  return { certificate: toPem('CERTIFICATE', der), serialNumber: record.serial, notAfter: record.notAfter };
}
