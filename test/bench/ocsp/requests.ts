/** The requests: one SHA-256 CertID per certificate (what charge points send), as fetch targets and as wrk scripts. */
import { join } from 'node:path';
import { buildOcspRequest, encodeCertId, issuerHashes } from '@evpki/ocsp';
import { serialFromHex } from '@evpki/x509';
import { f0, log } from '../bench-kit.js';
import type { Target } from './checks.js';
import { NONCE_BYTES } from './config.js';
import type { Setup } from './setup.js';
import { nonceScript, rotationScript } from './wrk.js';

export interface Requests {
  readonly certIds: readonly Buffer[];
  /** Per certificate: GET and POST for the sanity checks. */
  readonly getTargets: readonly Target[];
  readonly postTargets: readonly Target[];
  /** wrk scripts rotating over all certificates: GET, POST, POST with a fresh nonce each. */
  readonly scripts: { readonly get: string; readonly post: string; readonly nonce: string };
}

export function buildRequests(work: string, { ocspUrl, issuerCert, issued }: Setup): Requests {
  const h = issuerHashes(issuerCert).sha256;
  const certIds = issued.map((c) => encodeCertId('sha256', h.name, h.key, serialFromHex(c.serialHex)));
  const postHead = (len: number): string => `POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${len}\r\n\r\n`;
  const getTargets: Target[] = certIds.map((id) => ({ url: ocspUrl, method: 'GET', path: `/ocsp/${encodeURIComponent(buildOcspRequest([id]).toString('base64'))}` }));
  const postTargets: Target[] = certIds.map((id) => ({ url: ocspUrl, method: 'POST', path: '/ocsp', body: buildOcspRequest([id]) }));
  const getRaw = getTargets.map((t) => Buffer.from(`GET ${t.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
  const postRaw = postTargets.map((t) => Buffer.concat([Buffer.from(postHead(t.body!.length)), t.body!]));
  const nonceHeads = certIds.map((id) => {
    const body = buildOcspRequest([id], Buffer.alloc(NONCE_BYTES));
    if (!body.subarray(-NONCE_BYTES).equals(Buffer.alloc(NONCE_BYTES))) throw new Error('the nonce is not the last element of the request');
    return Buffer.concat([Buffer.from(postHead(body.length)), body.subarray(0, body.length - NONCE_BYTES)]);
  });
  const scripts = {
    get: rotationScript(join(work, 'get.lua'), getRaw),
    post: rotationScript(join(work, 'post.lua'), postRaw),
    nonce: nonceScript(join(work, 'nonce.lua'), nonceHeads),
  };
  const avgLen = (a: readonly Buffer[]): number => a.reduce((s, b) => s + b.length, 0) / a.length;
  log(`requests: GET ${f0(avgLen(getRaw))} B, POST ${f0(avgLen(postRaw))} B, nonce POST ${f0(avgLen(nonceHeads) + NONCE_BYTES)} B (with headers), over ${certIds.length} certificates`);
  return { certIds, getTargets, postTargets, scripts };
}
