import { isIP } from 'node:net';
import { Rule, type Violation } from './violations.js';

const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\/|^(https?|wss?|ftp):|\//i;
/** A host name: dot-separated labels ending in an alphabetic TLD (so "CP.0001" is not one). */
export const HOST_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$/i;

/**
 * A00.FR.511: a charge point's identity (its serial number, used as CN) is never a URL, an IP
 * address or a host name. Also used when a station is registered.
 */
export function checkChargePointIdentity(value: string, what = 'CN'): Violation[] {
  const bare = value.replace(/^\[|\]$/g, '');
  if (URL_LIKE.test(value)) return [{ rule: Rule.chargePointName, message: `${what} "${value}" is a URL; it must be the charge point's serial number` }];
  if (isIP(bare)) return [{ rule: Rule.chargePointName, message: `${what} "${value}" is an IP address; it must be the charge point's serial number` }];
  if (HOST_NAME.test(value)) return [{ rule: Rule.chargePointName, message: `${what} "${value}" is a host name; it must be the charge point's serial number` }];
  return [];
}
