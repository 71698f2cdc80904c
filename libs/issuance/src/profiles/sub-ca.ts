import type { IssuerRoleName, Profile } from '../profile.js';
import { CA_CEREMONY, caExtensions, ceremonyNames } from './ca-extensions.js';

/**
 * A sub-CA under a root or another sub-CA: CA:true with the path length its place in the chain
 * needs, keyCertSign + cRLSign, and the parent's issuer and CRL URLs. Made by a CLI ceremony.
 */
export function subCaProfile(kind: string, signedBy: { hierarchy: string; role: IssuerRoleName }, pathLen: number): Profile {
  return {
    kind,
    requestName: 'sub-CA',
    signedBy,
    ...CA_CEREMONY,
    extensions: (issuer) => (subject) => caExtensions(issuer, subject, pathLen),
    subjectAttributes: (_issuer, subject) => ceremonyNames(subject),
  };
}

/** The csms hierarchy's issuing CA (pathLen 0): charge point and CSMS server certificates come from it. */
export const issuingCa: Profile = subCaProfile('IssuingCaCertificate', { hierarchy: 'csms', role: 'root' }, 0);
