/** OCSP requests for the population and the checks of their answers: every answer (checkAnswer), one per phase with the OpenSSL CLI. */
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildOcspRequest, encodeCertId } from '@evpki/ocsp';
import { ocspResponseStatus } from '../ocsp/shared.js';
import { SERIAL_BYTES } from './config.js';

export interface Issuer {
  readonly id: string;
  readonly name: Buffer;
  readonly key: Buffer;
}

export const certIdOf = (issuer: Issuer, serial: Buffer): Buffer => encodeCertId('sha256', issuer.name, issuer.key, serial);
export const GOOD = Buffer.from([0x80, 0x00]);

/**
 * A POST /ocsp for a one-CertID request is a fixed prefix (HTTP head, DER up to the serial) and
 * the 16-byte serial, the last element of the DER (the population's serials all have 16 bytes);
 * the answer names the CertID, a fixed prefix and the serial.
 */
export interface RequestParts {
  readonly http: Buffer;
  readonly certId: Buffer;
}

export function requestParts(issuer: Issuer, sample: Buffer): RequestParts {
  const certId = certIdOf(issuer, sample);
  const body = buildOcspRequest([certId]);
  if (!body.subarray(-SERIAL_BYTES).equals(sample) || !certId.subarray(-SERIAL_BYTES).equals(sample)) throw new Error('the serial is not the last element of the request');
  const head = `POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${body.length}\r\n\r\n`;
  return { http: Buffer.concat([Buffer.from(head), body.subarray(0, -SERIAL_BYTES)]), certId: certId.subarray(0, -SERIAL_BYTES) };
}

/** Why an answer is wrong, or undefined: successful, and the CertID asked about is followed by certStatus good ([0] NULL). */
export function checkAnswer(status: number, der: Buffer, parts: RequestParts, serial: Buffer): string | undefined {
  if (status !== 200) return `HTTP ${status}`;
  const s = ocspResponseStatus(der);
  if (s !== 0) return `OCSP responseStatus ${s}`;
  const at = der.indexOf(serial);
  const ok = at >= parts.certId.length && der.subarray(at - parts.certId.length, at).equals(parts.certId) && der.subarray(at + serial.length, at + serial.length + 2).equals(GOOD);
  return ok ? undefined : 'the response does not say good for the CertID asked about';
}

/** `n` indexes drawn uniformly at random from [0, population). */
export function draws(n: number, population: number): Uint32Array {
  const r = new Uint32Array(n);
  randomFillSync(r);
  for (let i = 0; i < n; i++) r[i] = r[i]! % population;
  return r;
}

/** One answer through fetch, checked with the OpenSSL CLI: verifies up to the root, serial good. */
export async function opensslCheck(ocspUrl: string, issuer: Issuer, serial: Buffer, files: { root: string; sub: string }, work: string): Promise<{ ok: boolean; detail: string }> {
  const res = await fetch(`${ocspUrl}/ocsp`, { method: 'POST', body: buildOcspRequest([certIdOf(issuer, serial)]), headers: { 'content-type': 'application/ocsp-request' } });
  const der = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) return { ok: false, detail: `HTTP ${res.status}` };
  const file = join(work, `resp-${Date.now()}.der`);
  writeFileSync(file, der);
  const hex = serial.toString('hex').toUpperCase();
  const r = spawnSync('openssl', ['ocsp', '-respin', file, '-CAfile', files.root, '-verify_other', files.sub, '-issuer', files.sub, '-sha256', '-serial', `0x${hex}`, '-no_nonce'], { encoding: 'utf8', timeout: 30_000 });
  const text = `${r.stdout}${r.stderr}`;
  const good = new RegExp(`0x${hex}: good`, 'i').test(text);
  const verified = /Response verify OK/.test(text);
  return { ok: good && verified, detail: good && verified ? `serial 0x${hex.toLowerCase()}: response verifies (delegated signer → sub-CA → root), status good` : text.trim().replace(/\s+/g, ' ').slice(0, 300) };
}
