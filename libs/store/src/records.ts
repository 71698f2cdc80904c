/** The logical records both store backends hold (docs/architecture.md "Data"). Dates are ISO strings. */
import type { SeccIdConflict } from './errors.js';

/**
 * No two tenants share a CPO name (compared normalised), a server domain or one below another's, or
 * an IP range or one inside another's (Tenant.unique-*, @evpki/policy tenant-claims.ts): every
 * write of a tenant refuses a new claim another tenant holds (TenantConflictError). Disabled
 * tenants keep their claims.
 */
export interface TenantRecord {
  readonly id: string;
  /** The CPO name: the only O value allowed in this tenant's certificates (A00.FR.509, A02.FR.13). */
  readonly cpoName: string;
  readonly disabled: boolean;
  readonly createdAt: string;
  /** DNS domains its CSMS server certificates may name (A00.FR.510); none: no server certificates. */
  readonly serverDomains?: readonly string[];
  readonly allowWildcards?: boolean;
  /** CIDR ranges (canonical, parseIpRange) its server certificates' IP SANs must lie in; none: no IP SANs. */
  readonly ipRanges?: readonly string[];
  /**
   * @deprecated Written by versions before ipRanges ("any IP address"); no longer honoured: such a
   * tenant gets no IP SANs until it has ranges. Dropped by the next `pki tenants add --update`.
   */
  readonly allowIpSans?: boolean;
  /** ISO 15118 operator IDs ("DE*ABC", normalised) its SECC-IDs may carry (V2G.operator-id, Plug&Charge 4.3); none: no SECC certificates. */
  readonly operatorIds?: readonly string[];
  /** Overrides of the RA's default rate limits (RA_RATE_*); 0 turns a limit off. */
  readonly rateLimits?: { readonly stationCsrsPerDay?: number; readonly tenantCsrsPerMinute?: number };
}

/**
 * An OAuth2 client of a tenant (Plug&Charge 4.4, RFC 6749 4.4 client credentials): its CSMS gets
 * RA bearer tokens at POST /oauth/token with the id and secret. Only the secret's SHA-256 is kept.
 */
export interface OAuthClientRecord {
  readonly clientId: string;
  readonly tenant: string;
  /** SHA-256 (hex) of the secret: 256 random bits, so a fast hash cannot be brute-forced. */
  readonly secretSha256: string;
  /** The scopes its tokens carry (a subset of the RA's SCOPES). */
  readonly scopes: readonly string[];
  readonly disabled: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * A manufacturer whose device certificates a tenant trusts for a station's first enrolment
 * (zero-touch onboarding, issue 21; `pki manufacturers`, /v1/manufacturers). Its chain is validated
 * against `roots` (RFC 5280 6.1, @evpki/pathval), `intermediates` being offered for path building.
 */
export interface ManufacturerRecord {
  readonly tenant: string;
  /** Unique within the tenant: letters, digits, `.`, `_`, `-` (MANUFACTURER_NAME). */
  readonly name: string;
  /** Trust anchors, DER: self-issued CA certificates. */
  readonly roots: readonly Buffer[];
  /** Intermediate CA certificates, DER, used to build paths when the station does not send them. */
  readonly intermediates: readonly Buffer[];
  readonly revocation: ManufacturerRevocation;
  readonly mapping: ManufacturerMapping;
  /** A station that is not registered is registered by its first enrolment with this manufacturer's certificate. */
  readonly autoRegister: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface ManufacturerRevocation {
  /** CRLs fetched for the chain: each certificate is looked up in the one its issuer signed. */
  readonly crlUrls?: readonly string[];
  /** Also fetch the CRL each certificate names in its CRL distribution points (HTTP URIs). */
  readonly crlDistributionPoints?: boolean;
  /** Ask the OCSP responder each certificate names in its AIA. */
  readonly ocsp?: boolean;
  /** What an unreachable CRL or responder means: `closed` refuses (default), `open` accepts with the status unknown. */
  readonly failMode: 'closed' | 'open';
}

/** How a manufacturer certificate names the station. */
export interface ManufacturerMapping {
  /** The subject attribute holding the station's serial number (the CSR's CN must equal it, A00.FR.511). */
  readonly serialFrom: 'CN' | 'serialNumber';
  /** Models allowed to enrol: any, or these (compared exactly). */
  readonly models: 'any' | readonly string[];
  /** Where the model is: a subject attribute (`OU`, `title`, … or a dotted OID), or `ext:<OID>` (an extension whose value is a DER string). */
  readonly modelFrom?: string;
}

/** How a station came to be registered through a manufacturer certificate (zero-touch onboarding). */
export interface StationManufacturer {
  readonly name: string;
  /** SHA-256 (hex) of the manufacturer certificate's DER. */
  readonly certificateSha256: string;
  /** Its serial number (hex). */
  readonly certificateSerial: string;
}

export interface StationRecord {
  readonly tenant: string;
  readonly stationId: string;
  /** The charge point's serial number, the CN of its certificate (A00.FR.511). */
  readonly serialNumber: string;
  readonly model?: string;
  /** The station's model passed its audit (Plug&Charge 4.2). */
  readonly allowed: boolean;
  /** ISO 15118 SECC-IDs registered for it: the CNs its SECC (V2G) certificates may have (PnC-4.3). */
  readonly seccIds?: readonly string[];
  /**
   * Registered by its first enrolment with this manufacturer certificate (issue 21): a later
   * enrolment with a manufacturer chain must present the same manufacturer and certificate.
   */
  readonly manufacturer?: StationManufacturer;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * What putStations did with one station: written new, written over an existing one, left as it
 * was, or refused (not written) because another station of its tenant lists one of its SECC-IDs
 * (PnC-4.3.secc-id-unique).
 */
export type StationPutOutcome = 'created' | 'replaced' | 'kept' | { readonly refused: SeccIdConflict };

/** One step of Store.requeueOcsp: how many certificates it made due, and where to go on (undefined: done). */
export interface OcspRequeueStep {
  readonly requeued: number;
  readonly cursor?: string;
}

/**
 * Where a CA sits in its hierarchy: its `root`; `issuing`, the CA under the root that signs the
 * leaves of a two-tier hierarchy (csms: root → issuing CA → charge point and CSMS server
 * certificates); `sub-ca-1` and `sub-ca-2`, the tiers of a three-tier one (V2G: V2G Root → CPO
 * Sub-CA 1 → CPO Sub-CA 2 → SECC certificates), sub-ca-2 signing its leaves (signsLeaves,
 * hierarchies.ts). Before store schema 3 an issuing CA was `sub-ca`.
 */
export type IssuerRole = 'root' | 'sub-ca-1' | 'sub-ca-2' | 'issuing';
/**
 * Where an issuer is in its life (rotation: `pki rotate-root`, `pki rotate-issuer`):
 * - prepared:  made, not yet shown anywhere; the CA already holds its key (OCSP signers, CRLs).
 * - published: a root is a trust anchor (/v1/trust-anchors) so CSMSs can install it; issues nothing.
 * - active:    the CAs new certificates come from, one of each role per hierarchy. The store records
 *              leaf certificates only under the active leaf-signing CA of their hierarchy, so after
 *              an activation nothing new comes from the old.
 * - retiring:  issues no leaves; its OCSP responses and CRLs are served until its last certificate
 *              expires; a retiring root stays a trust anchor until then.
 * - retired:   gone (forced, or nothing left that depends on it).
 */
export type IssuerState = 'prepared' | 'published' | 'active' | 'retiring' | 'retired';

export interface IssuerRecord {
  readonly id: string;
  /**
   * The hierarchy (one root's tree and its successors) it belongs to, e.g. `csms` (charge point and
   * CSMS server certificates, DEFAULT_HIERARCHY) or `v2g`; a name as HIERARCHY_NAME. Each hierarchy
   * has its own active CAs and its own rotation.
   */
  readonly hierarchy: string;
  readonly role: IssuerRole;
  /** Issuer id of the certificate's signer (itself for a root), of the same hierarchy. */
  readonly parentId: string;
  readonly certificate: Buffer;
  readonly state: IssuerState;
  readonly createdAt: string;
  /**
   * Roots only: certificates for this root's key and name signed by another root (cross-
   * certificates, made by a root rotation), so that a device trusting only the other root can
   * build a path to certificates under this one.
   */
  readonly crossCertificates?: readonly Buffer[];
  /** When it last changed state (ISO). */
  readonly updatedAt?: string;
}

export type RotationKind = 'root' | 'issuer';
export type RotationStep = 'prepare' | 'publish' | 'activate' | 'retire';

/** A hierarchy's root or issuing CA rotation in progress, or its last one (step `retire` done); one per hierarchy. */
export interface RotationRecord {
  /** The hierarchy rotated; its issuers are the only ones a step of this rotation writes. */
  readonly hierarchy: string;
  readonly kind: RotationKind;
  /** Incremented by every step; a step writes only over the revision it read (no lost update). */
  readonly revision: number;
  /** The last step completed. */
  readonly step: RotationStep;
  readonly old: { readonly rootId: string; readonly issuerId: string };
  /** For an issuer rotation, rootId is the old root. */
  readonly new: { readonly rootId: string; readonly issuerId: string };
  readonly startedAt: string;
  readonly steps: readonly { readonly step: RotationStep; readonly at: string; readonly forced?: boolean }[];
}

/** What a recorded certificate is for: the kind of the profile it was issued under (libs/issuance registry). */
export type CertificateKind = string;

/**
 * How the store indexes and serves a certificate, as its profile says (libs/issuance): the store
 * never decides by kind.
 */
export interface IssuanceCoverage {
  /**
   * An enrolment leaf: recorded only under the issuer active in its hierarchy (after an
   * activation nothing new comes from the old one), and it keeps its issuer in service
   * (retiring, its CRL published) until it expires.
   */
  readonly underActiveIssuer: boolean;
  /** The hierarchy whose active leaf-signing CA must have signed it (when underActiveIssuer). */
  readonly hierarchy: string;
  /** Its OCSP answers are pre-signed: queued for the pre-signer at once. */
  readonly presignOcsp: boolean;
  /** Listed under its station (tenant, stationId), newest last. */
  readonly stationIndex: boolean;
}
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
  /**
   * SHA-256 of the request that got it (idempotencyRequestHash: station, certificate type, CSR DER),
   * so that a retry of that very request is answered with it again (issue 14.13). Absent before.
   */
  readonly requestHash?: string;
  readonly status: CertificateStatus;
  readonly revokedAt?: string;
  readonly revocationReason?: RevocationReason;
}

export type CertificateStatus = 'good' | 'revoked';

/** One revoked certificate as a CRL lists it. */
export interface RevokedEntry {
  readonly serial: string;
  readonly revokedAt: string;
  readonly reason: RevocationReason;
}

export type RevocationOutcome =
  | { readonly ok: false; readonly reason: 'not-found' }
  /** `changed` is false when the certificate was already revoked with this or a stronger reason. */
  | { readonly ok: true; readonly record: CertificateRecord; readonly changed: boolean };

/**
 * The record a revocation with `reason` at `at` makes of `cert` (both backends), or undefined when
 * it changes nothing: an already revoked certificate keeps its revocation time, and its reason can
 * only be raised to keyCompromise (RFC 5280 5.3.1).
 */
export function revokedRecord(cert: CertificateRecord, reason: RevocationReason, at: string): CertificateRecord | undefined {
  if (cert.status === 'revoked' && (reason !== 'keyCompromise' || cert.revocationReason === 'keyCompromise')) return undefined;
  return { ...cert, status: 'revoked', revokedAt: cert.revokedAt ?? at, revocationReason: reason };
}

export type OcspHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/**
 * A pre-signed OCSP response for one certificate and one CertID hash algorithm. Times are epoch
 * milliseconds (the responder compares them on every request).
 */
export interface OcspResponseRecord {
  readonly issuerId: string;
  readonly serial: string;
  readonly hash: OcspHash;
  /** The exact CertID DER this response answers: served only to requests with these bytes. */
  readonly certId: Buffer;
  /** The whole OCSPResponse, DER. */
  readonly der: Buffer;
  readonly thisUpdate: number;
  readonly nextUpdate: number;
  readonly etag: string;
  /**
   * The certificate's tenant, for the responder's answers by tenant (pki_ocsp_responses_total).
   * Absent in responses pre-signed before it was recorded: the responder then reads the certificate.
   */
  readonly tenant?: string;
}

/** What a set of pre-signed responses was signed for: written only while the certificate still has it. */
export interface SignedStatus {
  readonly status: CertificateStatus;
  readonly revokedAt?: string;
  readonly revocationReason?: RevocationReason;
}

/** A certificate whose pre-signed OCSP responses are due to be (re)made. */
export interface OcspDue {
  readonly serial: string;
  readonly due: number;
}

export interface CrlRecord {
  readonly issuerId: string;
  /** CRL Number (RFC 5280 5.2.3), strictly increasing per issuer. */
  readonly number: number;
  readonly der: Buffer;
  readonly thisUpdate: string;
  readonly nextUpdate: string;
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
  /** A leaf (charge point or server certificate) under a CA that is not (any more) the active leaf-signing CA of its kind's hierarchy. */
  | { readonly ok: false; readonly conflict: 'issuer' }
  | { readonly ok: false; readonly conflict: 'idempotency'; readonly existing: IdempotencyRecord }
  /** A station to register with the certificate (zero-touch onboarding) was registered meanwhile. */
  | { readonly ok: false; readonly conflict: 'station' }
  /** A rate bucket the issuance is counted in is full (IssuanceAlso.rate): `bucket` is its key, `retryAfterMs` when it has room again. */
  | { readonly ok: false; readonly conflict: 'rate'; readonly bucket: string; readonly retryAfterMs: number };

/** One sliding-window limit: at most `limit` events in any `windowMs`. */
export interface RateBucket {
  readonly key: string;
  readonly limit: number;
  readonly windowMs: number;
}

export type RateOutcome =
  | { readonly allowed: true }
  /** `bucket` is the key of a bucket that is full; `retryAfterMs` when it has room again. */
  | { readonly allowed: false; readonly bucket: string; readonly retryAfterMs: number };

/**
 * An issuer's last leaf expiry is kept rounded up to the hour: it only decides how long a retiring
 * CA is still served (erring an hour long is harmless), and the issuance write then updates it
 * once an hour instead of on every certificate.
 */
export function expiryMark(notAfter: string): number {
  return Math.ceil(Date.parse(notAfter) / 3_600_000) * 3_600_000;
}
