import type { KeyObject } from 'node:crypto';
import { DerError, inspectSpki, publicKeyObject, type KeyInfo, type ParsedCsr } from '@evpki/x509';
import { checkChargePointSubject, checkCsrSignature, type ChargePointContext, type KeyContext } from './csr-policy.js';
import { checkKey } from './key-policy.js';
import { checkServerSubject, type ServerNamePolicy } from './server-policy.js';
import { Rule, type Violation } from './violations.js';

/**
 * Everything a CSR check may look at besides the CSR: the caller's own reads of the store (the RA
 * to refuse early, the CA again because it trusts no caller). A profile (libs/issuance) lists the
 * checks it runs; each reads only what it needs.
 */
export interface CsrCheckContext extends KeyContext {
  /** The caller's tenant: its CPO name (O, A02.FR.13), server name claims (A00.FR.510) and operator IDs (V2G.operator-id). */
  readonly tenant?: ServerNamePolicy & { readonly operatorIds?: readonly string[] };
  /** The station as registered for the tenant, with its SECC-IDs (ISO 15118); undefined when it is not (PnC-4.3). */
  readonly station?: { readonly serialNumber: string; readonly allowed: boolean; readonly seccIds?: readonly string[] } | undefined;
  /** Keys certified for something else (CAs, service certificates): never certified again. */
  readonly reservedKeys?: () => Promise<readonly KeyObject[]>;
  /**
   * The CSR's signature is verified later by the CA, which always does (the RA's early check):
   * only its algorithm is checked here, so that a request costs one signature verification, not two.
   */
  readonly signatureVerifiedByCa?: boolean;
}

/** One rule of a profile's CSR checks: the violations it finds (empty: passed). */
/** `key` is undefined when the CSR's key could not be read (reported once, by runCsrChecks). */
export type CsrCheck = (csr: ParsedCsr, key: KeyInfo | undefined, ctx: CsrCheckContext) => readonly Violation[] | Promise<readonly Violation[]>;

/** PnC-4.3 / PnC-4.2: only a registered station whose model passed its audit gets a certificate. */
export const stationRegistered: CsrCheck = (_csr, _key, ctx) => {
  if (!ctx.station) return [{ rule: Rule.registeredIdentity, message: 'station is not registered; register it before requesting a certificate' }];
  if (!ctx.station.allowed) return [{ rule: Rule.auditedModel, message: 'station is not allowed to obtain certificates (model not audited)' }];
  return [];
};

/**
 * The key of any CSR: proof of possession, algorithm and size (A00.FR.502-506), weak keys, not
 * blocked (A00.FR.501) and never certified before (A02.FR.02).
 */
export const keyRules: CsrCheck = async (csr, key, ctx) => {
  if (!key) return [];
  const out = [...checkCsrSignature(csr, key, !ctx.signatureVerifiedByCa), ...checkKey(key, ctx.keyPolicy)];
  if (key.type === 'unsupported') return out;
  if (await ctx.isKeyBlocked(key.common.spkiSha256)) out.push({ rule: Rule.keyStrength, message: 'key is on the blocked list (compromised)' });
  else if (await ctx.wasKeyCertified(key.common.spkiSha256))
    out.push({ rule: Rule.newKeyPair, message: 'this key was already certified; generate a new key pair for every update' });
  return out;
};

/** Charge point subject: CN = the station's serial number, O = the CPO name, no SAN names (A00.FR.509/511, A02.FR.13). */
export const chargePointSubject: CsrCheck = (csr, _key, ctx) => checkChargePointSubject(csr, { station: ctx.station, cpoName: ctx.tenant?.cpoName ?? '' });

/** CSMS server subject and names inside the tenant's claims (A00.FR.509, A00.FR.510). */
export const serverSubject: CsrCheck = (csr, _key, ctx) => checkServerSubject(csr, ctx.tenant ?? { cpoName: '' });

/** A delegated OCSP signer signs with ECDSA (A00.FR.505, product rule: P-256/P-384 only). */
export const ecdsaKeyOnly: CsrCheck = (_csr, key) => (!key || key.type === 'ec' || key.type === 'unsupported' ? [] : [{ rule: Rule.signingAlgorithm, message: 'an OCSP signing key must be ECDSA' }]);

/** A key certified for a CA or a service is never certified again for anything else (A02.FR.02). */
export const notReservedKey: CsrCheck = async (_csr, key, ctx) => {
  if (!key || key.type === 'unsupported' || !ctx.reservedKeys) return [];
  let candidate;
  try {
    candidate = publicKeyObject(key.common.spki);
  } catch {
    return []; // a key OpenSSL cannot load (e.g. a point not on its curve): refused by keyRules (fuzz regression)
  }
  return (await ctx.reservedKeys()).some((k) => k.equals(candidate))
    ? [{ rule: Rule.newKeyPair, message: 'this key belongs to a CA or a service certificate; it needs a new key pair' }]
    : [];
};

export type CheckedCsr =
  | { readonly ok: true; readonly key: KeyInfo & { type: 'ec' | 'rsa' }; readonly csr: ParsedCsr }
  | { readonly ok: false; readonly violations: readonly Violation[] };

/** Runs `checks` in order and collects every violation (never stops at the first). */
export async function runCsrChecks(csr: ParsedCsr, checks: readonly CsrCheck[], ctx: CsrCheckContext): Promise<CheckedCsr> {
  const violations: Violation[] = [];
  let key: KeyInfo | undefined;
  try {
    key = inspectSpki(csr.spki);
  } catch (e) {
    violations.push({ rule: Rule.pkcs10, message: `CSR public key is malformed: ${e instanceof DerError ? e.message : 'unreadable'}` });
  }
  for (const check of checks) violations.push(...(await check(csr, key, ctx)));
  if (violations.length || !key || key.type === 'unsupported') return { ok: false, violations };
  return { ok: true, key, csr };
}

/**
 * The charge point and CSMS server rule lists run alone, outside a profile (fuzzing, policy tests):
 * the same lists libs/issuance's profiles run.
 */
export const CHARGE_POINT_CHECKS: readonly CsrCheck[] = [stationRegistered, keyRules, chargePointSubject];
export const SERVER_CHECKS: readonly CsrCheck[] = [keyRules, serverSubject];

export async function checkChargePointCsr(csr: ParsedCsr, ctx: ChargePointContext): Promise<CheckedCsr> {
  return runCsrChecks(csr, CHARGE_POINT_CHECKS, { ...ctx, tenant: { cpoName: ctx.cpoName } });
}

export async function checkServerCsr(csr: ParsedCsr, ctx: KeyContext & { readonly tenant: ServerNamePolicy }): Promise<CheckedCsr> {
  return runCsrChecks(csr, SERVER_CHECKS, ctx);
}
