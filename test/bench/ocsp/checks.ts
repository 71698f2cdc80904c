/** Response checks: one answer verified with the OpenSSL CLI, a sweep of answers, the responder's outcomes over a run. */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { evenHex } from './certificates.js';
import { ocspResponseStatus, outcomesOf } from './shared.js';

export interface Files {
  readonly root: string;
  readonly sub: string;
}

export interface Target {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: Buffer;
}

/**
 * One request through fetch, the response checked with the OpenSSL CLI: successful, signed by a
 * signer that chains to the root, the certificate good; with a nonce, the nonce echoed.
 */
export async function sanityCheck(t: Target, serialHex: string, files: Files, work: string, nonce?: Buffer): Promise<{ ok: boolean; detail: string; bytes: number }> {
  const res = await fetch(t.url + t.path, { method: t.method, ...(t.body ? { body: t.body, headers: { 'content-type': 'application/ocsp-request' } } : {}) });
  const der = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) return { ok: false, detail: `HTTP ${res.status}`, bytes: der.length };
  if (res.headers.get('content-type') !== 'application/ocsp-response') return { ok: false, detail: `content-type ${res.headers.get('content-type')}`, bytes: der.length };
  const status = ocspResponseStatus(der);
  if (status !== 0) return { ok: false, detail: `OCSP responseStatus ${status}`, bytes: der.length };
  if (nonce && !der.includes(nonce)) return { ok: false, detail: 'nonce not echoed', bytes: der.length };
  const file = join(work, `resp-${Date.now()}.der`);
  writeFileSync(file, der);
  const r = spawnSync(
    'openssl',
    ['ocsp', '-respin', file, '-CAfile', files.root, '-verify_other', files.sub, '-issuer', files.sub, '-sha256', '-serial', `0x${evenHex(serialHex)}`, '-no_nonce'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  const text = `${r.stdout}${r.stderr}`;
  const good = new RegExp(`0x${evenHex(serialHex)}: good`, 'i').test(text);
  const verified = /Response verify OK/.test(text);
  return { ok: good && verified, detail: good && verified ? 'successful, verifies, good' + (nonce ? ', nonce echoed' : '') : text.trim().replace(/\s+/g, ' ').slice(0, 300), bytes: der.length };
}

/** `n` requests from the rotation through undici; counts HTTP non-200 and OCSP non-successful answers. */
export async function statusSweep(url: string, targets: readonly Target[], n: number): Promise<{ checked: number; bad: number; example?: string }> {
  const pool = new Pool(url, { connections: 4 });
  let bad = 0;
  let example: string | undefined;
  try {
    for (let i = 0; i < n; i++) {
      const t = targets[(i * 7) % targets.length]!;
      const r = await pool.request({ path: t.path, method: t.method, ...(t.body ? { body: t.body, headers: { 'content-type': 'application/ocsp-request' } } : {}) });
      const der = Buffer.from(await r.body.arrayBuffer());
      const s = ocspResponseStatus(der);
      if (r.statusCode !== 200 || s !== 0) {
        bad++;
        example ??= `HTTP ${r.statusCode}, OCSP status ${s}`;
      }
    }
  } finally {
    await pool.close();
  }
  return { checked: n, bad, ...(example ? { example } : {}) };
}

/** pki_ocsp_responses_total by `method/outcome` (presigned, signed, or the OCSP error) from the responder's /metrics. */
export async function responderOutcomes(url: string): Promise<Record<string, number>> {
  return outcomesOf(await (await fetch(`${url}/metrics`)).text());
}

/** pki_ocsp_responses_total summed by `worker` label (the cluster slot; one key '' for a single process). */
export async function answersByWorker(url: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await (await fetch(`${url}/metrics`)).text()).matchAll(/^pki_ocsp_responses_total\{([^}]*)\} (\S+)$/gm)) {
    const w = /worker="([^"]*)"/.exec(m[1]!)?.[1] ?? '';
    out[w] = (out[w] ?? 0) + Number(m[2]);
  }
  return out;
}
