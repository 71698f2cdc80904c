import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { loadPassphrase, openPkcs11Session, pkcs11Signer, writePkcs11KeyRef, writePrivateKey, type Pkcs11IssuerKeyRef } from '@evpki/keys';
import { dataPaths, readManifest } from '@evpki/service';
import { OID, Tag, children, decodeSmallInt, nameToString, oid, parseCertificate, pemBlocks, readOnly, seq, type ParsedCertificate } from '@evpki/x509';
import { CliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';
import { issuerIdFor } from './hierarchy.js';
import { openPkiStore } from './open-pki-store.js';
import type { Pkcs11Target } from './pkcs11-options.js';
import { V2G_HIERARCHY, writeV2gRecords, type V2gHierarchy } from './v2g.js';

export interface V2gImportOptions {
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** PEM file: the CPO Sub-CA 2 certificate the external V2G PKI issued. */
  readonly subCa2Cert: string;
  /** PEM file: CPO Sub-CA 1 and the V2G root certificates (any order). */
  readonly chain: string;
  /** PEM file: Sub-CA 2's private key (unencrypted PKCS#8 or SEC1); stored encrypted with the issuing passphrase. */
  readonly key?: string;
  /** Or: Sub-CA 2's key already in a PKCS#11 token (label and CKA_ID in hex); keys/<id>.pkcs11.json names it. */
  readonly pkcs11?: { readonly target: Pkcs11Target; readonly keyLabel: string; readonly keyId: string };
  readonly now?: Date;
}

const refuse = (rule: string, message: string): CliError => new CliError(`${rule}: ${message}`, EXIT.badInput);

function readCertificates(path: string, what: string): ParsedCertificate[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${what} ${path}: ${(e as Error).message}`, EXIT.badInput);
  }
  try {
    return pemBlocks(text, 'CERTIFICATE').map((der) => parseCertificate(der));
  } catch (e) {
    throw new CliError(`${what} ${path}: not PEM certificates (${(e as Error).message})`, EXIT.badInput);
  }
}

function readKey(path: string): KeyObject {
  try {
    return createPrivateKey({ key: readFileSync(path), format: 'pem' });
  } catch (e) {
    throw new CliError(`--key ${path}: not an unencrypted PEM private key (${(e as Error).message})`, EXIT.badInput);
  }
}

/** basicConstraints (cA, pathLen) of a certificate; undefined when absent. */
function basicConstraintsOf(c: ParsedCertificate): { ca: boolean; pathLen: number | undefined } | undefined {
  const e = c.extensions.find((x) => x.oid === OID.basicConstraints);
  if (!e) return undefined;
  let ca = false;
  let pathLen: number | undefined;
  for (const t of children(readOnly(e.value, Tag.SEQUENCE))) {
    if (t.tag === Tag.BOOLEAN) ca = t.value[0] !== 0;
    else if (t.tag === Tag.INTEGER) pathLen = decodeSmallInt(t.value);
  }
  return { ca, pathLen };
}

/** keyCertSign and cRLSign both set (KeyUsage bits 5 and 6; a DER BIT STRING may drop trailing zero bits). */
function signsCertificatesAndCrls(c: ParsedCertificate): boolean {
  const e = c.extensions.find((x) => x.oid === OID.keyUsage);
  if (!e) return false;
  // The first content octet follows the unused-bits count.
  const first = readOnly(e.value, Tag.BIT_STRING).value[1] ?? 0;
  return (first & 0x06) === 0x06;
}

const ECDSA_SHA256 = seq(oid(OID.ecdsaWithSHA256));

/**
 * The rules an imported V2G chain meets (ISO 15118-2 Annex F): every certificate EC P-256 signed
 * ECDSA-SHA256 (V2G.curve); each signed by the next and the root by itself, a CA with keyCertSign
 * and cRLSign, pathLen 0 for Sub-CA 2 and at least 1 / 2 (or none) above, valid now (V2G.chain).
 */
export function checkV2gChain(sub2: ParsedCertificate, chain: readonly ParsedCertificate[], now: Date): { root: ParsedCertificate; sub1: ParsedCertificate } {
  if (chain.length !== 2) throw refuse('V2G.chain', `--chain must hold CPO Sub-CA 1 and the V2G root (2 certificates), it holds ${chain.length}`);
  const x = (c: ParsedCertificate): X509Certificate => new X509Certificate(c.der);
  const root = chain.find((c) => x(c).checkIssued(x(c)) && x(c).verify(x(c).publicKey));
  const sub1 = chain.find((c) => c !== root);
  if (!root || !sub1) throw refuse('V2G.chain', '--chain holds no self-signed V2G root');
  const tiers = [
    { name: 'CPO Sub-CA 2', cert: sub2, parent: sub1, minPathLen: 0 },
    { name: 'CPO Sub-CA 1', cert: sub1, parent: root, minPathLen: 1 },
    { name: 'V2G root', cert: root, parent: root, minPathLen: 2 },
  ];
  for (const t of tiers) {
    const who = `${t.name} (${nameToString(t.cert.subject)})`;
    if (x(t.cert).publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw refuse('V2G.curve', `${who}: the key is not EC P-256`);
    if (!t.cert.signatureAlgorithm.equals(ECDSA_SHA256)) throw refuse('V2G.curve', `${who}: not signed ECDSA-SHA256`);
    if (!x(t.cert).checkIssued(x(t.parent)) || !x(t.cert).verify(x(t.parent).publicKey)) throw refuse('V2G.chain', `${who} is not signed by ${nameToString(t.parent.subject)}`);
    const bc = basicConstraintsOf(t.cert);
    if (!bc?.ca) throw refuse('V2G.chain', `${who} is not a CA (basicConstraints cA)`);
    const pathLenOk = t.minPathLen === 0 ? bc.pathLen === 0 : bc.pathLen === undefined || bc.pathLen >= t.minPathLen;
    if (!pathLenOk) throw refuse('V2G.chain', `${who}: pathLen ${bc.pathLen ?? 'none'}, needs ${t.minPathLen === 0 ? '0' : `at least ${t.minPathLen}`}`);
    if (!signsCertificatesAndCrls(t.cert)) throw refuse('V2G.chain', `${who}: keyUsage lacks keyCertSign and cRLSign`);
    if (t.cert.notBefore > now || t.cert.notAfter <= now) throw refuse('V2G.chain', `${who} is not valid now (${t.cert.notBefore.toISOString()} to ${t.cert.notAfter.toISOString()})`);
  }
  return { root, sub1 };
}

/**
 * `pki v2g import`: a CPO Sub-CA 2 issued by an external V2G PKI becomes the v2g hierarchy's
 * leaf-signing CA. The root and Sub-CA 1 are stored without keys (not ours to sign with: the CA
 * loads keys of leaf-signing CAs only), all active; Sub-CA 2's key is written encrypted with the
 * issuing passphrase. Refused when the store holds a v2g hierarchy already; nothing is written
 * unless every check passes.
 */
export async function importV2g(o: V2gImportOptions): Promise<V2gHierarchy> {
  const manifest = readManifest(o.dataDir);
  const now = o.now ?? new Date();
  const subs = readCertificates(o.subCa2Cert, '--sub-ca2-cert');
  if (subs.length !== 1) throw new CliError(`--sub-ca2-cert must hold one certificate, it holds ${subs.length}`, EXIT.badInput);
  const sub2 = subs[0]!;
  const { root, sub1 } = checkV2gChain(sub2, readCertificates(o.chain, '--chain'), now);
  if (!o.key === !o.pkcs11) throw new CliError('give the Sub-CA 2 key as --key FILE or as --pkcs11-* with --pkcs11-key-label and --pkcs11-key-id, not both', EXIT.badInput);
  const key = o.key ? readKey(o.key) : undefined;
  if (key && !new X509Certificate(sub2.der).checkPrivateKey(key)) throw refuse('V2G.key', `--key ${o.key} is not the key of the CPO Sub-CA 2 certificate`);
  const ref = o.pkcs11 ? await tokenKeyOf(o.pkcs11, sub2) : undefined;
  let passphrase = '';
  if (key)
    try {
      passphrase = loadPassphrase(o.env, 'issuing', manifest.dev ? dataPaths(o.dataDir).devPassphrase : undefined);
    } catch (e) {
      throw new CliError((e as Error).message, EXIT.badInput);
    }
  const ids: V2gHierarchy = { root: issuerIdFor('v2g-root', root), subCa1: issuerIdFor('cpo-sub1', sub1), subCa2: issuerIdFor('cpo-sub2', sub2) };
  const store = openPkiStore(o.dataDir, o.env);
  try {
    if ((await store.listIssuers(V2G_HIERARCHY)).length) throw new CliError(`the store holds a ${V2G_HIERARCHY} hierarchy already`, EXIT.badInput);
    const paths = dataPaths(o.dataDir);
    const keyFile = ref ? paths.issuerPkcs11Ref(ids.subCa2) : paths.issuerKey(ids.subCa2);
    if (ref) writePkcs11KeyRef(keyFile, ref);
    else writePrivateKey(keyFile, key!, passphrase);
    try {
      await writeV2gRecords(
        store,
        [
          { id: ids.root, role: 'root', parentId: ids.root, cert: root },
          { id: ids.subCa1, role: 'sub-ca-1', parentId: ids.root, cert: sub1 },
          { id: ids.subCa2, role: 'sub-ca-2', parentId: ids.subCa1, cert: sub2 },
        ],
        now,
      );
    } catch (e) {
      rmSync(keyFile, { force: true });
      throw e;
    }
    return ids;
  } finally {
    await store.close();
  }
}

/** The token key named by label and id, checked to be the Sub-CA 2 certificate's (V2G.key); the PIN is never stored. */
async function tokenKeyOf(t: NonNullable<V2gImportOptions['pkcs11']>, sub2: ParsedCertificate): Promise<Pkcs11IssuerKeyRef> {
  const ref: Pkcs11IssuerKeyRef = { module: t.target.module, tokenLabel: t.target.tokenLabel, keyLabel: t.keyLabel, keyId: t.keyId.toLowerCase() };
  let session;
  try {
    session = await openPkcs11Session(t.target);
  } catch (e) {
    throw new CliError(`PKCS#11: ${(e as Error).message}`, EXIT.badInput);
  }
  try {
    const signer = await pkcs11Signer(session, ref);
    if (!signer.publicKey.equals(createPublicKey({ key: sub2.spki, format: 'der', type: 'spki' })))
      throw refuse('V2G.key', `the token key '${t.keyLabel}' (id ${ref.keyId}) is not the key of the CPO Sub-CA 2 certificate`);
    return ref;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`PKCS#11: ${(e as Error).message}`, EXIT.badInput);
  } finally {
    await session.close();
  }
}
