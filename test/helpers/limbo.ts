/**
 * The x509-limbo subset (C2SP/x509-limbo, Apache-2.0), read at test time from the shared reference
 * folder next to the project (never copied into it): `$X509_LIMBO_FILE`, else
 * `<root>/../shared/reference/x509-limbo/limbo-subset.json` (the main checkout), else the same two
 * levels up (a worktree under wt/). A missing file fails the test loudly.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ROOT } from './processes.js';

export interface LimboCase {
  readonly id: string;
  readonly description: string;
  readonly validation_kind: 'SERVER' | 'CLIENT';
  readonly trusted_certs: readonly string[];
  readonly untrusted_intermediates: readonly string[];
  readonly peer_certificate: string;
  readonly validation_time: string | null;
  readonly extended_key_usage: readonly string[];
  readonly crls: readonly string[];
  readonly max_chain_depth: number | null;
  readonly expected_result: 'SUCCESS' | 'FAILURE';
  readonly features?: readonly string[];
}

const RELATIVE = ['shared', 'reference', 'x509-limbo', 'limbo-subset.json'];

export function limboFile(): string {
  if (process.env.X509_LIMBO_FILE) return process.env.X509_LIMBO_FILE;
  const candidates = [resolve(ROOT, '..', ...RELATIVE), resolve(ROOT, '..', '..', ...RELATIVE)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`x509-limbo subset not found (set X509_LIMBO_FILE); looked at ${candidates.join(', ')}`);
  return found;
}

export function limboCases(): LimboCase[] {
  const doc = JSON.parse(readFileSync(limboFile(), 'utf8')) as { version: number; testcases: LimboCase[] };
  if (doc.version !== 1 || !Array.isArray(doc.testcases)) throw new Error('unexpected x509-limbo file format');
  return doc.testcases;
}

/** DER of the first PEM block of `pem`. */
export function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN [A-Z0-9 ]+-----([\s\S]*?)-----END [A-Z0-9 ]+-----/.exec(pem);
  if (!m) throw new Error('no PEM block');
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

const EKU: Record<string, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2', codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4', timeStamping: '1.3.6.1.5.5.7.3.8', ocspSigning: '1.3.6.1.5.5.7.3.9', anyExtendedKeyUsage: '2.5.29.37.0',
};

export function ekuOid(name: string): string {
  const oid = EKU[name];
  if (!oid) throw new Error(`unknown extended key usage ${name} in the limbo case`);
  return oid;
}

/** The validation time of a case: its `validation_time`, else now. */
export function validationTime(c: LimboCase): Date {
  return c.validation_time ? new Date(c.validation_time) : new Date();
}
