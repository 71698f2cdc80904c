import { createHash } from 'node:crypto';
import { DEFAULT_KEY_POLICY, Rule, checkCsrSignature, checkKey, readCsr } from '@evpki/policy';
import { AppError } from '@evpki/service';
import type { CertificateRecord, Store } from '@evpki/store';
import {
  DerError,
  OID,
  attributeValues,
  buildName,
  buildTbs,
  inspectSpki,
  keyIdentifier,
  ocspSignerExtensions,
  randomSerial,
  serialToHex,
  signTbs,
  toPem,
  type KeyInfo,
} from '@evpki/x509';
import type { LoadedIssuer } from './issuer.js';

export interface OcspSignerDeps {
  readonly store: Store;
  /** The issuer asked for (any the CA holds, active or not); undefined when the CA does not hold it. */
  readonly issuer: LoadedIssuer | undefined;
  readonly now: () => Date;
  readonly validitySeconds: number;
}

/**
 * Certifies an OCSP responder's own P-256/P-384 key as the delegated signer for this CA
 * (RFC 6960 4.2.2.2), so that the responder never holds a CA key. The CSR proves possession.
 */
export async function issueOcspSigner(issuerId: string, csrPem: string, d: OcspSignerDeps): Promise<{ certificate: string; serialNumber: string; notAfter: string }> {
  const { issuer } = d;
  if (!issuer || issuerId !== issuer.id) throw new AppError('not-found', `this CA does not hold the key of issuer ${issuerId}`);
  const parsed = readCsr(csrPem);
  if ('violation' in parsed) throw new AppError('policy', parsed.violation.message, [parsed.violation]);
  let key: KeyInfo;
  try {
    key = inspectSpki(parsed.csr.spki);
  } catch (e) {
    // Regression (fuzz): a malformed public key in the CSR threw DerError (HTTP 500).
    const message = `CSR public key is malformed: ${e instanceof DerError ? e.message : 'unreadable'}`;
    throw new AppError('policy', message, [{ rule: Rule.pkcs10, message }]);
  }
  const violations = [...checkCsrSignature(parsed.csr, key), ...checkKey(key, DEFAULT_KEY_POLICY)];
  if (key.type !== 'ec') violations.push({ rule: 'A00.FR.505', message: 'an OCSP signing key must be ECDSA' });
  if (violations.length) throw new AppError('policy', 'the OCSP signer request violates policy', violations);

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
  const outcome = await d.store.recordIssuance(record);
  if (!outcome.ok) throw new AppError('conflict', outcome.conflict === 'key' ? 'this key was already certified' : 'serial collision, retry');
  return { certificate: toPem('CERTIFICATE', der), serialNumber: record.serial, notAfter: record.notAfter };
}
