/**
 * Weak RSA modulus checks applied to CSR public keys before issuance.
 *
 * These catch broken key generators rather than attacks on sound keys: a
 * station whose firmware produced one of these moduli has a private key that
 * anyone can recover, so proof of possession means nothing for it. All
 * functions are pure and synchronous; inputs are the modulus as a bigint.
 */

/**
 * Primes below this bound are trial-divided out of every RSA modulus.
 * 10000 (1229 primes) is far beyond boulder goodkey's 752 and still costs only
 * ~0.1 ms for a 4096-bit modulus; a sound generator never yields such a factor.
 */
export const SMALL_PRIME_BOUND: number = 10_000;

/** Sieve of Eratosthenes: every prime p with 2 <= p < limit. */
function primesBelow(limit: number): number[] {
  const composite = new Uint8Array(limit);
  const primes: number[] = [];
  for (let i = 2; i < limit; i++) {
    if (composite[i] === 1) continue;
    primes.push(i);
    for (let j = i * i; j < limit; j += i) composite[j] = 1;
  }
  return primes;
}

/** A run of primes whose product stays below 2^53, so remainders fit a Number. */
interface PrimeChunk {
  readonly primes: readonly number[];
  readonly product: bigint;
}

/** Chunks grouped under a ~1024-bit product: one big reduction per group. */
interface PrimeGroup {
  readonly chunks: readonly PrimeChunk[];
  readonly product: bigint;
}

const GROUP_PRODUCT_BITS = 1024;

let smallPrimeGroups: readonly PrimeGroup[] | undefined;

/** Built once, on first use. */
function getSmallPrimeGroups(): readonly PrimeGroup[] {
  if (smallPrimeGroups !== undefined) return smallPrimeGroups;
  const chunks: PrimeChunk[] = [];
  let run: number[] = [];
  let runProduct = 1;
  for (const p of primesBelow(SMALL_PRIME_BOUND)) {
    if (runProduct * p > Number.MAX_SAFE_INTEGER) {
      chunks.push({ primes: run, product: BigInt(runProduct) });
      run = [];
      runProduct = 1;
    }
    run.push(p);
    runProduct *= p;
  }
  if (run.length > 0) chunks.push({ primes: run, product: BigInt(runProduct) });

  const groups: PrimeGroup[] = [];
  let members: PrimeChunk[] = [];
  let groupProduct = 1n;
  for (const chunk of chunks) {
    members.push(chunk);
    groupProduct *= chunk.product;
    if (bitLength(groupProduct) >= GROUP_PRODUCT_BITS) {
      groups.push({ chunks: members, product: groupProduct });
      members = [];
      groupProduct = 1n;
    }
  }
  if (members.length > 0) groups.push({ chunks: members, product: groupProduct });
  smallPrimeGroups = groups;
  return groups;
}

/** Number of bits in a non-negative bigint (0 for 0). */
function bitLength(n: bigint): number {
  if (n === 0n) return 0;
  const hex = n.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(Number.parseInt(hex.charAt(0), 16)));
}

/**
 * The smallest prime factor of n below SMALL_PRIME_BOUND, if any (boulder
 * goodkey style). A modulus with a small factor is trivially factored.
 *
 * A single gcd(n, product of all small primes) is the textbook approach, but
 * the Euclidean loop on 4096-bit bigints costs ~0.7 ms; a two-level remainder
 * tree (n mod ~1024-bit group products, then mod < 2^53 chunk products and
 * plain Number arithmetic) gives the same answer about 8x faster.
 * Returns undefined for |n| < 2.
 */
export function smallPrimeFactor(n: bigint): bigint | undefined {
  const m = n < 0n ? -n : n;
  if (m < 2n) return undefined;
  for (const group of getSmallPrimeGroups()) {
    const r = m % group.product;
    for (const chunk of group.chunks) {
      const rc = Number(r % chunk.product);
      for (const p of chunk.primes) {
        if (rc % p === 0) return BigInt(p);
      }
    }
  }
  return undefined;
}

/** floor(sqrt(n)) by Newton's method, starting above the root. */
function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError('square root of a negative number');
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLength(n) >> 1) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** Quadratic residues mod 64: cheap rejection of most non-squares. */
const SQUARE_MOD_64: readonly boolean[] = Array.from({ length: 64 }, (_, r) =>
  Array.from({ length: 64 }, (_unused, x) => (x * x) % 64).includes(r),
);

/** The square root of n when n is a perfect square, else undefined. */
function exactSqrt(n: bigint): bigint | undefined {
  if (n < 0n) return undefined;
  if (SQUARE_MOD_64[Number(n & 63n)] !== true) return undefined;
  const r = isqrt(n);
  return r * r === n ? r : undefined;
}

/**
 * Fermat's factorization for `rounds` iterations starting at a = ceil(sqrt(n)):
 * returns [p, q] (p <= q, p * q = n) when a^2 - n is a perfect square b^2.
 * It succeeds quickly exactly when |p - q| is small, i.e. a generator drew both
 * primes from the same neighbourhood (CVE-2022-26320, boulder goodkey).
 * Even n and trivial splits (1 * n) are not reported.
 */
export function fermatFactor(n: bigint, rounds = 100): [bigint, bigint] | undefined {
  if (n < 9n || (n & 1n) === 0n) return undefined;
  let a = isqrt(n);
  if (a * a < n) a += 1n;
  let b2 = a * a - n;
  for (let i = 0; i < rounds; i++) {
    const b = exactSqrt(b2);
    if (b !== undefined) {
      const p = a - b;
      // a - b = 1 is the trivial split; larger a only yields it again.
      return p > 1n ? [p, a + b] : undefined;
    }
    // (a + 1)^2 - n = a^2 - n + 2a + 1
    b2 += 2n * a + 1n;
    a += 1n;
  }
  return undefined;
}

/**
 * The 38 odd primes up to 167 used by the ROCA fingerprint (roca-detect,
 * rocacheck). Infineon RSALib primes are p = k * M + (65537^a mod M) with M the
 * primorial of 167, so n mod each of these primes lies in the subgroup
 * generated by 65537.
 */
const ROCA_PRIMES: readonly number[] = primesBelow(168).filter((p) => p !== 2);

interface RocaMarker {
  readonly prime: bigint;
  /** bit r set iff r = 65537^k mod prime for some k */
  readonly mask: bigint;
}

let rocaMarkers: readonly RocaMarker[] | undefined;

/** Bitmask of the subgroup of (Z/pZ)* generated by 65537. */
function rocaMarker(p: number): bigint {
  const g = 65537 % p;
  let mask = 0n;
  let r = 1;
  do {
    mask |= 1n << BigInt(r);
    r = (r * g) % p;
  } while (r !== 1);
  return mask;
}

/** Computed once, on first use. */
function getRocaMarkers(): readonly RocaMarker[] {
  rocaMarkers ??= ROCA_PRIMES.map((p) => ({ prime: BigInt(p), mask: rocaMarker(p) }));
  return rocaMarkers;
}

/**
 * ROCA (CVE-2017-15361) fingerprint test of an RSA modulus, as in the
 * roca-detect / rocacheck tools: vulnerable Infineon TPM/smart-card keys are
 * factorable via Coppersmith's method. n is flagged iff, for every prime p in
 * 3..167, n mod p lies in the subgroup generated by 65537 mod p. A random
 * modulus passes all 38 tests with negligible probability.
 */
export function isRocaVulnerable(n: bigint): boolean {
  if (n <= 0n) return false;
  for (const { prime, mask } of getRocaMarkers()) {
    if (((mask >> (n % prime)) & 1n) === 0n) return false;
  }
  return true;
}
