import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { bitString, ctx, integer, oid, seq, set } from './der.js';
import { buildName } from './name.js';
import { OID } from './oids.js';
import { toPem } from './pem.js';

/**
 * A PKCS#10 request signed with SHA-256 (ECDSA or RSA PKCS#1), built in-process: the OCSP
 * responder asks the CA for its delegated signer with one, tests and benchmarks make many.
 * `extensions` (DER Extension elements, e.g. `subjectAltName(...)`) go into an extensionRequest
 * attribute (RFC 2986, PKCS#9); without them the attribute set is empty.
 */
export function buildCsr(privateKey: KeyObject, subject: { o?: string; cn?: string; dc?: string }, extensions: readonly Buffer[] = []): string {
  const attrs = [
    ...(subject.o === undefined ? [] : [{ oid: OID.organizationName, value: subject.o }]),
    ...(subject.cn === undefined ? [] : [{ oid: OID.commonName, value: subject.cn }]),
    ...(subject.dc === undefined ? [] : [{ oid: OID.domainComponent, value: subject.dc }]),
  ];
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const attributes = extensions.length ? seq(oid(OID.extensionRequest), set(seq(...extensions))) : Buffer.alloc(0);
  const info = seq(integer(0), buildName(attrs), spki, ctx(0, attributes));
  const isEc = privateKey.asymmetricKeyType === 'ec';
  const sig = isEc ? sign('sha256', info, { key: privateKey, dsaEncoding: 'der' }) : sign('sha256', info, privateKey);
  const alg = isEc ? seq(oid(OID.ecdsaWithSHA256)) : seq(oid(OID.sha256WithRSA), Buffer.from([5, 0]));
  return toPem('CERTIFICATE REQUEST', seq(info, alg, bitString(sig)));
}
