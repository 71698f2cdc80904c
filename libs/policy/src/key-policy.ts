import type { KeyInfo } from '@evpki/x509';
import { Rule, type Violation } from './violations.js';
import { fermatFactor, isRocaVulnerable, smallPrimeFactor } from './weak-keys.js';

export interface KeyPolicy {
  readonly minRsaBits: number;
  readonly maxRsaBits: number;
  readonly minEcBits: number;
  readonly curves: readonly string[];
}

/** A00.FR.501-503 defaults: RSA 2048..8192, EC P-256/P-384/P-521 (the 224-bit floor raised to 256). */
export const DEFAULT_KEY_POLICY: KeyPolicy = { minRsaBits: 2048, maxRsaBits: 8192, minEcBits: 256, curves: ['P-256', 'P-384', 'P-521'] };

/** Checks a public key's type, size and structure (no lookups: blocked keys are checked by the caller's context). */
export function checkKey(key: KeyInfo, policy: KeyPolicy): Violation[] {
  if (key.type === 'unsupported')
    return [{ rule: Rule.algorithms, message: `key algorithm ${key.algorithm} is not allowed; use RSA or EC (P-256, P-384, P-521)` }];
  if (key.type === 'ec') {
    if (key.bits && key.bits < policy.minEcBits)
      return [{ rule: Rule.ecSize, message: `EC key of ${key.bits} bits is below the minimum of ${policy.minEcBits}` }];
    if (!policy.curves.includes(key.curve))
      return [{ rule: Rule.algorithms, message: `EC curve ${key.curve} is not allowed; allowed: ${policy.curves.join(', ')}` }];
    return [];
  }
  if (key.bits < policy.minRsaBits)
    return [{ rule: Rule.rsaSize, message: `RSA key of ${key.bits} bits is below the minimum of ${policy.minRsaBits}` }];
  if (key.bits > policy.maxRsaBits)
    return [{ rule: Rule.rsaSize, message: `RSA key of ${key.bits} bits is above the maximum of ${policy.maxRsaBits}` }];
  if (key.exponent % 2n === 0n || key.exponent < 65537n)
    return [{ rule: Rule.algorithms, message: 'RSA public exponent must be odd and at least 65537' }];
  // Weak-structure checks, cheapest first (boulder goodkey order).
  if (smallPrimeFactor(key.modulus) !== undefined)
    return [{ rule: Rule.algorithms, message: 'RSA modulus has a small prime factor' }];
  if (isRocaVulnerable(key.modulus))
    return [{ rule: Rule.algorithms, message: 'RSA key has the ROCA fingerprint (CVE-2017-15361)' }];
  if (fermatFactor(key.modulus) !== undefined)
    return [{ rule: Rule.algorithms, message: "RSA modulus is factored by Fermat's method (primes too close)" }];
  return [];
}
