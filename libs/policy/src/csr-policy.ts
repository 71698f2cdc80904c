import {
  DerError,
  OID,
  attributeValues,
  csrFromPem,
  parseSubjectAltNames,
  publicKeyObject,
  readSignatureAlgorithm,
  unencodableReason,
  verifySignature,
  type KeyInfo,
  type NameAttribute,
  type ParsedCsr,
} from '@evpki/x509';
import type { KeyPolicy } from './key-policy.js';
import { checkChargePointIdentity } from './subject-rules.js';
import { Rule, type RuleId, type Violation } from './violations.js';

export const MAX_CSR_PEM_CHARS = 5500; // OCPP SignCertificate.req csr (A02.FR.03)
export const MAX_SUBJECT_ATTRIBUTES = 8;

/** Key facts the policy cannot know itself; each lookup is injected. */
export interface KeyContext {
  readonly keyPolicy: KeyPolicy;
  /** Keys on the blocked list (compromised), by SPKI SHA-256. */
  isKeyBlocked(spkiSha256: string): boolean | Promise<boolean>;
  /** Whether this key was already certified (A02.FR.02: a new key pair for every update). */
  wasKeyCertified(spkiSha256: string): boolean | Promise<boolean>;
}

export interface ChargePointContext extends KeyContext {
  /** The station as registered for the caller's tenant, or undefined when it is not. */
  readonly station: { readonly serialNumber: string; readonly allowed: boolean } | undefined;
  /** The tenant's CPO name, the only O value allowed (A02.FR.13). */
  readonly cpoName: string;
}

/** The subject attributes whose values a certificate carries: CN and O, in CSR order. */
export function certifiedSubjectAttributes(csr: ParsedCsr): NameAttribute[] {
  return csr.subject.rdns.flat().filter((a) => a.oid === OID.commonName || a.oid === OID.organizationName);
}

/**
 * Issue 14.10: a certificate re-encodes subject values (UTF8String), so a value that cannot be
 * written without changing it (an unpaired surrogate from a BMPString, a T61String beyond ASCII) is
 * refused under the rule of its attribute: `cnRule` for CN, A00.FR.509 for O.
 */
export function checkSubjectEncoding(csr: ParsedCsr, cnRule: RuleId): Violation[] {
  return certifiedSubjectAttributes(csr).flatMap((a) => {
    const why = unencodableReason(a);
    const name = a.oid === OID.commonName ? 'CN' : 'O';
    return why ? [{ rule: name === 'CN' ? cnRule : Rule.organization, message: `subject ${name} ${why}; it cannot be written as UTF8String` }] : [];
  });
}

/** Parses a PEM CSR, or returns the violation that says why it is not one. */
export function readCsr(pem: string): { csr: ParsedCsr } | { violation: Violation } {
  if (pem.length > MAX_CSR_PEM_CHARS)
    return { violation: { rule: Rule.pkcs10, message: `CSR is ${pem.length} characters; at most ${MAX_CSR_PEM_CHARS} are allowed` } };
  try {
    return { csr: csrFromPem(pem) };
  } catch (e) {
    const why = e instanceof DerError ? e.message : 'unreadable';
    return { violation: { rule: Rule.pkcs10, message: `CSR is not a PEM-encoded PKCS#10 request: ${why}` } };
  }
}

/**
 * Proof of possession and signature algorithm (A00.FR.504, A00.FR.506, A02.FR.03). `verify: false`
 * checks the algorithm only: the RA leaves the signature itself to the CA, which always verifies it.
 */
export function checkCsrSignature(csr: ParsedCsr, key: KeyInfo, verify = true): Violation[] {
  let alg;
  try {
    alg = readSignatureAlgorithm(csr.signatureAlgorithm.oid, csr.signatureAlgorithm.params);
  } catch (e) {
    // Regression (fuzz): malformed RSASSA-PSS parameters threw DerError through the policy (HTTP 500).
    return [{ rule: Rule.pkcs10, message: `CSR signature algorithm parameters are malformed: ${e instanceof DerError ? e.message : 'unreadable'}` }];
  }
  if (!alg) return [{ rule: Rule.algorithms, message: `CSR signature algorithm ${csr.signatureAlgorithm.oid} is not allowed` }];
  if (alg.hash === 'sha1' || alg.hash === 'md5')
    return [{ rule: Rule.hashes, message: `CSR is signed with ${alg.hash.toUpperCase()}; SHA-256 or stronger is required` }];
  if (key.type === 'unsupported') return []; // reported by the key check
  const refused: Violation[] = [{ rule: Rule.pkcs10, message: 'CSR signature does not verify with its public key (no proof of possession)' }];
  if (alg.kind === 'ecdsa' ? key.type !== 'ec' : key.type !== 'rsa') return refused;
  if (!verify) return [];
  try {
    return verifySignature(alg, publicKeyObject(key.common.spki), csr.info, csr.signature) ? [] : refused;
  } catch {
    return refused; // key OpenSSL cannot load (e.g. point not on curve)
  }
}

/** Subject and SAN rules for charge point certificates (A00.FR.509, A00.FR.511, A02.FR.13). */
export function checkChargePointSubject(csr: ParsedCsr, ctx: Pick<ChargePointContext, 'station' | 'cpoName'>): Violation[] {
  const out: Violation[] = [];
  const attrs = csr.subject.rdns.flat();
  if (attrs.length > MAX_SUBJECT_ATTRIBUTES)
    out.push({ rule: Rule.registeredIdentity, message: `subject has ${attrs.length} attributes; at most ${MAX_SUBJECT_ATTRIBUTES} are allowed` });

  const cns = attributeValues(csr.subject, OID.commonName);
  if (cns.length !== 1) out.push({ rule: Rule.chargePointName, message: cns.length ? 'subject has several CNs' : 'subject CN is missing' });
  else {
    const cn = cns[0]!;
    const shape = checkChargePointIdentity(cn);
    out.push(...shape);
    if (!shape.length && ctx.station && cn !== ctx.station.serialNumber)
      out.push({ rule: Rule.chargePointName, message: `subject CN "${cn}" is not the station's registered serial number` });
  }

  const os = attributeValues(csr.subject, OID.organizationName);
  if (os.length === 0) out.push({ rule: Rule.organization, message: 'subject O is missing; it must be the CPO name' });
  else if (os.length > 1 || os[0] !== ctx.cpoName)
    out.push({ rule: Rule.cpoName, message: `subject O "${os.join(', ')}" is not the CPO name "${ctx.cpoName}"` });

  const san = csr.extensions.find((e) => e.oid === OID.subjectAltName);
  if (san) {
    let names;
    try {
      names = parseSubjectAltNames(san.value);
    } catch {
      names = undefined;
    }
    if (!names) out.push({ rule: Rule.registeredIdentity, message: 'subjectAltName extension is malformed' });
    else if (names.dns.length || names.ip.length || names.uri.length)
      out.push({ rule: Rule.chargePointName, message: 'a charge point certificate carries no subjectAltName dNSName, IP address or URI' });
  }
  out.push(...checkSubjectEncoding(csr, Rule.chargePointName));
  return out;
}
