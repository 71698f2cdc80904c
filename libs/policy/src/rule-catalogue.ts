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
type OtherRule = 'A00.FR.701' | 'Authz.route' | 'Authz.scope' | 'Authz.tenant' | 'List.cursor' | 'List.within' | 'openapi:<path>'
  | 'Tenant.unique-operator-id'
  | 'V2G.chain'
  | 'V2G.key'
  | 'EST.secc-certificate'
  | 'EST.reenroll-subject'
  | 'EST.ca-domain'
  | 'EST.iso15118-version'
  | 'DataTransfer.pnc'
  | 'Token.lifetime'
  | 'Token.subject'
  | 'Token.k8s.issuer'
  | 'Token.k8s.audience'
  | 'Token.k8s.expired'
  | 'Token.k8s.account'
  | 'Manufacturer.chain'
  | 'Manufacturer.identity'
  | 'Manufacturer.root'
  | 'Manufacturer.intermediate'
  | 'Manufacturer.mapping'
  | 'Manufacturer.model'
  | 'Manufacturer.name'
  | 'Manufacturer.revocation'
  | 'PATHVAL-MAX-DEPTH'
  | 'RFC5280-4.1'
  | 'RFC5280-4.1.1.2'
  | 'RFC5280-4.1.2.1'
  | 'RFC5280-4.1.2.2'
  | 'RFC5280-4.1.2.4'
  | 'RFC5280-4.1.2.6'
  | 'RFC5280-4.1.2.8'
  | 'RFC5280-4.1.2.9'
  | 'RFC5280-4.2'
  | 'RFC5280-4.2.1.1'
  | 'RFC5280-4.2.1.2'
  | 'RFC5280-4.2.1.3'
  | 'RFC5280-4.2.1.6'
  | 'RFC5280-4.2.1.9'
  | 'RFC5280-4.2.1.10'
  | 'RFC5280-4.2.1.12'
  | 'RFC5280-6.1'
  | 'RFC5280-6.1.3(a)(1)'
  | 'RFC5280-6.1.3(a)(2)'
  | 'RFC5280-6.1.3(a)(3)'
  | 'RFC5280-6.1.3(a)(4)'
  | 'RFC5280-6.1.3(b)'
  | 'RFC5280-6.1.3(c)'
  | 'RFC5280-6.1.3(f)'
  | 'RFC5280-6.1.4(a)'
  | 'RFC5280-6.1.4(k)'
  | 'RFC5280-6.1.4(l)'
  | 'RFC5280-6.1.4(n)'
  | 'RFC5280-6.1.4(o)'
  | 'RFC5280-6.1.5(f)'
  | 'RFC5280-6.1.5(g)';

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
  'PnC-4.3.secc-id-unique': { meaning: 'A SECC-ID (compared without \'*\', any case) is listed by one station of a tenant at most, so that one station alone can obtain its SECC certificate.', source: `${PNC}, 4.3` },
  'PnC-4.5': { meaning: 'Status queries on behalf of charge points go only to our issuers and allow-listed responders.', source: `${PNC}, 4.5` },
  'RFC5280-5.3.1': { meaning: 'A revocation names one of the reasons a tenant may use (RFC 5280 CRLReason).', source: 'RFC 5280, 5.3.1' },
  'Issuance.certificate-type': { meaning: 'Only the certificate types a profile issues are signed.', source: `${PRODUCT}: libs/issuance` },
  'RateLimit.station': { meaning: 'At most so many CSRs per station per day (RA_RATE_*).', source: PRODUCT },
  'RateLimit.tenant': { meaning: 'At most so many CSRs per tenant per minute (RA_RATE_*).', source: PRODUCT },
  'RateLimit.ocspSigner': { meaning: 'At most so many delegated OCSP signer certificates per issuer per hour.', source: PRODUCT },
  'Station.removal-limit': {
    meaning: 'Removing a station revokes its good certificates in one write, at most 10,000 of them (about 27 years of daily renewals); revoke some first (POST /v1/certificates/{serialNumber}/revoke), then remove it again.',
    source: `${PRODUCT}: DELETE /v1/stations/{stationId}`,
  },
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
  'Tenant.unique-operator-id': { meaning: 'No two tenants hold the same V2G operator ID (the SECC-ID prefix a tenant may enrol under).', source: PRODUCT },
  'V2G.chain': { meaning: 'An imported CPO Sub-CA 2 comes with its chain up to the V2G root, each certificate signed by the next (pki v2g import).', source: `${ISO}, Annex F` },
  'V2G.key': { meaning: "An imported CPO Sub-CA 2's key is the key of its certificate (pki v2g import).", source: `${ISO}, Annex F` },
  'EST.secc-certificate': { meaning: 'A re-enrolment authenticated by TLS client certificate presents an SECC certificate this PKI issued, valid, not revoked, whose SECC-ID is still registered.', source: 'RFC 7030 3.3.2, 4.2.2' },
  'EST.reenroll-subject': { meaning: "A re-enrolment's CSR carries the subject of the certificate it renews.", source: 'RFC 7030 4.2.2' },
  'EST.ca-domain': { meaning: 'The OPNC EST form names the CPO domain (caDomain=cpo): this PKI is a CPO Sub-CA 2.', source: PNC },
  'EST.iso15118-version': { meaning: 'The OPNC EST form names ISO 15118-2 (iso15118Version=ISO15118-2): the ISO 15118-20 profiles are not issued.', source: PNC },
  'DataTransfer.pnc': { meaning: 'An OCPP 1.6 DataTransfer for Plug&Charge has vendorId org.openchargealliance.iso15118pnc, messageId SignCertificate and data the JSON text of a SignCertificate.req.', source: 'Using ISO 15118 Plug & Charge with OCPP 1.6' },
  'Token.lifetime': { meaning: 'A bearer token lives at most RA_JWT_MAX_TTL_SECONDS (exp - iat, and exp from now).', source: PRODUCT },
  'Token.subject': { meaning: "A token's sub is not a name the PKI uses for itself in the audit log.", source: PRODUCT },
  'Token.k8s.issuer': { meaning: 'A Kubernetes service-account token comes from the configured cluster issuer (RA_K8S_ISSUER), signed by one of its keys.', source: PRODUCT },
  'Token.k8s.audience': { meaning: "A Kubernetes service-account token is projected for the RA's audience (RA_K8S_AUDIENCE, default evpki-ra).", source: PRODUCT },
  'Token.k8s.expired': { meaning: 'A Kubernetes service-account token is within its validity (nbf, exp).', source: PRODUCT },
  'Token.k8s.account': { meaning: 'The service account is one RA_K8S_SA_MAP maps to a tenant and scopes, and sub and the kubernetes.io claim name the same account.', source: PRODUCT },
  'Manufacturer.chain': { meaning: "A station's manufacturer certificate chain validates (RFC 5280 6.1) to a root of one of the tenant's trusted manufacturers.", source: 'RFC 5280 6.1; certificate-based authentication of charging stations (first connection)' },
  'Manufacturer.identity': { meaning: 'A station registered through a manufacturer certificate is re-keyed only by its owner CSMS or by the same manufacturer certificate.', source: PRODUCT },
  'Manufacturer.root': { meaning: 'A trusted manufacturer root is a self-signed CA certificate.', source: PRODUCT },
  'Manufacturer.intermediate': { meaning: 'A manufacturer intermediate is a CA certificate.', source: PRODUCT },
  'Manufacturer.mapping': { meaning: "A manufacturer's mapping names where the serial number (CN or serialNumber) and the model come from.", source: PRODUCT },
  'Manufacturer.model': { meaning: "The station's model is one the manufacturer entry allows.", source: PRODUCT },
  'Manufacturer.name': { meaning: "A manufacturer name is 1-64 characters of letters, digits, '.', '_' or '-'.", source: PRODUCT },
  'Manufacturer.revocation': { meaning: "The manufacturer certificates' revocation status could be checked (CRL or OCSP from an allowed host) and none is revoked; fail-open manufacturers accept an unknown status.", source: 'RFC 5280 6.3, RFC 6960' },
  'PATHVAL-MAX-DEPTH': { meaning: 'A manufacturer chain has at most 8 intermediate CAs (not counting self-issued ones).', source: PRODUCT },
  'RFC5280-4.1': { meaning: 'The certificate is DER as RFC 5280 4.1 defines it.', source: 'RFC 5280 4.1' },
  'RFC5280-4.1.1.2': { meaning: "The outer signatureAlgorithm equals the tbsCertificate's signature field.", source: 'RFC 5280 4.1.1.2' },
  'RFC5280-4.1.2.1': { meaning: 'The version is v3 when extensions are present.', source: 'RFC 5280 4.1.2.1' },
  'RFC5280-4.1.2.2': { meaning: 'The serial number is positive and at most 20 octets.', source: 'RFC 5280 4.1.2.2' },
  'RFC5280-4.1.2.4': { meaning: 'The issuer name is not empty.', source: 'RFC 5280 4.1.2.4' },
  'RFC5280-4.1.2.6': { meaning: "A CA certificate's subject name is not empty; an empty subject needs a critical subjectAltName.", source: 'RFC 5280 4.1.2.6' },
  'RFC5280-4.1.2.8': { meaning: 'issuerUniqueID and subjectUniqueID appear only in v2 and v3 certificates.', source: 'RFC 5280 4.1.2.8' },
  'RFC5280-4.1.2.9': { meaning: 'Extensions are unique (no extension twice) and present only in v3 certificates.', source: 'RFC 5280 4.1.2.9' },
  'RFC5280-4.2': { meaning: 'Extensions are well formed.', source: 'RFC 5280 4.2' },
  'RFC5280-4.2.1.1': { meaning: 'The authority key identifier is present (except in self-signed certificates) and well formed.', source: 'RFC 5280 4.2.1.1' },
  'RFC5280-4.2.1.2': { meaning: 'A CA certificate carries a subject key identifier.', source: 'RFC 5280 4.2.1.2' },
  'RFC5280-4.2.1.3': { meaning: "keyUsage is well formed, and a CA's includes keyCertSign.", source: 'RFC 5280 4.2.1.3' },
  'RFC5280-4.2.1.6': { meaning: 'subjectAltName is well formed and not empty.', source: 'RFC 5280 4.2.1.6' },
  'RFC5280-4.2.1.9': { meaning: 'basicConstraints is well formed; pathLenConstraint only with cA and keyCertSign; critical on a CA.', source: 'RFC 5280 4.2.1.9' },
  'RFC5280-4.2.1.10': { meaning: 'nameConstraints is critical, on a CA, and not empty.', source: 'RFC 5280 4.2.1.10' },
  'RFC5280-4.2.1.12': { meaning: "The extended key usage allows the use (a station's manufacturer certificate: clientAuth).", source: 'RFC 5280 4.2.1.12' },
  'RFC5280-6.1': { meaning: 'A certification path leads from the certificate to a trust anchor.', source: 'RFC 5280 6.1' },
  'RFC5280-6.1.3(a)(1)': { meaning: "Each certificate's signature verifies with its issuer's public key.", source: 'RFC 5280 6.1.3(a)(1)' },
  'RFC5280-6.1.3(a)(2)': { meaning: 'Each certificate is valid at the time of the check.', source: 'RFC 5280 6.1.3(a)(2)' },
  'RFC5280-6.1.3(a)(3)': { meaning: 'No certificate of the path is revoked, and its revocation status can be determined from the CRLs given.', source: 'RFC 5280 6.1.3(a)(3)' },
  'RFC5280-6.1.3(a)(4)': { meaning: "Each certificate's issuer name is its issuer's subject name.", source: 'RFC 5280 6.1.3(a)(4)' },
  'RFC5280-6.1.3(b)': { meaning: 'The subject names are within the permitted subtrees of the name constraints.', source: 'RFC 5280 6.1.3(b)' },
  'RFC5280-6.1.3(c)': { meaning: 'The subject names are outside the excluded subtrees of the name constraints.', source: 'RFC 5280 6.1.3(c)' },
  'RFC5280-6.1.3(f)': { meaning: 'A valid policy tree remains where an explicit policy is required.', source: 'RFC 5280 6.1.3(f)' },
  'RFC5280-6.1.4(a)': { meaning: 'Policy mappings never map to or from anyPolicy.', source: 'RFC 5280 6.1.4(a)' },
  'RFC5280-6.1.4(k)': { meaning: 'Every issuer in the path is a CA (basicConstraints cA true).', source: 'RFC 5280 6.1.4(k)' },
  'RFC5280-6.1.4(l)': { meaning: "The path is no longer than the CAs' pathLenConstraint allows.", source: 'RFC 5280 6.1.4(l)' },
  'RFC5280-6.1.4(n)': { meaning: "Every issuer's keyUsage, when present, includes keyCertSign.", source: 'RFC 5280 6.1.4(n)' },
  'RFC5280-6.1.4(o)': { meaning: 'No CA certificate carries a critical extension the validator does not process.', source: 'RFC 5280 6.1.4(o)' },
  'RFC5280-6.1.5(f)': { meaning: 'The end certificate carries no critical extension the validator does not process.', source: 'RFC 5280 6.1.5(f)' },
  'RFC5280-6.1.5(g)': { meaning: 'The path ends with a valid policy where an explicit policy is required.', source: 'RFC 5280 6.1.5(g)' },
  'openapi:<path>': { meaning: 'The request does not match openapi.yaml at <path> (e.g. openapi:/body/serialNumber): a schema rule of the API contract.', source: 'openapi.yaml' },
};

export const RULE_CATALOGUE: readonly RuleEntry[] = Object.entries(ENTRIES)
  .map(([rule, e]) => ({ rule, ...e }))
  .sort((a, b) => a.rule.localeCompare(b.rule));
