/**
 * Signer micro-benchmark (issue 15): signatures/s and p50/p99 latency of an issuer key in memory
 * (fileSigner) against the same algorithm in a PKCS#11 token (SoftHSM2), one signature at a time
 * and N at once, with the ratio HSM/file. In-process, no HTTP. Every signature is verified after
 * the timed run (a wrong one makes the standalone run exit non-zero).
 *
 * Standalone: `node test/dist/bench/bench-signers.js` (after `npx tsc -b`); results on stdout and in
 * bench-results/bench-signers.json. Env: BENCH_QUICK=1 (fewer signatures), BENCH_SIGNATURES,
 * BENCH_SIGNER_CONC. `make bench-issue` may call benchSigners() and print signerBenchReport().
 * Not a test: it asserts nothing about speed.
 */
import { constants, verify } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  fileSigner,
  generateIssuerKey,
  generatePkcs11IssuerKey,
  newPkcs11KeyId,
  openPkcs11Session,
  pkcs11Signer,
  type IssuerKeyAlgorithm,
  type Pkcs11Session,
  type Signer,
} from '@evpki/keys';
import { createSoftHsm } from '../helpers/softhsm.js';
import { ROOT } from '../helpers/processes.js';
import { QUICK, f0, f2, grid, log, writeResults } from './bench-kit.js';

export interface BenchSignersOptions {
  /** Timed signatures per scenario (default 10,000; 300 with BENCH_QUICK=1). */
  readonly signatures?: number;
  /** Signatures in flight in the concurrent scenario (default 32). */
  readonly concurrency?: number;
  /** Default ecdsa-p256 (the charge point issuing CA's key). */
  readonly algorithm?: IssuerKeyAlgorithm;
  /** A logged-in token to generate the bench key in; default a throwaway SoftHSM2 token. */
  readonly session?: Pkcs11Session;
}

export interface SignerBenchRow {
  readonly backend: 'file' | 'pkcs11';
  readonly algorithm: IssuerKeyAlgorithm;
  readonly concurrency: number;
  readonly signatures: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Signatures that did not verify with the signer's public key (must be 0). */
  readonly badSignatures: number;
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

function verifies(signer: Signer, data: Buffer, sig: Buffer): boolean {
  const hash = signer.algorithm === 'ecdsa-sha384' ? 'sha384' : signer.algorithm === 'ecdsa-sha512' ? 'sha512' : 'sha256';
  if (signer.algorithm === 'rsa-pss-sha256') return verify(hash, data, { key: signer.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig);
  return verify(hash, data, { key: signer.publicKey, dsaEncoding: 'der' }, sig);
}

/** `total` signatures over distinct TBS-sized inputs, `concurrency` in flight; latency per signature includes queueing. */
async function run(signer: Signer, algorithm: IssuerKeyAlgorithm, total: number, concurrency: number): Promise<SignerBenchRow> {
  const inputs = Array.from({ length: total }, (_, i) => Buffer.concat([Buffer.alloc(600, i & 0xff), Buffer.from(`tbs ${i}`)]));
  const sigs: Buffer[] = new Array<Buffer>(total);
  const latencies: number[] = [];
  for (let i = 0; i < Math.min(50, total); i++) await signer.sign(inputs[i]!); // warm-up: sessions, JIT
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        sigs[i] = await signer.sign(inputs[i]!);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const badSignatures = sigs.filter((s, i) => !verifies(signer, inputs[i]!, s)).length;
  return { backend: signer.backend, algorithm, concurrency, signatures: total, seconds, perSecond: total / seconds, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), badSignatures };
}

export async function benchSigners(opts: BenchSignersOptions = {}): Promise<SignerBenchRow[]> {
  const algorithm = opts.algorithm ?? 'ecdsa-p256';
  const total = opts.signatures ?? (Number(process.env.BENCH_SIGNATURES) || (QUICK ? 300 : 10_000));
  const concurrency = opts.concurrency ?? (Number(process.env.BENCH_SIGNER_CONC) || 32);
  const hsm = opts.session ? undefined : createSoftHsm();
  let session = opts.session;
  try {
    if (!session) {
      hsm!.initToken('bench-signers', '11223344');
      session = await openPkcs11Session({ module: hsm!.module, tokenLabel: 'bench-signers', pin: '11223344' });
    }
    const id = newPkcs11KeyId();
    await generatePkcs11IssuerKey(session, { algorithm, label: `bench-${id}`, id });
    const signers = [fileSigner(generateIssuerKey(algorithm)), await pkcs11Signer(session, { keyLabel: `bench-${id}`, keyId: id })];
    const rows: SignerBenchRow[] = [];
    for (const c of [1, concurrency])
      for (const signer of signers) {
        log(`${signer.backend} ${algorithm}, concurrency ${c}: ${total} signatures`);
        rows.push(await run(signer, algorithm, total, c));
      }
    return rows;
  } finally {
    if (!opts.session) await session?.close();
    hsm?.cleanup();
  }
}

/** The rows as a table, then HSM/file ratios per concurrency (throughput and p50). */
export function signerBenchReport(rows: readonly SignerBenchRow[]): string {
  const table = grid(
    ['backend', 'algorithm', 'conc', 'sigs', 'sig/s', 'p50 ms', 'p99 ms', 'bad'],
    rows.map((r) => [r.backend, r.algorithm, String(r.concurrency), String(r.signatures), f0(r.perSecond), f2(r.p50Ms), f2(r.p99Ms), String(r.badSignatures)]),
  );
  const ratios = [...new Set(rows.map((r) => r.concurrency))].flatMap((c) => {
    const file = rows.find((r) => r.backend === 'file' && r.concurrency === c);
    const hsm = rows.find((r) => r.backend === 'pkcs11' && r.concurrency === c);
    if (!file || !hsm) return [];
    return [`HSM/file at concurrency ${c}: throughput ${f2(hsm.perSecond / file.perSecond)}x, p50 ${f2(hsm.p50Ms / file.p50Ms)}x, p99 ${f2(hsm.p99Ms / file.p99Ms)}x`];
  });
  return [table, '', ...ratios].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const startedAt = new Date();
  const rows = await benchSigners();
  process.stdout.write(signerBenchReport(rows) + '\n');
  writeResults(join(ROOT, 'bench-results/bench-signers.json'), 'bench-signers', startedAt, { rows });
  if (rows.some((r) => r.badSignatures > 0)) {
    process.stderr.write('PROBLEM: signatures that do not verify\n');
    process.exitCode = 1;
  }
}
