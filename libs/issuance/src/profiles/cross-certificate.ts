import type { Profile } from '../profile.js';
import { CA_CEREMONY, caExtensions } from './ca-extensions.js';

/**
 * A cross-certificate (root rotation, RFC 4949; RFC 5280 6.1 path building through it): another
 * root's exact name and key, CA:true without a path length (the issuing CA below still has
 * pathLen 0), signed by this root, never outliving either root.
 */
export const crossCertificate: Profile = {
  kind: 'CrossCertificate',
  requestName: 'cross-certificate',
  signedBy: { hierarchy: '*', role: 'root' },
  ...CA_CEREMONY,
  extensions: (issuer) => (subject) => caExtensions({ ...issuer, urls: undefined }, subject),
  subjectAttributes: () => [],
};
