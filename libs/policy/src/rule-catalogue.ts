import type { RuleId } from './violations.js';

/** One rule an error body can name: what it requires, and the document it comes from. */
export interface RuleEntry {
  readonly rule: string;
  readonly meaning: string;
  readonly source: string;
}

const OCPP = 'OCPP security white paper (OCPP 1.6 edition 3 / OCPP 2.0.1)';
const PNC = 'Plug&Charge RA document';
const ISO = 'ISO 15118-2';
const PRODUCT = 'product rule (this PKI)';

/**
 * Every rule ID a violation names, with its meaning and source: the catalogue /docs/problems shows,
 * so that an error body's `violations[].rule` links to its explanation. Keyed by RuleId (violations.ts),
 * so a rule added there without an entry here does not compile; the rule IDs cited outside Rule
 * (A00.FR.701, AUTHZ_RULES of libs/service, the RA's ROUTE_RULE and LIST_RULES, the `openapi:` schema rules) are
 * listed too (test/docs-problems.test.ts checks them).
 */
type OtherRule = 'A00.FR.701' | 'Authz.route' | 'Authz.scope' | 'Authz.tenant' | 'List.cursor' | 'List.within' | 'openapi:<path>';

const ENTRIES: Record<RuleId | OtherRule, Omit<RuleEntry, 'rule'>> = {
  'A00.FR.501': { meaning: 'The key is as strong as at least 112 symmetric bits, and is not on the blocked list (known weak or leaked keys).', source: `${OCPP}, A00.FR.501` },
  'A00.FR.502': { meaning: 'RSA keys have at least 2048 bits (at most 8192 here).', source: `${OCPP}, A00.FR.502` },
  'A00.FR.503': { meaning: 'Elliptic-curve keys have at least 224 bits; this PKI asks for 256 by default (CA_MIN_EC_BITS).', source: `${OCPP}, A00.FR.503` },
  'A00.FR.504': { meaning: 'Only algorithms fit for future systems (BSI TR-02102): no SHA-1, no MD5, no weak RSA, in requests and in what the CA signs.', source: `${OCPP}, A00.FR.504` },
  'A00.FR.505': { meaning: 'The CA signs with ECDSA or RSA-PSS.', source: `${OCPP}, A00.FR.505` },
  'A00.FR.506': { meaning: 'Signature hashes are SHA-256 or stronger.', source: `${OCPP}, A00.FR.506` },
  'A00.FR.509': { meaning: "The subject's O is the owner's organization name (the tenant's CPO name).", source: `${OCPP}, A00.FR.509` },
  'A00.FR.510': { meaning: "A CSMS server certificate's CN is the server's fully qualified domain name.", source: `${OCPP}, A00.FR.510` },
  'A00.FR.511': { meaning: "A charge point certificate's CN is the charge point's serial number, never a URL, IP address or host name; no dNSName, IP or URI subjectAltName.", source: `${OCPP}, A00.FR.511` },
  'A00.FR.701': { meaning: 'CSMS server certificates are revoked by fast expiration: short validity, renewed continually.', source: `${OCPP}, A00.FR.701` },
  'A00.FR.703': { meaning: 'A separate CA server manages the certificates: it answers only its own services, each on its own routes.', source: `${OCPP}, A00.FR.703` },
  'A02.FR.02': { meaning: 'Every certificate update uses a new key pair: a key is certified once.', source: `${OCPP}, use case A02` },
  'A02.FR.03': { meaning: 'The request is a PEM PKCS#10 CSR of at most 5500 characters whose signature verifies (proof of possession).', source: `${OCPP}, use case A02` },
  'A02.FR.13': { meaning: "The CSR's O is the configured CPO name.", source: `${OCPP}, use case A02` },
  'PnC-4.2': { meaning: 'Only stations whose model passed its audit (allowed) get certificates.', source: `${PNC}, 4.2` },
  'PnC-4.3': { meaning: 'The identity (CN, SECC-ID) is registered for the caller before issuance; registered identities have the right syntax.', source: `${PNC}, 4.3` },
  'PnC-4.5': { meaning: 'Status queries on behalf of charge points go only to our issuers and allow-listed responders.', source: `${PNC}, 4.5` },
  'RFC5280-5.3.1': { meaning: 'A revocation names one of the reasons a tenant may use (RFC 5280 CRLReason).', source: 'RFC 5280, 5.3.1' },
  'Issuance.certificate-type': { meaning: 'Only the certificate types a profile issues are signed.', source: `${PRODUCT}: libs/issuance` },
  'RateLimit.station': { meaning: 'At most so many CSRs per station per day (RA_RATE_*).', source: PRODUCT },
  'RateLimit.tenant': { meaning: 'At most so many CSRs per tenant per minute (RA_RATE_*).', source: PRODUCT },
  'RateLimit.ocspSigner': { meaning: 'At most so many delegated OCSP signer certificates per issuer per hour.', source: PRODUCT },
  'Tenant.unique-cpo-name': { meaning: 'No two tenants share a CPO name.', source: `${PRODUCT}: pki tenants` },
  'Tenant.unique-server-domain': { meaning: 'No two tenants share a server domain, nor one above or below the other.', source: `${PRODUCT}: pki tenants` },
  'Tenant.unique-ip-range': { meaning: 'No two tenants share an IP range, nor one inside the other.', source: `${PRODUCT}: pki tenants` },
  'Tenant.ip-range': { meaning: "A tenant's IP range is a valid CIDR range of a usable size.", source: `${PRODUCT}: pki tenants` },
  'V2G.curve': { meaning: 'V2G PKI keys are EC P-256, and requests are signed ECDSA with SHA-256.', source: `${ISO}, Annex F` },
  'V2G.dc-cpo': { meaning: "An SECC certificate's subject has exactly one DC, and it is CPO.", source: `${ISO}, Annex F` },
  'V2G.secc-id': { meaning: 'The CN is a SECC-ID (EVSEID syntax); the subject holds only CN, O, C and DC.', source: `${ISO}, Annex H; DIN SPEC 91286` },
  'V2G.operator-id': { meaning: "The SECC-ID's operator ID is one of the tenant's.", source: `${PNC}, 4.3` },
  'V2G.size': { meaning: 'A V2G PKI certificate is at most 800 bytes (DER).', source: `${ISO}, Annex F` },
  'Authz.route': { meaning: 'The request is an operation of openapi.yaml in its one spelling (exact path, case and method); anything else is 404 or 405.', source: `${PRODUCT}: openapi.yaml is the route table` },
  'Authz.scope': { meaning: 'The bearer token grants every scope the operation needs (openapi.yaml names them per operation).', source: `${PRODUCT}: RFC 6750 insufficient_scope` },
  'Authz.tenant': { meaning: "The token's tenant exists and is enabled (pki tenants).", source: PRODUCT },
  'List.cursor': { meaning: 'A cursor is the nextCursor of a page of the same list, tenant and filters.', source: `${PRODUCT}: list operations` },
  'List.within': { meaning: 'The expiring list looks at most 400 days ahead.', source: `${PRODUCT}: GET /v1/certificates/expiring` },
  'openapi:<path>': { meaning: 'The request does not match openapi.yaml at <path> (e.g. openapi:/body/serialNumber): a schema rule of the API contract.', source: 'openapi.yaml' },
};

export const RULE_CATALOGUE: readonly RuleEntry[] = Object.entries(ENTRIES)
  .map(([rule, e]) => ({ rule, ...e }))
  .sort((a, b) => a.rule.localeCompare(b.rule));
