import { createHash, type KeyObject } from 'node:crypto';
import {
  OID,
  REVOCATION_REASONS,
  bitString,
  ctx,
  enumerated,
  generalizedTime,
  nullDer,
  octetString,
  oid,
  parseCertificate,
  seq,
  signerFor,
  type ParsedCertificate,
  type RevocationReasonName,
  type Signer,
} from '@evpki/x509';

/** OCSPResponseStatus (RFC 6960 4.2.1). 4 is unused. */
export const OcspResponseStatus = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
} as const;
export type OcspErrorStatus = Exclude<keyof typeof OcspResponseStatus, 'successful'>;

const ERROR_RESPONSES = Object.fromEntries(
  Object.entries(OcspResponseStatus).map(([name, code]) => [name, seq(enumerated(code))]),
) as Record<keyof typeof OcspResponseStatus, Buffer>;

/** An unsigned error response: just the status (RFC 6960 4.2.1). */
export const ocspErrorResponse = (status: OcspErrorStatus): Buffer => ERROR_RESPONSES[status];

export type SingleStatus =
  | { readonly kind: 'good' }
  | { readonly kind: 'revoked'; readonly revokedAt: Date; readonly reason?: RevocationReasonName }
  | { readonly kind: 'unknown' };

export interface SingleResponse {
  /** The CertID DER being answered, echoed byte for byte. */
  readonly certId: Buffer;
  readonly status: SingleStatus;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
}

export interface ResponseOptions {
  readonly producedAt: Date;
  /** The request's nonce extension, echoed (RFC 8954). */
  readonly nonceExtension?: Buffer;
  /** Marks "revoked" answers for never-issued serials as such (RFC 6960 2.2). */
  readonly extendedRevoke?: boolean;
}

/** RFC 6960 2.2: a serial never issued is "revoked" at 1970-01-01 with reason certificateHold. */
export const NOT_ISSUED_STATUS: SingleStatus = { kind: 'revoked', revokedAt: new Date(0), reason: 'certificateHold' };

const BASIC = oid(OID.ocspBasic);
const EXTENDED_REVOKE = seq(oid(OID.ocspExtendedRevoke), octetString(nullDer()));

function certStatus(s: SingleStatus): Buffer {
  if (s.kind === 'good') return Buffer.from([0x80, 0]);
  if (s.kind === 'unknown') return Buffer.from([0x82, 0]);
  const reason = s.reason && s.reason !== 'unspecified' ? [ctx(0, enumerated(REVOCATION_REASONS[s.reason]))] : [];
  return ctx(1, Buffer.concat([generalizedTime(s.revokedAt), ...reason]));
}

/**
 * Signs basic OCSP responses with a delegated OCSP signer (never a CA key). The responder ID (by
 * key hash), signature algorithm and the signer certificate are encoded once.
 */
export class OcspResponseSigner {
  readonly certificate: ParsedCertificate;
  private readonly signer: Signer;
  private readonly responderId: Buffer;
  private readonly certs: Buffer;

  constructor(key: KeyObject, certificateDer: Buffer) {
    this.certificate = parseCertificate(certificateDer);
    this.signer = signerFor(key);
    // ResponderID byKey: SHA-1 of the signer's subjectPublicKey BIT STRING value (RFC 6960 4.2.2.3).
    this.responderId = ctx(2, octetString(createHash('sha1').update(this.certificate.publicKey).digest()));
    this.certs = ctx(0, seq(certificateDer));
  }

  sign(responses: readonly SingleResponse[], opts: ResponseOptions): Buffer {
    const singles = responses.map((r) =>
      seq(r.certId, certStatus(r.status), generalizedTime(r.thisUpdate), ctx(0, generalizedTime(r.nextUpdate))),
    );
    const exts = [...(opts.nonceExtension ? [opts.nonceExtension] : []), ...(opts.extendedRevoke ? [EXTENDED_REVOKE] : [])];
    const tbs = seq(this.responderId, generalizedTime(opts.producedAt), seq(...singles), ...(exts.length ? [ctx(1, seq(...exts))] : []));
    const basic = seq(tbs, this.signer.algorithmDer, bitString(this.signer.sign(tbs)), this.certs);
    return seq(enumerated(OcspResponseStatus.successful), ctx(0, seq(BASIC, octetString(basic))));
  }
}
