import type { Profile } from '../profile.js';
import { CA_CEREMONY, caExtensions, ceremonyNames } from './ca-extensions.js';

/**
 * A self-signed root CA (`pki init`, `pki rotate-root`, the internal service CA): CA:true without
 * a path length, keyCertSign + cRLSign, SKI = AKI. Made by a CLI ceremony, recorded as an issuer.
 */
export const rootCa: Profile = {
  kind: 'RootCaCertificate',
  requestName: 'root CA',
  signedBy: { hierarchy: '*', role: 'root' },
  ...CA_CEREMONY,
  extensions: (issuer) => (subject) => caExtensions({ ...issuer, urls: undefined }, subject),
  subjectAttributes: (_issuer, subject) => ceremonyNames(subject),
};
