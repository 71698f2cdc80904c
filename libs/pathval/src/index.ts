/**
 * @evpki/pathval: RFC 5280 section 6 certification path validation for client certificate chains
 * (a station's manufacturer certificate as a CSMS saw it in a TLS handshake) against a tenant's
 * trust anchors. Every refusal names the rule it applies (RFC5280-6.1.3(a)(1), ...).
 * See docs/architecture.md "Path validation (libs/pathval)".
 */
export type { Refusal } from './refusal.js';
export { validatePath, createPathValidator, type PathInput, type PathVerdict } from './validator.js';
