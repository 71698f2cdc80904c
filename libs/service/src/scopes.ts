// No imports: `pki --help` prints these without loading the service library (@evpki/service/scopes).

/** What a bearer token may allow; each RA operation names the scopes it needs in openapi.yaml. */
export const SCOPES = [
  'stations:write',
  'certificates:sign',
  'certificates:revoke',
  'server-certificates:sign',
  'status:read',
  'audit:read',
  'manufacturers:read',
  'manufacturers:write',
  'manufacturer-certificates:verify',
  'stations:read',
  'certificates:read',
  'issuers:read',
] as const;
export type Scope = (typeof SCOPES)[number];
