/**
 * `openssl verify -x509_strict` on x509-limbo cases: files in a temporary folder, processes spawned
 * in parallel through a small pool.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { opensslAsync } from './openssl.js';
import { pemToDer, validationTime, type LimboCase } from './limbo.js';
import { X509Certificate } from 'node:crypto';

export interface OpensslVerdict {
  readonly id: string;
  readonly ok: boolean;
  readonly args: readonly string[];
  readonly output: string;
}

/** The openssl verify arguments for a case whose files are in `dir`. */
function argsFor(c: LimboCase, dir: string): string[] {
  const write = (name: string, pems: readonly string[]): string => {
    const file = join(dir, name);
    writeFileSync(file, pems.join('\n'));
    return file;
  };
  const anchorsSelfSigned = c.trusted_certs.every((p) => {
    const x = new X509Certificate(pemToDer(p));
    return x.checkIssued(x);
  });
  const args = ['verify', '-x509_strict', '-purpose', 'any', '-attime', String(Math.floor(validationTime(c).getTime() / 1000)), '-CAfile', write('anchors.pem', c.trusted_certs)];
  if (c.untrusted_intermediates.length) args.push('-untrusted', write('untrusted.pem', c.untrusted_intermediates));
  if (c.crls.length) args.push('-crl_check', '-CRLfile', write('crls.pem', c.crls));
  if (!anchorsSelfSigned) args.push('-partial_chain');
  if (c.max_chain_depth != null) args.push('-verify_depth', String(c.max_chain_depth));
  args.push(write('leaf.pem', [c.peer_certificate]));
  return args;
}

/** Runs openssl verify for every case, at most `parallel` at a time. */
export async function opensslVerifyAll(cases: readonly LimboCase[], parallel = 4): Promise<Map<string, OpensslVerdict>> {
  const root = mkdtempSync(join(tmpdir(), 'limbo-openssl-'));
  const out = new Map<string, OpensslVerdict>();
  let next = 0;
  try {
    const worker = async (): Promise<void> => {
      while (next < cases.length) {
        const i = next++;
        const c = cases[i]!;
        const dir = mkdtempSync(join(root, `c${i}-`));
        const args = argsFor(c, dir);
        const r = await opensslAsync(args);
        out.set(c.id, { id: c.id, ok: r.code === 0, args, output: (r.stdout + r.stderr).trim() });
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return out;
}
