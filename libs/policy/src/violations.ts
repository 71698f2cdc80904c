/**
 * Rule IDs the policy cites. IDs are those of the OCPP security white paper (A00/A02) and the
 * Plug&Charge RA document (PnC-4.x); see shared/reference/REQUIREMENTS.md.
 */
export const Rule = {
  keyStrength: 'A00.FR.501',
  rsaSize: 'A00.FR.502',
  ecSize: 'A00.FR.503',
  algorithms: 'A00.FR.504',
  signingAlgorithm: 'A00.FR.505',
  hashes: 'A00.FR.506',
  organization: 'A00.FR.509',
  serverCommonName: 'A00.FR.510',
  chargePointName: 'A00.FR.511',
  newKeyPair: 'A02.FR.02',
  pkcs10: 'A02.FR.03',
  cpoName: 'A02.FR.13',
  auditedModel: 'PnC-4.2',
  registeredIdentity: 'PnC-4.3',
  /** Plug&Charge 4.3 (identities registered before issuance): a SECC-ID (as seccIdKey compares) is listed by one station of a tenant at most. */
  uniqueSeccId: 'PnC-4.3.secc-id-unique',
  /** OCSP status on behalf of charge points: only our issuers and allow-listed responders. */
  statusOnBehalf: 'PnC-4.5',
  /** RFC 5280 5.3.1: the reasons a tenant may revoke with. */
  revocationReason: 'RFC5280-5.3.1',
  /** Product rule: only the certificate types a profile issues (libs/issuance registry) are signed. */
  certificateType: 'Issuance.certificate-type',
  /** Product rules: CSRs per station per day and per tenant per minute (RA_RATE_*). */
  stationRate: 'RateLimit.station',
  tenantRate: 'RateLimit.tenant',
  /** Product rules (tenant-claims.ts): no two tenants share a CPO name, a server domain or an IP range, nor one below/inside another's. */
  uniqueCpoName: 'Tenant.unique-cpo-name',
  uniqueServerDomain: 'Tenant.unique-server-domain',
  uniqueIpRange: 'Tenant.unique-ip-range',
  /** Product rule (Plug&Charge 4.3: operator IDs are allow-listed per CPO): no two tenants share an ISO 15118 operator ID. */
  uniqueOperatorId: 'Tenant.unique-operator-id',
  /** Product rule: what a tenant's IP range may be (parseIpRange). */
  ipRange: 'Tenant.ip-range',
  /** Product rule: delegated OCSP signers per issuer per hour (CA_OCSP_SIGNERS_PER_ISSUER_PER_HOUR). */
  ocspSignerRate: 'RateLimit.ocspSigner',
  /** ISO 15118-2 Annex F (certificate profiles): V2G PKI keys are EC P-256, signed ECDSA with SHA-256. */
  v2gCurve: 'V2G.curve',
  /** ISO 15118-2 Annex F: an SECC certificate's subject carries DC=CPO. */
  v2gDcCpo: 'V2G.dc-cpo',
  /** ISO 15118-2 Annex H / DIN SPEC 91286: the SECC-ID (the CN) is an EVSEID. */
  v2gSeccId: 'V2G.secc-id',
  /** Plug&Charge 4.3: the SECC-ID's operator ID (country + 3 characters) is one the tenant may use. */
  v2gOperatorId: 'V2G.operator-id',
  /** ISO 15118-2 Annex F: a V2G PKI certificate is at most 800 bytes (DER). */
  v2gSize: 'V2G.size',
  /** Product rule: one station removal revokes at most STATION_REMOVAL_LIMIT (libs/store) good certificates in its one write. */
  stationRemovalLimit: 'Station.removal-limit',
  /** The CA answers only its own services, each only on its routes (mutual TLS, client CN). */
  separateCa: 'A00.FR.703',
} as const;
export type RuleId = (typeof Rule)[keyof typeof Rule];

export interface Violation {
  readonly rule: RuleId;
  readonly message: string;
}

/** Violations that mean "this caller may not act" (HTTP 403) rather than "this input is wrong" (422). */
export const FORBIDDEN_RULES: ReadonlySet<RuleId> = new Set([Rule.auditedModel]);
