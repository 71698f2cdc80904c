import type { Store } from './store.js';

/**
 * Store by role (issue 15): each service gets the narrow view of Store it uses, so that the
 * compiler refuses a call outside it, and on Redis its own ACL user may run only what its view's
 * methods need (redis-acl.ts derives the users from these lists). The pki CLI keeps the full Store.
 * A method joins a view only when the service calls it; widening a view widens its Redis user.
 */

/**
 * The CA: signs and records certificates (charge point, CSMS server, delegated OCSP signer),
 * revokes them (one certificate, or a station's, deleting the station), publishes its CRLs and
 * audits what it did. It reads tenants, stations, issuers and idempotency records for its own
 * policy checks (rate limits included: counted in the issuance write), and migrates the store's
 * schema at start (it rewrites certificate records). It never writes tenants, stations (but
 * deletes one it removes, and registers one with its first certificate in the issuance write:
 * zero-touch onboarding with a manufacturer certificate), issuers or the rotation. It reads a
 * tenant's manufacturers to re-check a manufacturer chain.
 */
export const CA_STORE_METHODS = [
  'ping',
  'close',
  'assertDurable',
  'migrate',
  'listIssuers',
  'getIssuer',
  'issuerLastExpiry',
  'getTenant',
  'getManufacturer',
  'getStation',
  'getIdempotency',
  'isKeyBlocked',
  'isKeyCertified',
  'getCertificateByKey',
  'getCertificate',
  'recordIssuance',
  'peekRate',
  'revokeCertificate',
  'removeStation',
  'nextCrlNumber',
  'listRevoked',
  'putCrl',
  'getCrl',
  'appendAudit',
] as const satisfies readonly (keyof Store)[];

/**
 * The RA: authenticates tenants, registers stations, runs the policy and reads the rate limits
 * before it asks the CA to sign (the CA counts them in the issuance write), answers certificate,
 * trust anchor and audit queries, the operator's lists (findStations, findCertificates) and the CA
 * hierarchy (issuers, rotations), and audits its decisions. It writes stations, the tenant's
 * trusted manufacturers (/v1/manufacturers) and audit entries; certificates, revocations and keys
 * are the CA's (the RA asks the CA over mutual TLS), tenants and issuers the CLI's.
 */
export const RA_STORE_METHODS = [
  'ping',
  'close',
  'getTenant',
  'getOAuthClient',
  'getManufacturer',
  'listManufacturers',
  'putManufacturer',
  'deleteManufacturer',
  'getStation',
  'listStations',
  'findStationBySeccId',
  'findStations',
  'putStation',
  'getIdempotency',
  'isKeyBlocked',
  'isKeyCertified',
  'getCertificateByKey',
  'getCertificate',
  'findCertificates',
  'tenantSummary',
  'listStationCertificates',
  'listIssuers',
  'getRotation',
  'issuerLastExpiry',
  'peekRate',
  'appendAudit',
  'listAudit',
  'auditHead',
  'auditCheckpoint',
] as const satisfies readonly (keyof Store)[];

/**
 * The OCSP responder: answers from certificate status and pre-signed responses, serves issuer
 * certificates and CRLs, and pre-signs: it takes due certificates from the schedule and stores
 * their responses. It writes only OCSP responses and the pre-signing schedule (anonymous requests
 * write nothing, issue 14.7); never a certificate's status.
 */
export const OCSP_STORE_METHODS = [
  'ping',
  'close',
  'listIssuers',
  'getIssuer',
  'issuerLastExpiry',
  'getCrl',
  'getCertificate',
  'getOcspResponse',
  'ocspEpoch',
  'claimOcspDue',
  'putOcspResponses',
] as const satisfies readonly (keyof Store)[];

export type CaStore = Pick<Store, (typeof CA_STORE_METHODS)[number]>;
export type RaStore = Pick<Store, (typeof RA_STORE_METHODS)[number]>;
export type OcspStore = Pick<Store, (typeof OCSP_STORE_METHODS)[number]>;
