/**
 * `node test/dist/bench/bench-pathval.js` (after `npx tsc -b`): verifications per second of a 3-certificate chain (station leaf → issuing CA
 * → root, openssl-made, P-256 and RSA 2048) with the cached validator (createPathValidator) and with
 * validatePath (no cache). Indicative only; it asserts nothing about speed but exits non-zero when a
 * verification of the good chain fails. Env: BENCH_SECONDS (per measurement, default 3).
 */
import { createPathValidator, validatePath, type PathInput } from '@evpki/pathval';
import { makeManufacturerPki, type MfrKeyType } from '../helpers/manufacturer-pki.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);

async function rate(label: string, validate: (i: PathInput) => Promise<{ ok: boolean }>, input: PathInput): Promise<void> {
  const end = Date.now() + seconds * 1000;
  let n = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 50; i++) if (!(await validate(input)).ok) throw new Error(`${label}: the good chain was refused`);
    n += 50;
  }
  console.log(`${label.padEnd(28)} ${Math.round(n / seconds).toString().padStart(7)} verifications/s`);
}

for (const keyType of ['p256', 'rsa'] as MfrKeyType[]) {
  const pki = makeManufacturerPki({ keyType });
  try {
    const input: PathInput = { leaf: pki.leaf.der, intermediates: [pki.intermediate.der], trustAnchors: [pki.root.der, pki.otherRoot.der], at: new Date() };
    const cached = createPathValidator();
    await rate(`${keyType} cached validator`, (i) => cached.validate(i), input);
    await rate(`${keyType} validatePath (no cache)`, validatePath, input);
  } finally {
    pki.cleanup();
  }
}
