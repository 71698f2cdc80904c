import type { Request } from 'express';
import type { TLSSocket } from 'node:tls';
import { seccIdKey } from '@evpki/policy';
import { AppError, type Caller } from '@evpki/service';
import type { RaStore, TenantRecord } from '@evpki/store';
import { OID, attributeValues, parseCertificate, type ParsedCertificate, type ParsedName } from '@evpki/x509';

/**
 * EST re-enrolment authenticated by the SECC's current certificate (RFC 7030 3.3.2 and 4.2.2): on
 * the RA's own TLS listener (RA_TLS_CERT_FILE) the handshake asks for a client certificate without
 * judging it (requestCert, rejectUnauthorized false), and simplereenroll checks the presented one
 * here against the store: a V2G SECC certificate this PKI issued (the very DER it recorded, under an
 * issuer of the v2g hierarchy), good, within its validity, its tenant enabled and its SECC-ID still
 * registered for its station. Behind a TLS terminator the RA never sees the certificate: there the
 * CSMS re-enrols with its OAuth2 token (est.ts).
 */
export const SECC_CERT_RULE = 'EST.secc-certificate';
/** RFC 7030 4.2.2: the CSR of a re-enrolment names the subject of the certificate it renews. */
export const REENROLL_SUBJECT_RULE = 'EST.reenroll-subject';

export interface SeccCertificatePrincipal {
  readonly caller: Caller;
  readonly tenant: TenantRecord;
  readonly stationId: string;
  readonly certificate: ParsedCertificate;
}

/** The DER of the client certificate this request's TLS connection presented; undefined on plain HTTP or without one. */
export function presentedCertificate(req: Request): Buffer | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const raw = socket.getPeerCertificate(false)?.raw;
  return raw && raw.length ? raw : undefined;
}

const refuse = (why: string): AppError =>
  new AppError('unauthorized', `the TLS client certificate does not authenticate a re-enrolment: ${why}`, [{ rule: SECC_CERT_RULE, message: why }]);

export async function authenticateSeccCertificate(
  store: Pick<RaStore, 'getCertificate' | 'listIssuers' | 'getTenant' | 'getStation'>,
  der: Buffer,
  now: Date,
): Promise<SeccCertificatePrincipal> {
  let cert: ParsedCertificate;
  try {
    cert = parseCertificate(der);
  } catch {
    throw refuse('it cannot be parsed');
  }
  const record = await store.getCertificate(cert.serialHex);
  // Issued here: the store holds exactly these bytes (a look-alike with our serial is not it).
  if (!record || !record.der.equals(der)) throw refuse('this PKI did not issue it');
  if (record.kind !== 'V2GCertificate' || !(await store.listIssuers('v2g')).some((i) => i.id === record.issuerId)) throw refuse('it is not an SECC certificate of the V2G hierarchy');
  if (record.status !== 'good') throw refuse('it is revoked');
  if (now < cert.notBefore || now > cert.notAfter) throw refuse('it is not valid now (expired or not yet valid)');
  const tenant = await store.getTenant(record.tenant);
  if (!tenant || tenant.disabled) throw refuse(`its tenant ${record.tenant} is unknown or disabled`);
  const [cn] = attributeValues(cert.subject, OID.commonName);
  const station = await store.getStation(record.tenant, record.stationId);
  if (!cn || !station?.seccIds?.some((id) => seccIdKey(id) === seccIdKey(cn))) throw refuse(`its SECC-ID is no longer registered for station ${record.stationId} (PnC-4.3)`);
  const caller: Caller = { tenant: record.tenant, subject: `secc-certificate:${cert.serialHex}`, scopes: new Set(['certificates:sign']) };
  return { caller, tenant, stationId: record.stationId, certificate: cert };
}

/** The subject attributes as a comparable list: the same names whatever string types encode them. */
const attributes = (name: ParsedName): string => JSON.stringify(name.rdns.flat().map((a) => `${a.oid}=${a.value}`).sort());

/** RFC 7030 4.2.2: the re-enrolment's CSR has the subject of the certificate that authenticated it. */
export function checkReenrollSubject(principal: SeccCertificatePrincipal, csrSubject: ParsedName): void {
  if (attributes(csrSubject) !== attributes(principal.certificate.subject))
    throw new AppError('policy', 'the CSR of a re-enrolment must have the subject of the certificate it renews (RFC 7030 4.2.2)', [
      { rule: REENROLL_SUBJECT_RULE, message: "the CSR's subject differs from the client certificate's" },
    ]);
}
