/** The logical records both store backends hold (ARCHITECTURE.md "Data"). Dates are ISO strings. */

export interface TenantRecord {
  readonly id: string;
  /** The CPO name: the only O value allowed in this tenant's certificates (A00.FR.509, A02.FR.13). */
  readonly cpoName: string;
  readonly disabled: boolean;
  readonly createdAt: string;
}

export interface StationRecord {
  readonly tenant: string;
  readonly stationId: string;
  /** The charge point's serial number, the CN of its certificate (A00.FR.511). */
  readonly serialNumber: string;
  readonly model?: string;
  /** The station's model passed its audit (Plug&Charge 4.2). */
  readonly allowed: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export type IssuerRole = 'root' | 'sub-ca';
export type IssuerState = 'active' | 'published' | 'retiring' | 'retired';

export interface IssuerRecord {
  readonly id: string;
  readonly role: IssuerRole;
  /** Issuer id of the certificate's signer (itself for a root). */
  readonly parentId: string;
  readonly certificate: Buffer;
  readonly state: IssuerState;
  /** What it issues: charge point certificates for a sub-CA; sub-CAs for a root. */
  readonly purpose: 'root' | 'charge-point';
  readonly createdAt: string;
}

export type CertificateKind = 'ChargingStationCertificate';
export type RevocationReason =
  | 'unspecified'
  | 'keyCompromise'
  | 'cACompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'certificateHold'
  | 'removeFromCRL'
  | 'privilegeWithdrawn'
  | 'aACompromise';

export interface CertificateRecord {
  /** Lowercase hex, no leading zeros. Unique across all issuers (enforced by the store). */
  readonly serial: string;
  readonly issuerId: string;
  readonly der: Buffer;
  readonly kind: CertificateKind;
  readonly tenant: string;
  readonly stationId: string;
  readonly subject: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly issuedAt: string;
  readonly spkiSha256: string;
  readonly sha256Fingerprint: string;
  readonly status: 'good' | 'revoked';
  readonly revokedAt?: string;
  readonly revocationReason?: RevocationReason;
}

export interface IdempotencyRecord {
  /** SHA-256 of what the request asked for, so that a reused key with another body is refused. */
  readonly requestHash: string;
  readonly serial: string;
  readonly createdAt: string;
}

export interface IdempotencyClaim {
  readonly tenant: string;
  readonly key: string;
  readonly requestHash: string;
}

export type IssuanceOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly conflict: 'serial' }
  | { readonly ok: false; readonly conflict: 'key' }
  | { readonly ok: false; readonly conflict: 'idempotency'; readonly existing: IdempotencyRecord };
