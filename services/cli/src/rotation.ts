import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ISSUER_KEY_ALGORITHMS, generateIssuerKey, loadPassphrase, readPrivateKey, writeFileAtomic, writePrivateKey, type IssuerKeyAlgorithm, type KeyRole } from '@evpki/keys';
import { dataPaths, issuerUrls, readManifest, type PkiManifest } from '@evpki/service';
import {
  DEFAULT_HIERARCHY,
  assertHierarchyName,
  lastExpiryUnder,
  rootOf,
  signsLeaves,
  ROTATION_STEPS,
  hierarchyStatus,
  nextRotationStep,
  type HierarchyStatus,
  type IssuerRecord,
  type IssuerState,
  type RotationKind,
  type RotationRecord,
  type RotationStep,
  type Store,
} from '@evpki/store';
import { cpoSubCa2 } from '@evpki/issuance';
import { OID, attributeValues, parseCertificate, type ParsedCertificate } from '@evpki/x509';
import { CliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';
import { issuerIdFor, makeCrossCertificate, makeEmptyCrl, makeRoot, makeSubCa } from './hierarchy.js';
import { addToSecret, inClusterTarget } from './k8s-secret.js';
import { openPkiStore } from './open-pki-store.js';
import { newIssuingKey } from './issuing-key.js';
import type { Pkcs11Target } from './pkcs11-options.js';
import { V2G_LIFETIME_YEARS, cpoSubCaName, makeV2gCa } from './v2g.js';

export { ROTATION_STEPS };

export interface RotationOptions {
  readonly dataDir: string;
  /** The hierarchy rotated (default csms): only its issuers and its rotation record are read and written. */
  readonly hierarchy?: string;
  readonly env: NodeJS.ProcessEnv;
  readonly dryRun: boolean;
  /** retire: take the old root out of the trust anchors even while certificates under it are valid. */
  readonly force?: boolean;
  /** prepare: key algorithm of the new CA keys (default: the PKI's). */
  readonly algorithm?: IssuerKeyAlgorithm;
  /** prepare: also add the new issuing CA key to this Kubernetes Secret (the CA's keys/ mount). */
  readonly k8sSecret?: string;
  /** prepare: generate the new issuing CA key in this PKCS#11 token (issue 15); the root key stays a file. */
  readonly pkcs11?: Pkcs11Target;
  /** activate: the CA ops listener whose /readyz must show it holds the new issuing CA key; undefined: skip the check. */
  readonly caUrl?: string;
  readonly now?: Date;
}

/** One issuer's state change, as a step reports it. */
export interface StateChange {
  readonly id: string;
  readonly role: IssuerRecord['role'];
  readonly from: IssuerState | null;
  readonly to: IssuerState;
}

export interface StepResult {
  readonly kind: RotationKind;
  readonly step: RotationStep;
  /** False when the step had already been done (a re-run) or on --dry-run. */
  readonly changed: boolean;
  readonly dryRun: boolean;
  readonly changes: readonly StateChange[];
  readonly rotation: RotationRecord | undefined;
  /** The next command to run, if any. */
  readonly next: string | undefined;
  readonly message: string;
}

const command = (kind: RotationKind, step: RotationStep, hierarchy: string): string =>
  `pki rotate-${kind} ${step}${hierarchy === DEFAULT_HIERARCHY ? '' : ` --hierarchy ${hierarchy}`}`;
const nextStep = (r: RotationRecord): string | undefined => {
  const step = nextRotationStep(r);
  return step === undefined ? undefined : command(r.kind, step, r.hierarchy);
};

/** The hierarchy asked for (default csms), or a CliError naming the rule. */
export function hierarchyOf(o: { readonly hierarchy?: string }): string {
  const h = o.hierarchy ?? DEFAULT_HIERARCHY;
  try {
    assertHierarchyName(h);
  } catch (e) {
    throw new CliError(`--hierarchy: ${(e as Error).message}`, EXIT.badInput);
  }
  return h;
}

async function withStore<T>(o: { readonly dataDir: string; readonly env: NodeJS.ProcessEnv }, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = openPkiStore(o.dataDir, o.env);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * The active leaf-signing CA of a hierarchy, its parent (the root in two tiers, CPO Sub-CA 1 in a
 * V2G hierarchy) and its root (`issuers`: that hierarchy's).
 */
function activeHierarchy(issuers: readonly IssuerRecord[], hierarchy: string, kind: RotationKind): { root: IssuerRecord; parent: IssuerRecord; sub: IssuerRecord } {
  const sub = issuers.find((i) => signsLeaves(i.role) && i.state === 'active');
  if (!sub) throw new CliError(hierarchy === DEFAULT_HIERARCHY ? 'the store has no active issuing CA; run `pki init` first' : `the hierarchy ${hierarchy} has no active issuing CA`, EXIT.badInput);
  const parent = issuers.find((i) => i.id === sub.parentId);
  if (!parent) throw new CliError(`the active issuing CA ${sub.id} names a parent ${sub.parentId} that is not in the hierarchy ${hierarchy}`, EXIT.failure);
  if (parent.role === 'root') return { root: parent, parent, sub };
  // Three tiers (root → sub-ca-1 → sub-ca-2): Sub-CA 2 is rotated under the same Sub-CA 1; a new
  // root would need a new Sub-CA 1 too (and, in a V2G PKI, a root the V2G root CA program publishes).
  if (kind === 'root' || parent.role !== 'sub-ca-1' || sub.role !== 'sub-ca-2')
    throw new CliError(
      `the hierarchy ${hierarchy} has an intermediate CA (${parent.id}, ${parent.role}): rotating its root is not supported (it would need a new ${parent.role} too); rotate its ${sub.role} with \`${command('issuer', 'prepare', hierarchy)}\``,
      EXIT.badInput,
    );
  const root = rootOf(issuers, parent);
  if (!root) throw new CliError(`the ${parent.role} ${parent.id} has no root in the hierarchy ${hierarchy}`, EXIT.failure);
  return { root, parent, sub };
}

function passphraseFor(o: RotationOptions, manifest: PkiManifest, role: KeyRole): string {
  try {
    return loadPassphrase(o.env, role, manifest.dev ? dataPaths(o.dataDir).devPassphrase : undefined);
  } catch (e) {
    throw new CliError((e as Error).message, EXIT.badInput);
  }
}

function readKey(o: RotationOptions, issuerId: string, passphrase: string): KeyObject {
  try {
    return readPrivateKey(dataPaths(o.dataDir).issuerKey(issuerId), passphrase);
  } catch (e) {
    throw new CliError(`${(e as Error).message}; the rotation needs the key of ${issuerId} in ${o.dataDir}/keys`, EXIT.badInput);
  }
}

/** `<org> Root CA G2`, `<org> Charge Point CA G3`: a generation suffix keeps the names of successive CAs apart. */
function generationName(base: string, issuers: readonly IssuerRecord[], role: IssuerRecord['role']): string {
  const n = issuers.filter((i) => i.role === role).length + 1;
  return `${base} G${n}`;
}

function change(r: IssuerRecord, to: IssuerState): StateChange {
  return { id: r.id, role: r.role, from: r.state, to };
}

function withState(r: IssuerRecord, state: IssuerState, at: string): IssuerRecord {
  return { ...r, state, updatedAt: at };
}

/** Commits one step (issuers + rotation record) over the revision read, and writes the audit entry. */
async function commitStep(
  store: Store,
  current: RotationRecord | undefined,
  next: RotationRecord,
  issuers: readonly IssuerRecord[],
  changes: readonly StateChange[],
  forced: boolean,
): Promise<void> {
  if (!(await store.commitRotation(issuers, next, current?.revision)))
    throw new CliError('another rotation command changed the rotation meanwhile; run `pki status` and try again', EXIT.tempFail);
  await store.appendAudit(
    [
      {
        event: `rotation.${next.kind}.${next.step}`,
        actor: 'cli',
        outcome: 'ok',
        details: {
          hierarchy: next.hierarchy,
          revision: next.revision,
          oldRoot: next.old.rootId,
          oldIssuer: next.old.issuerId,
          newRoot: next.new.rootId,
          newIssuer: next.new.issuerId,
          changes: changes.map((c) => `${c.id}:${c.from ?? 'new'}->${c.to}`).join(' '),
          forced,
        },
      },
    ],
    next.steps[next.steps.length - 1]!.at,
  );
}

function advance(r: RotationRecord, step: RotationStep, at: string, forced = false): RotationRecord {
  return { ...r, revision: r.revision + 1, step, steps: [...r.steps, { step, at, ...(forced ? { forced } : {}) }] };
}

/**
 * The step before `step` must be the last one done; a step already done is a no-op (re-runs and
 * resumption after a crash are safe). Returns undefined when `step` was already done.
 */
function expectAt(kind: RotationKind, hierarchy: string, r: RotationRecord | undefined, step: RotationStep): RotationRecord | undefined {
  if (!r || (r.step === 'retire' && (r.kind !== kind || step !== 'retire')))
    throw new CliError(`no ${kind} rotation in progress${hierarchy === DEFAULT_HIERARCHY ? '' : ` in the hierarchy ${hierarchy}`}; start one with \`${command(kind, 'prepare', hierarchy)}\``, EXIT.badInput);
  if (r.kind !== kind) throw new CliError(`a ${r.kind} rotation is in progress (last step: ${r.step}); finish it first (next: ${nextStep(r)})`, EXIT.badInput);
  const want = ROTATION_STEPS.indexOf(step);
  const done = ROTATION_STEPS.indexOf(r.step);
  if (done >= want) return undefined;
  if (done < want - 1) throw new CliError(`step ${step} comes after ${ROTATION_STEPS[want - 1]}; run \`${nextStep(r)}\` first`, EXIT.badInput);
  return r;
}

function result(kind: RotationKind, step: RotationStep, o: RotationOptions, changes: StateChange[], rotation: RotationRecord | undefined, changed: boolean, message: string): StepResult {
  return { kind, step, changed, dryRun: o.dryRun, changes, rotation, next: rotation ? nextStep(rotation) : undefined, message };
}

/**
 * prepare: new keys and certificates, all inactive. Root rotation: a new root, cross-certificates
 * between the old and new roots (each signed by the other's key) and a new issuing CA under the new
 * root. Issuer rotation: a new issuing CA under the active root. Keys are written (encrypted) before
 * the store names them; a crash in between leaves only an unused key file, and a re-run starts over.
 */
export async function prepare(kind: RotationKind, o: RotationOptions): Promise<StepResult> {
  const manifest = readManifest(o.dataDir);
  const algorithm = o.algorithm ?? (manifest.algorithm as IssuerKeyAlgorithm);
  if (!(ISSUER_KEY_ALGORITHMS as readonly string[]).includes(algorithm)) throw new CliError(`--algorithm must be one of ${ISSUER_KEY_ALGORITHMS.join(', ')}`, EXIT.badInput);
  const hierarchy = hierarchyOf(o);
  const now = o.now ?? new Date();
  const at = now.toISOString();
  return withStore(o, async (store) => {
    const current = await store.getRotation(hierarchy);
    if (current && current.step !== 'retire') {
      if (current.kind === kind && current.step === 'prepare') {
        // A re-run also re-sends the key to the Secret: the first run may have stopped before that.
        if (o.k8sSecret && !o.dryRun) await sendKeyToSecret(o, current.new.issuerId);
        return result(kind, 'prepare', o, [], current, false, `already prepared: new issuing CA ${current.new.issuerId}`);
      }
      throw new CliError(`a ${current.kind} rotation is in progress (last step: ${current.step}); finish it first (next: ${nextStep(current)})`, EXIT.badInput);
    }
    const issuers = await store.listIssuers(hierarchy);
    const old = activeHierarchy(issuers, hierarchy, kind);
    const oldRootCert = parseCertificate(old.root.certificate);
    const organization = attributeValues(oldRootCert.subject, OID.organizationName)[0] ?? manifest.jwt.issuer;
    // A V2G hierarchy: CPO Sub-CA 2 is rotated under the same Sub-CA 1, P-256 only (V2G.curve).
    const v2g = old.parent.role === 'sub-ca-1';
    if (v2g && o.algorithm && o.algorithm !== 'ecdsa-p256') throw new CliError(`V2G.curve: the CAs of the hierarchy ${hierarchy} are EC P-256; --algorithm ${o.algorithm} is refused`, EXIT.badInput);
    const keyAlgorithm: IssuerKeyAlgorithm = v2g ? 'ecdsa-p256' : algorithm;
    const subName = v2g ? generationName(cpoSubCaName(organization, 2), issuers, 'sub-ca-2') : generationName(`${organization} Charge Point CA`, issuers, 'issuing');
    if (o.dryRun)
      return result(kind, 'prepare', o, [], current, false, kind === 'root'
        ? `would create a new root (${generationName(`${organization} Root CA`, issuers, 'root')}), cross-certificates with ${old.root.id}, and a new issuing CA under the new root, all inactive (${algorithm})`
        : `would create a new ${v2g ? 'CPO Sub-CA 2' : 'issuing CA'} (${subName}) under ${old.parent.id}, inactive (${keyAlgorithm}${o.pkcs11 ? `, key in PKCS#11 token '${o.pkcs11.tokenLabel}'` : ''})`);

    // The root key (or, in a V2G hierarchy, Sub-CA 1's: pki v2g init encrypts both with the root passphrase).
    const rootPassphrase = passphraseFor(o, manifest, 'root');
    const issuingHome = o.pkcs11 ? { token: o.pkcs11 } : { passphrase: passphraseFor(o, manifest, 'issuing') };
    if (v2g && !existsSync(dataPaths(o.dataDir).issuerKey(old.parent.id)))
      throw new CliError(`the CPO Sub-CA 1 ${old.parent.id} has no key in ${o.dataDir}/keys (a hierarchy of an external V2G PKI, \`pki v2g import\`): only its PKI can issue the next Sub-CA 2`, EXIT.badInput);
    const oldParentKey = readKey(o, old.parent.id, rootPassphrase);
    const paths = dataPaths(o.dataDir);
    let root: { cert: ParsedCertificate; key: KeyObject; id: string } = { cert: parseCertificate(old.parent.certificate), key: oldParentKey, id: old.parent.id };
    const records: IssuerRecord[] = [];
    const changes: StateChange[] = [];
    if (kind === 'root') {
      const key = generateIssuerKey(algorithm);
      const cert = await makeRoot(key, { organization, commonName: generationName(`${organization} Root CA`, issuers, 'root') }, now, 20);
      root = { cert, key, id: issuerIdFor('root', cert) };
      writePrivateKey(paths.issuerKey(root.id), key, rootPassphrase);
      const newByOld = await makeCrossCertificate(cert, oldRootCert, oldParentKey, now);
      const oldByNew = await makeCrossCertificate(oldRootCert, cert, key, now);
      // The new root's CRL (it will list revoked issuing CAs under it); the old root's stays.
      const crl = await makeEmptyCrl(key, cert, await store.nextCrlNumber(root.id), now, 365);
      await store.putCrl({ issuerId: root.id, ...crl });
      records.push(
        { id: root.id, hierarchy, role: 'root', parentId: root.id, certificate: cert.der, state: 'prepared', createdAt: at, updatedAt: at, crossCertificates: [newByOld.der] },
        { ...old.root, crossCertificates: [...(old.root.crossCertificates ?? []), oldByNew.der], updatedAt: at },
      );
      changes.push({ id: root.id, role: 'root', from: null, to: 'prepared' });
    }
    const subKey = await newIssuingKey(o.dataDir, keyAlgorithm, issuingHome, now);
    const sub = await subKey.guard(
      v2g
        ? makeV2gCa(cpoSubCa2, subKey.key, { organization, commonName: subName }, root, manifest.publicOcspBase, now, V2G_LIFETIME_YEARS.subCa2)
        : makeSubCa(subKey.key, { organization, commonName: subName }, root.cert, root.key, now, 10, issuerUrls(manifest.publicOcspBase, root.id)),
    );
    const subId = issuerIdFor(v2g ? 'cpo-sub2' : 'cp', sub);
    const subRole = v2g ? 'sub-ca-2' : 'issuing';
    subKey.save(subId);
    records.push({ id: subId, hierarchy, role: subRole, parentId: root.id, certificate: sub.der, state: 'prepared', createdAt: at, updatedAt: at });
    changes.push({ id: subId, role: subRole, from: null, to: 'prepared' });
    const rotation: RotationRecord = {
      hierarchy,
      kind,
      revision: (current?.revision ?? 0) + 1,
      step: 'prepare',
      old: { rootId: old.root.id, issuerId: old.sub.id },
      new: { rootId: kind === 'root' ? root.id : old.root.id, issuerId: subId },
      startedAt: at,
      steps: [{ step: 'prepare', at }],
    };
    await subKey.guard(commitStep(store, current, rotation, records, changes, false));
    await subKey.close();
    // After the commit, so that a failed run leaves no unused key in the Secret; a re-run sends it.
    if (o.k8sSecret) await sendKeyToSecret(o, subId);
    return result(kind, 'prepare', o, changes, rotation, true, kind === 'root' ? `prepared new root ${root.id} and issuing CA ${subId}` : `prepared ${v2g ? 'CPO Sub-CA 2' : 'issuing CA'} ${subId} under ${root.id}`);
  });
}

/** publish: the new root becomes a trust anchor next to the old one (root rotation) and the new issuing CA is published. */
export async function publish(kind: RotationKind, o: RotationOptions): Promise<StepResult> {
  const hierarchy = hierarchyOf(o);
  const at = (o.now ?? new Date()).toISOString();
  return withStore(o, async (store) => {
    const read = await store.getRotation(hierarchy);
    const r = expectAt(kind, hierarchy, read, 'publish');
    if (!r) return result(kind, 'publish', o, [], read, false, 'already published');
    const issuers = await store.listIssuers(hierarchy);
    const ids = kind === 'root' ? [r.new.rootId, r.new.issuerId] : [r.new.issuerId];
    const records = ids.map((id) => mustFind(issuers, id));
    const changes = records.map((x) => change(x, 'published'));
    if (o.dryRun) return result(kind, 'publish', o, changes, r, false, describe(changes));
    const next = advance(r, 'publish', at);
    await commitStep(store, r, next, records.map((x) => withState(x, 'published', at)), changes, false);
    return result(kind, 'publish', o, changes, next, true, kind === 'root' ? `published root ${r.new.rootId}: install it on every station (InstallCertificate.req) before activating` : `published issuing CA ${r.new.issuerId}`);
  });
}

/**
 * activate: new leaves come from the new issuing CA (the store refuses leaves from any other from
 * this write on). The old issuing CA and root stay published: in service, signing no leaves.
 */
export async function activate(kind: RotationKind, o: RotationOptions): Promise<StepResult> {
  const hierarchy = hierarchyOf(o);
  const at = (o.now ?? new Date()).toISOString();
  return withStore(o, async (store) => {
    const read = await store.getRotation(hierarchy);
    const r = expectAt(kind, hierarchy, read, 'activate');
    if (!r) return result(kind, 'activate', o, [], read, false, 'already activated');
    const issuers = await store.listIssuers(hierarchy);
    const updates: [IssuerRecord, IssuerState][] = [
      [mustFind(issuers, r.new.issuerId), 'active'],
      [mustFind(issuers, r.old.issuerId), 'published'],
    ];
    if (kind === 'root') updates.push([mustFind(issuers, r.new.rootId), 'active'], [mustFind(issuers, r.old.rootId), 'published']);
    const changes = updates.map(([x, to]) => change(x, to));
    if (o.caUrl) await checkCaHoldsKey(o.caUrl, r.new.issuerId);
    if (o.dryRun) return result(kind, 'activate', o, changes, r, false, describe(changes));
    const next = advance(r, 'activate', at);
    await commitStep(store, r, next, updates.map(([x, to]) => withState(x, to, at)), changes, false);
    if (hierarchy === DEFAULT_HIERARCHY) updateManifest(o.dataDir, kind === 'root' ? r.new.rootId : undefined, r.new.issuerId);
    return result(kind, 'activate', o, changes, next, true, `new certificates are issued by ${r.new.issuerId}`);
  });
}

/**
 * retire: the old issuing CA is retiring (signs no leaves; its OCSP responses and CRLs are served
 * until its last certificate expires). Root rotation: the old root is retiring too and leaves the
 * trust anchors when no valid certificate depends on it, or at once with --force.
 */
export async function retire(kind: RotationKind, o: RotationOptions): Promise<StepResult> {
  const hierarchy = hierarchyOf(o);
  const now = o.now ?? new Date();
  const at = now.toISOString();
  return withStore(o, async (store) => {
    const read = await store.getRotation(hierarchy);
    const r = expectAt(kind, hierarchy, read, 'retire');
    if (!r) return result(kind, 'retire', o, [], read, false, 'already retired');
    const issuers = await store.listIssuers(hierarchy);
    const updates: [IssuerRecord, IssuerState][] = [[mustFind(issuers, r.old.issuerId), 'retiring']];
    let note = '';
    if (kind === 'root') {
      const last = await lastExpiryUnder(store, issuers, r.old.rootId);
      const forced = o.force === true && last > now.getTime();
      updates.push([mustFind(issuers, r.old.rootId), forced || last <= now.getTime() ? 'retired' : 'retiring']);
      note = forced
        ? `; old root ${r.old.rootId} removed from the trust anchors now (--force) although certificates under it are valid until ${new Date(last).toISOString()}`
        : last > now.getTime()
          ? `; old root ${r.old.rootId} stays a trust anchor until ${new Date(last).toISOString()}, when its last certificate expires`
          : `; old root ${r.old.rootId} removed from the trust anchors (no valid certificate under it)`;
    }
    const changes = updates.map(([x, to]) => change(x, to));
    if (o.dryRun) return result(kind, 'retire', o, changes, r, false, describe(changes) + note);
    const next = advance(r, 'retire', at, o.force === true);
    await commitStep(store, r, next, updates.map(([x, to]) => withState(x, to, at)), changes, o.force === true);
    return result(kind, 'retire', o, changes, next, true, `retired issuing CA ${r.old.issuerId} (OCSP and CRLs served until its last certificate expires)${note}`);
  });
}

/**
 * Adds the issuing CA's encrypted key file to the Secret the CA mounts as keys/ (idempotent); for a
 * key in a PKCS#11 token, its reference keys/<id>.pkcs11.json (the key itself never leaves the token).
 */
async function sendKeyToSecret(o: RotationOptions, issuerId: string): Promise<void> {
  const paths = dataPaths(o.dataDir);
  const file = existsSync(paths.issuerPkcs11Ref(issuerId)) ? paths.issuerPkcs11Ref(issuerId) : paths.issuerKey(issuerId);
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch {
    throw new CliError(`cannot read ${file}: the new issuing CA key must be on this data directory`, EXIT.failure);
  }
  await addToSecret(inClusterTarget(o.env), o.k8sSecret!, { [basename(file)]: content });
}

export const STEPS = { prepare, publish, activate, retire } as const;

function mustFind(issuers: readonly IssuerRecord[], id: string): IssuerRecord {
  const r = issuers.find((i) => i.id === id);
  if (!r) throw new CliError(`issuer ${id} named by the rotation is not in the store (in its hierarchy)`, EXIT.failure);
  return r;
}

function describe(changes: readonly StateChange[]): string {
  return changes.map((c) => `${c.id} (${c.role}): ${c.from ?? 'new'} -> ${c.to}`).join('; ');
}

/** The CA must hold the new issuing CA's key before activation, or signing would stop. */
async function checkCaHoldsKey(caUrl: string, issuerId: string): Promise<void> {
  let body: { issuerKeys?: Record<string, boolean>; issuerKeyErrors?: Record<string, string> };
  try {
    const res = await fetch(`${caUrl.replace(/\/$/, '')}/readyz`, { signal: AbortSignal.timeout(10_000) });
    body = (await res.json()) as typeof body;
  } catch (e) {
    throw new CliError(`cannot ask the CA at ${caUrl} whether it holds the new key: ${(e as Error).message}`, EXIT.tempFail);
  }
  if (body.issuerKeys?.[issuerId] !== true)
    throw new CliError(
      `the CA at ${caUrl} does not hold the key of ${issuerId} yet (its keys/ must contain ${issuerId}.key.pem or ${issuerId}.pkcs11.json; a Kubernetes Secret takes up to a minute to reach the pod${body.issuerKeyErrors?.[issuerId] ? `; the CA says: ${body.issuerKeyErrors[issuerId]}` : ''}); activating now would stop signing`,
      EXIT.badInput,
    );
}

/** pki.json names the active csms root and issuing CA for people and scripts; the store is what the services read. */
function updateManifest(dataDir: string, rootId: string | undefined, issuerId: string): void {
  const m = readManifest(dataDir);
  const next: PkiManifest = { ...m, issuers: { root: rootId ?? m.issuers.root, chargePoint: issuerId } };
  writeFileAtomic(dataPaths(dataDir).manifest, JSON.stringify(next, null, 2) + '\n');
}

export interface PkiStatus extends Omit<HierarchyStatus, 'rotation'> {
  readonly rotation: (RotationRecord & { readonly next: string | null }) | null;
}

/** `pki status`: every issuer of a hierarchy (default csms) with its state, and where its rotation stands (hierarchyStatus, shared with GET /v1/issuers). */
export async function status(o: { readonly dataDir: string; readonly env: NodeJS.ProcessEnv; readonly hierarchy?: string; readonly now?: Date }): Promise<PkiStatus> {
  const hierarchy = hierarchyOf(o);
  const s = await withStore(o, (store) => hierarchyStatus(store, hierarchy, (o.now ?? new Date()).getTime()));
  return { ...s, rotation: s.rotation ? { ...s.rotation, next: nextStep(s.rotation) ?? null } : null };
}

export function formatStatus(s: PkiStatus): string {
  const rows = s.issuers.map((i) => [i.id, i.role, i.state, i.trustAnchor ? 'yes' : '', i.notAfter.slice(0, 10), i.lastLeafExpiry?.slice(0, 10) ?? '', i.subject]);
  const head = ['ISSUER', 'ROLE', 'STATE', 'ANCHOR', 'NOT AFTER', 'LAST LEAF', 'SUBJECT'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]): string => r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!))).join('  ');
  let text = [line(head), ...rows.map(line)].join('\n') + '\n\n';
  const r = s.rotation;
  if (!r) text += `No rotation has been run in the hierarchy ${s.hierarchy}.\n`;
  else {
    text += `${r.kind === 'root' ? 'Root' : 'Issuing CA'} rotation of the hierarchy ${s.hierarchy} (revision ${r.revision}): ${r.steps.map((x) => `${x.step} ${x.at}${x.forced ? ' (forced)' : ''}`).join(', ')}\n`;
    text += `  old: root ${r.old.rootId}, issuing CA ${r.old.issuerId}\n  new: root ${r.new.rootId}, issuing CA ${r.new.issuerId}\n`;
    text += r.next ? `  next: ${r.next}\n` : '  finished\n';
  }
  return text;
}
