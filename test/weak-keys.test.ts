import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fermatFactor, isRocaVulnerable, smallPrimeFactor } from '@evpki/policy';

/**
 * The compiled test runs from test/dist/ (so ../fixtures/csr/); walk up in case
 * the build layout nests it deeper.
 */
function fixtureDir(): string {
  const preferred = fileURLToPath(new URL('../fixtures/csr/', import.meta.url));
  if (existsSync(preferred)) return preferred;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    for (const candidate of [join(dir, 'fixtures', 'csr'), join(dir, 'test', 'fixtures', 'csr')]) {
      if (existsSync(join(candidate, 'rsa-2048-good.csr.pem'))) return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('test/fixtures/csr not found');
    dir = parent;
  }
}

const FIXTURES = fixtureDir();

/** RSA modulus of a fixture CSR's public key. */
function modulus(name: string): bigint {
  const pem = execFileSync('openssl', ['req', '-in', join(FIXTURES, name), '-pubkey', '-noout'], { encoding: 'utf8' });
  const jwk = createPublicKey(pem).export({ format: 'jwk' });
  assert.equal(jwk.kty, 'RSA', `${name} has an RSA key`);
  assert.ok(jwk.n !== undefined);
  return BigInt(`0x${Buffer.from(jwk.n, 'base64url').toString('hex')}`);
}

const bits = (n: bigint): number => n.toString(2).length;

test('roca fixture has the ROCA fingerprint; the good RSA key does not', () => {
  const n = modulus('roca.csr.pem');
  assert.equal(bits(n), 2048);
  assert.equal(isRocaVulnerable(n), true);
  assert.equal(isRocaVulnerable(modulus('rsa-2048-good.csr.pem')), false);
  assert.equal(isRocaVulnerable(modulus('rsa-pss-good.csr.pem')), false);
});

test('fermat fixture is factored by fermatFactor', () => {
  const n = modulus('fermat.csr.pem');
  assert.equal(bits(n), 2048);
  const factors = fermatFactor(n);
  assert.ok(factors !== undefined, 'fermat.csr.pem must be factored');
  const [p, q] = factors;
  assert.ok(p > 1n && p < q);
  assert.equal(p * q, n);
  // q is the next prime after p + 1000: found in the first round.
  assert.deepEqual(fermatFactor(n, 1), factors);
});

test('small-factor fixture has a small prime factor', () => {
  const n = modulus('small-factor.csr.pem');
  assert.equal(bits(n), 2048);
  const p = smallPrimeFactor(n);
  assert.equal(p, 509n);
  assert.equal(n % 509n, 0n);
});

test('good RSA keys pass all three checks', () => {
  for (const name of ['rsa-2048-good.csr.pem', 'rsa-pss-good.csr.pem', 'rsa-exp3.csr.pem', 'rsa-1024.csr.pem']) {
    const n = modulus(name);
    assert.equal(smallPrimeFactor(n), undefined, name);
    assert.equal(fermatFactor(n), undefined, name);
    assert.equal(isRocaVulnerable(n), false, name);
  }
});

test('each weak fixture trips only its own check', () => {
  const roca = modulus('roca.csr.pem');
  assert.equal(smallPrimeFactor(roca), undefined);
  assert.equal(fermatFactor(roca), undefined);
  const fermat = modulus('fermat.csr.pem');
  assert.equal(smallPrimeFactor(fermat), undefined);
  assert.equal(isRocaVulnerable(fermat), false);
  const small = modulus('small-factor.csr.pem');
  assert.equal(fermatFactor(small), undefined);
  assert.equal(isRocaVulnerable(small), false);
});

test('smallPrimeFactor on synthetic values', () => {
  assert.equal(smallPrimeFactor(7n * 1000003n), 7n);
  assert.equal(smallPrimeFactor(2n ** 2047n), 2n);
  assert.equal(smallPrimeFactor(9973n * 1000003n), 9973n); // largest prime below 10000
  assert.equal(smallPrimeFactor(10007n * 1000003n), undefined); // smallest prime above it
  assert.equal(smallPrimeFactor(1000003n * 1000033n), undefined);
  assert.equal(smallPrimeFactor(3n * 5n * 7n), 3n); // smallest factor wins
  assert.equal(smallPrimeFactor(1n), undefined);
  assert.equal(smallPrimeFactor(0n), undefined);
});

test('fermatFactor on synthetic values', () => {
  assert.deepEqual(fermatFactor(1000003n * 1000033n), [1000003n, 1000033n]);
  assert.deepEqual(fermatFactor(1000003n * 1000003n), [1000003n, 1000003n]);
  assert.equal(fermatFactor(1000003n), undefined); // prime: only the trivial split
  assert.equal(fermatFactor(2n * 1000003n), undefined); // even
  assert.equal(fermatFactor(1000003n * 1000033n, 0), undefined);
  // primes far apart: not found in 100 rounds
  assert.equal(fermatFactor(1000003n * 2000003n), undefined);
});

const ROCA_PRIMES = [
  3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n, 41n, 43n, 47n, 53n, 59n, 61n, 67n, 71n, 73n, 79n, 83n, 89n,
  97n, 101n, 103n, 107n, 109n, 113n, 127n, 131n, 137n, 139n, 149n, 151n, 157n, 163n, 167n,
];

function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [((a % m) + m) % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}

/**
 * Recovers the fingerprint marker for prime p from isRocaVulnerable alone:
 * n = 1 (mod every other ROCA prime, 1 is in every subgroup) and n = r (mod p),
 * so n is flagged exactly when bit r of p's marker is set.
 */
function observedMarker(p: bigint): bigint {
  const others = ROCA_PRIMES.filter((q) => q !== p).reduce((acc, q) => acc * q, 1n);
  const inv = modInverse(others, p);
  let mask = 0n;
  for (let r = 0n; r < p; r++) {
    const t = ((((r - 1n) % p) + p) % p * inv) % p;
    if (isRocaVulnerable(1n + others * t)) mask |= 1n << r;
  }
  return mask;
}

test('ROCA markers match the reference values', () => {
  assert.equal(observedMarker(3n), 6n);
  assert.equal(observedMarker(5n), 30n);
  assert.equal(observedMarker(7n), 126n);
  assert.equal(observedMarker(11n), 1026n);
  // every marker is the subgroup generated by 65537 mod p
  for (const p of ROCA_PRIMES) {
    let expected = 0n;
    let x = 1n;
    do {
      expected |= 1n << x;
      x = (x * 65537n) % p;
    } while (x !== 1n);
    assert.equal(observedMarker(p), expected, `marker(${p})`);
  }
});

test('ROCA fingerprint on synthetic values', () => {
  const M = ROCA_PRIMES.reduce((acc, p) => acc * p, 2n);
  // products of powers of 65537 stay in every subgroup
  assert.equal(isRocaVulnerable((65537n ** 5n % M) * (65537n ** 11n % M)), true);
  assert.equal(isRocaVulnerable(M * 12345n + 1n), true);
  assert.equal(isRocaVulnerable(3n * 1000003n), false); // n = 0 (mod 3) is never in the subgroup
  assert.equal(isRocaVulnerable(1000003n * 1000033n), false);
});
