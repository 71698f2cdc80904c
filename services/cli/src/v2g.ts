import { rmSync } from 'node:fs';
import { certify, cpoSubCa1, cpoSubCa2, issuerFacts, v2gRoot, type Profile } from '@evpki/issuance';
import { generateIssuerKey, loadPassphrase, writePrivateKey, type KeyRole } from '@evpki/keys';
import { dataPaths, issuerUrls, readManifest } from '@evpki/service';
import { DEFAULT_HIERARCHY, type CrlRecord, type IssuerRecord, type Store } from '@evpki/store';
import { OID, attributeValues, buildName, keyIdentifier, parseCertificate, type ParsedCertificate } from '@evpki/x509';
import { CliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';
import { asSigner, issuerIdFor, makeEmptyCrl, subjectKey, type SigningKey } from './hierarchy.js';
import { newIssuingKey } from './issuing-key.js';
import { openPkiStore } from './open-pki-store.js';
import { checkToken, type Pkcs11Target } from './pkcs11-options.js';

/** The hierarchy of ISO 15118 SECC certificates (profiles/v2g.ts signedBy). */
export const V2G_HIERARCHY = 'v2g';
const YEAR_SECONDS = 365 * 86400;
/**
 * Lifetimes (years): the V2G root long, the CPO sub-CAs short (EVerest's ISO 15118 PKI scripts: 4
 * years and 1 year; Sub-CA 2 gets 2 here: `pki rotate-issuer --hierarchy v2g` replaces it in time).
 */
export const V2G_LIFETIME_YEARS = { root: 20, subCa1: 4, subCa2: 2 } as const;

export interface V2gInitOptions {
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** O of the three CA certificates; default: the csms root's O. */
  readonly organization?: string;
  /** Generate CPO Sub-CA 2's key (the one the CA signs SECC certificates with) in this token. */
  readonly pkcs11?: Pkcs11Target;
  readonly now?: Date;
}

export interface V2gHierarchy {
  readonly root: string;
  readonly subCa1: string;
  readonly subCa2: string;
}

/** A V2G CA certificate of `profile` for `key`, signed by `parent` (undefined: self-signed). */
export async function makeV2gCa(
  profile: Profile,
  key: SigningKey,
  names: { organization: string; commonName: string },
  parent: { cert: ParsedCertificate; key: SigningKey; id: string } | undefined,
  base: string,
  now: Date,
  years: number,
): Promise<ParsedCertificate> {
  const publicKey = subjectKey(key);
  // Self-signed: the issuer is the subject, its name the one the profile builds.
  const self = { id: 'self', name: Buffer.alloc(0), organization: names.organization, keyIdentifier: keyIdentifier(publicKey.common.publicKey) };
  const issuer = parent ? issuerFacts(parent.id, parent.cert, issuerUrls(base, parent.id)) : { ...self, name: buildName(profile.subjectAttributes(self, { publicKey, names })) };
  const c = await certify(profile, issuer, asSigner(parent?.key ?? key), { subject: { publicKey, names }, lifetimeSeconds: years * YEAR_SECONDS, now });
  return parseCertificate(c.der);
}

function passphrase(o: V2gInitOptions, dev: boolean, role: KeyRole): string {
  try {
    return loadPassphrase(o.env, role, dev ? dataPaths(o.dataDir).devPassphrase : undefined);
  } catch (e) {
    throw new CliError((e as Error).message, EXIT.badInput);
  }
}

/**
 * `pki v2g init`: the V2G hierarchy of ISO 15118 Plug&Charge in the PKI's store: V2G Root CA (pathLen
 * 2) → CPO Sub-CA 1 (pathLen 1) → CPO Sub-CA 2 (pathLen 0, signs SECC certificates), all EC P-256,
 * all active, with CRLs of the root and Sub-CA 1 (their keys stay with the CLI; the CA publishes
 * Sub-CA 2's). Root and Sub-CA 1 keys are encrypted with the root passphrase, Sub-CA 2's with the
 * issuing one or generated in a PKCS#11 token. Refused when the store holds a v2g hierarchy already.
 */
export async function initV2g(o: V2gInitOptions): Promise<V2gHierarchy> {
  const manifest = readManifest(o.dataDir);
  const paths = dataPaths(o.dataDir);
  const now = o.now ?? new Date();
  const rootPassphrase = passphrase(o, manifest.dev, 'root');
  const home = o.pkcs11 ? { token: o.pkcs11 } : { passphrase: passphrase(o, manifest.dev, 'issuing') };
  if (o.pkcs11) await checkToken(o.pkcs11);

  const store = openPkiStore(o.dataDir, o.env);
  try {
    if ((await store.listIssuers(V2G_HIERARCHY)).length) throw new CliError(`the store holds a ${V2G_HIERARCHY} hierarchy already`, EXIT.badInput);
    const organization = o.organization ?? (await csmsOrganization(store));
    const base = manifest.publicOcspBase;
    const rootKey = generateIssuerKey('ecdsa-p256');
    const root = await makeV2gCa(v2gRoot, rootKey, { organization, commonName: `${organization} V2G Root CA` }, undefined, base, now, V2G_LIFETIME_YEARS.root);
    const rootId = issuerIdFor('v2g-root', root);
    const sub1Key = generateIssuerKey('ecdsa-p256');
    const sub1 = await makeV2gCa(cpoSubCa1, sub1Key, { organization, commonName: cpoSubCaName(organization, 1) }, { cert: root, key: rootKey, id: rootId }, base, now, V2G_LIFETIME_YEARS.subCa1);
    const sub1Id = issuerIdFor('cpo-sub1', sub1);
    const sub2Key = await newIssuingKey(o.dataDir, 'ecdsa-p256', home, now);
    try {
      return await sub2Key.guard(
        (async () => {
          const sub2 = await makeV2gCa(cpoSubCa2, sub2Key.key, { organization, commonName: cpoSubCaName(organization, 2) }, { cert: sub1, key: sub1Key, id: sub1Id }, base, now, V2G_LIFETIME_YEARS.subCa2);
          const sub2Id = issuerIdFor('cpo-sub2', sub2);
          const rootCrl = await makeEmptyCrl(rootKey, root, await store.nextCrlNumber(rootId), now, 365);
          const sub1Crl = await makeEmptyCrl(sub1Key, sub1, await store.nextCrlNumber(sub1Id), now, 365);
          writePrivateKey(paths.issuerKey(rootId), rootKey, rootPassphrase);
          writePrivateKey(paths.issuerKey(sub1Id), sub1Key, rootPassphrase);
          sub2Key.save(sub2Id);
          const made: MadeCa[] = [
            { id: rootId, role: 'root', parentId: rootId, cert: root, crl: rootCrl },
            { id: sub1Id, role: 'sub-ca-1', parentId: rootId, cert: sub1, crl: sub1Crl },
            { id: sub2Id, role: 'sub-ca-2', parentId: sub1Id, cert: sub2 },
          ];
          try {
            await writeV2gRecords(store, made, now);
          } catch (e) {
            // No key file that nothing names is left behind (Sub-CA 2's: sub2Key.guard).
            for (const id of [rootId, sub1Id]) rmSync(paths.issuerKey(id), { force: true });
            throw e;
          }
          return { root: rootId, subCa1: sub1Id, subCa2: sub2Id };
        })(),
      );
    } finally {
      await sub2Key.close();
    }
  } finally {
    await store.close();
  }
}

export interface MadeCa {
  readonly id: string;
  readonly role: IssuerRecord['role'];
  readonly parentId: string;
  readonly cert: ParsedCertificate;
  readonly crl?: Omit<CrlRecord, 'issuerId'>;
}

/**
 * The issuer records (all active) and CRLs, top down: until the last write there is no leaf-signing
 * CA, so nothing is signed under a partly written hierarchy.
 */
export async function writeV2gRecords(store: Store, cas: readonly MadeCa[], now: Date): Promise<void> {
  const createdAt = now.toISOString();
  for (const ca of cas) {
    await store.putIssuer({ id: ca.id, hierarchy: V2G_HIERARCHY, role: ca.role, parentId: ca.parentId, certificate: ca.cert.der, state: 'active', createdAt });
    if (ca.crl && !(await store.putCrl({ issuerId: ca.id, ...ca.crl }))) throw new CliError(`the store already holds a newer CRL for ${ca.id}`, EXIT.failure);
  }
}

/** The line `pki v2g init` and `pki init --v2g` print. */
export const v2gCreatedLine = (h: V2gHierarchy): string => `V2G hierarchy created: root ${h.root}, CPO Sub-CA 1 ${h.subCa1}, CPO Sub-CA 2 ${h.subCa2}\n`;

/** "ACME CPO Sub-CA 1"; "Demo CPO Sub-CA 1" for an organisation whose name ends in CPO already. */
export const cpoSubCaName = (organization: string, tier: 1 | 2): string => `${organization}${/\bCPO$/.test(organization) ? '' : ' CPO'} Sub-CA ${tier}`;

/** The O of the csms hierarchy's active root (the CPO the PKI was made for). */
async function csmsOrganization(store: Store): Promise<string> {
  const root = (await store.listIssuers(DEFAULT_HIERARCHY)).find((i) => i.role === 'root' && i.state === 'active');
  const o = root ? attributeValues(parseCertificate(root.certificate).subject, OID.organizationName)[0] : undefined;
  if (!o) throw new CliError('give --org: the csms root has no organisation name to take', EXIT.badInput);
  return o;
}
