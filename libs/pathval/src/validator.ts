/**
 * Path building (leaf -> intermediates -> trust anchor) with backtracking, and the caches of the
 * cached validator. Candidates for a certificate's issuer are the anchors and intermediates whose
 * subject equals its issuer name; anchors come first, then those whose subjectKeyIdentifier equals
 * its authorityKeyIdentifier. A candidate whose signature does not verify is dropped; every path that
 * reaches an anchor is processed in full (process.ts) and the first valid one wins. A certificate
 * (or the same subject and key) appears at most once in a path; the number of intermediates that
 * are not self-issued is bounded by maxDepth, all certificates by MAX_CERTS and the work by MAX_PATHS
 * candidate paths.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { readCertificate, type PathCert } from './certificate.js';
import { readCrl, type ParsedCrl } from './crl.js';
import { processPath } from './process.js';
import type { Refusal } from './refusal.js';
import { checkSignature, publicKeyOf } from './signature.js';

export interface PathInput {
  /** DER. */
  readonly leaf: Uint8Array;
  /** DER, untrusted, any order, may hold junk or unrelated certificates. */
  readonly intermediates: readonly Uint8Array[];
  /** DER; self-signed or not. Processed as the last certificate of a path (not its signature). */
  readonly trustAnchors: readonly Uint8Array[];
  readonly at: Date;
  /** DER CRLs: when a CRL names a certificate's issuer, a usable one is required and a revoked certificate is refused. */
  readonly crls?: readonly Uint8Array[];
  /** Most intermediates between the leaf and the anchor (default 8). */
  readonly maxDepth?: number;
  /** Key purpose OIDs of which the leaf's extKeyUsage, when present, must hold one (or anyExtendedKeyUsage). */
  readonly requiredExtendedKeyUsage?: readonly string[];
}

export type PathVerdict =
  | { readonly ok: true; readonly path: readonly Uint8Array[] /* leaf ... anchor */ }
  | { readonly ok: false; readonly reasons: readonly Refusal[] };

const MAX_PATHS = 64;
/** Certificates in one path, anchor included, whatever maxDepth says. */
const MAX_CERTS = 32;
const MAX_REASONS = 32;

/** A bounded map that forgets its oldest entry (insertion order, refreshed on hit). */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly size: number) {}
  get(k: string): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): V {
    if (this.size <= 0) return v;
    this.map.delete(k);
    this.map.set(k, v);
    if (this.map.size > this.size) this.map.delete(this.map.keys().next().value!);
    return v;
  }
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Pure functions of DER bytes, memoized: nothing that depends on the validation time or the other inputs. */
class Caches {
  readonly certs: Lru<PathCert | Error>;
  readonly crls: Lru<ParsedCrl | Error>;
  readonly keys: Lru<KeyObject | Error>;
  readonly sigs: Lru<string>;
  constructor(size: number) {
    this.certs = new Lru(size);
    this.crls = new Lru(size);
    this.keys = new Lru(size);
    this.sigs = new Lru(size * 2);
  }

  cert(der: Uint8Array): PathCert | Error {
    const h = sha256(der);
    // A copy: what is cached must not change with the caller's buffer (a reused TLS buffer, say).
    return this.certs.get(h) ?? this.certs.set(h, attempt(() => readCertificate(Buffer.from(der))));
  }

  crl(der: Uint8Array): ParsedCrl | Error {
    const h = sha256(der);
    return this.crls.get(h) ?? this.crls.set(h, attempt(() => readCrl(Buffer.from(der))));
  }

  private key(issuer: PathCert): KeyObject | Error {
    const h = issuer.keyHash;
    return this.keys.get(h) ?? this.keys.set(h, attempt(() => publicKeyOf(issuer.spki)));
  }

  /** '' when the signature verifies. */
  signature(signedHash: string, alg: Buffer, data: Buffer, sig: Buffer, issuer: PathCert): string {
    const k = `${signedHash}:${issuer.keyHash}`;
    const hit = this.sigs.get(k);
    if (hit !== undefined) return hit;
    const key = this.key(issuer);
    return this.sigs.set(k, key instanceof Error ? `issuer public key unusable: ${key.message}` : (checkSignature(alg, key, data, sig) ?? ''));
  }
}

function attempt<T>(f: () => T): T | Error {
  try {
    return f();
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

const floorToSecond = (d: Date): Date => new Date(Math.floor(d.getTime() / 1000) * 1000);

function run(caches: Caches, input: PathInput): PathVerdict {
  const leaf = caches.cert(input.leaf);
  if (leaf instanceof Error) return { ok: false, reasons: [{ rule: 'RFC5280-4.1', message: `leaf is not a DER certificate: ${leaf.message}`, depth: 0 }] };
  const at = floorToSecond(input.at);
  if (Number.isNaN(at.getTime())) throw new TypeError('PathInput.at is not a valid date');
  const maxDepth = input.maxDepth ?? 8;
  const seen = new Set<string>([leaf.hash]);
  const pool: { cert: PathCert; anchor: boolean }[] = [];
  for (const [list, anchor] of [[input.trustAnchors, true], [input.intermediates, false]] as const)
    for (const der of list) {
      const c = caches.cert(der);
      if (c instanceof Error || seen.has(c.hash)) continue; // junk, or the same certificate twice
      seen.add(c.hash);
      pool.push({ cert: c, anchor });
    }
  const crls = (input.crls ?? []).map((d) => caches.crl(d)).filter((c): c is ParsedCrl => !(c instanceof Error));
  const deps = {
    crls,
    at,
    ...(input.requiredExtendedKeyUsage ? { requiredEku: input.requiredExtendedKeyUsage } : {}),
    signatureProblem: (child: PathCert, issuer: PathCert) =>
      caches.signature(child.hash, child.signatureAlgorithm, child.tbs, child.signature, issuer) || undefined,
    crlSignatureProblem: (crl: ParsedCrl, issuer: PathCert) =>
      caches.signature(crl.hash, crl.signatureAlgorithm, crl.tbs, crl.signature, issuer) || undefined,
  };

  const reasons: Refusal[] = [];
  const note = (r: Refusal): void => {
    if (reasons.length < MAX_REASONS && !reasons.some((x) => x.rule === r.rule && x.message === r.message && x.depth === r.depth)) reasons.push(r);
  };
  let pathsTried = 0;
  const path: PathCert[] = [leaf];
  const identities = new Set<string>([`${leaf.subjectKey}|${leaf.keyHash}`]);

  const extend = (): PathCert[] | undefined => {
    const cur = path[path.length - 1]!;
    const depth = path.length - 1;
    const candidates = pool
      .filter((p) => p.cert.subjectKey === cur.issuerKey && !path.includes(p.cert))
      .sort((a, b) => rank(b, cur) - rank(a, cur));
    for (const cand of candidates) {
      if (pathsTried >= MAX_PATHS) return undefined;
      const identity = `${cand.cert.subjectKey}|${cand.cert.keyHash}`;
      if (cand.anchor) {
        pathsTried++;
        const candidatePath = [...path, cand.cert];
        const refusals = processPath(candidatePath, deps);
        if (refusals.length === 0) return candidatePath;
        refusals.forEach(note);
        continue;
      }
      if (identities.has(identity)) continue; // a loop through the same subject and key
      const sig = deps.signatureProblem(cur, cand.cert);
      if (sig) {
        note({ rule: 'RFC5280-6.1.3(a)(1)', message: `candidate issuer ${cand.cert.hash.slice(0, 16)}: ${sig}`, depth });
        continue;
      }
      // maxDepth counts logical intermediates: self-issued ones (key rollover) do not count, up to MAX_CERTS in all.
      const logical = path.slice(1).filter((c) => !c.selfIssued).length + (cand.cert.selfIssued ? 0 : 1);
      if (logical > maxDepth || path.length + 1 > MAX_CERTS) {
        note({ rule: 'PATHVAL-MAX-DEPTH', message: `more than ${maxDepth} intermediate certificates needed`, depth });
        continue;
      }
      path.push(cand.cert);
      identities.add(identity);
      const found = extend();
      if (found) return found;
      path.pop();
      identities.delete(identity);
    }
    return undefined;
  };

  const found = extend();
  if (found) return { ok: true, path: found.map((c) => c.der) };
  if (pathsTried === 0)
    // No anchor reached: say so, with what is wrong with the leaf itself (it may be why no issuer matches).
    reasons.unshift(
      { rule: 'RFC5280-6.1', message: 'no certification path from the leaf to a trust anchor (no chain of matching issuer names and signatures)', depth: 0 },
      ...leaf.profile.map((p) => ({ ...p, depth: 0 })),
    );
  return { ok: false, reasons };
}

/** Higher for a likelier issuer: an anchor, then a subjectKeyIdentifier equal to the child's authorityKeyIdentifier. */
function rank(p: { cert: PathCert; anchor: boolean }, child: PathCert): number {
  const kidMatch = child.akiKeyId && p.cert.ski ? (child.akiKeyId.equals(p.cert.ski) ? 2 : -2) : 0;
  return (p.anchor ? 1 : 0) + kidMatch;
}

export async function validatePath(input: PathInput): Promise<PathVerdict> {
  return run(new Caches(0), input);
}

/**
 * Same, with bounded caches (`cacheSize` entries each, default 1024) of parsed certificates and CRLs,
 * public keys and signature verdicts, keyed by SHA-256 of the DER. Only facts of the bytes are
 * cached, never a verdict: a different time, anchor set or CRL set is always evaluated afresh.
 */
export function createPathValidator(opts?: { cacheSize?: number }): { validate(input: PathInput): Promise<PathVerdict> } {
  const caches = new Caches(opts?.cacheSize ?? 1024);
  return { validate: async (input) => run(caches, input) };
}
