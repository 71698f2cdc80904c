import { existsSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { loadPassphrase, readPrivateKey } from '@evpki/keys';
import { dataPaths, readManifest } from '@evpki/service';
import type { CrlRecord, IssuerRecord, Store } from '@evpki/store';
import { parseCertificate } from '@evpki/x509';
import { CliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';
import { makeCrlOf } from './hierarchy.js';

/**
 * `pki crl sign --root`: the CRL of each root (it lists the revoked CAs under it), signed again with
 * the root key, which only the CLI holds (keys/<rootId>.key.pem, put back on the volume for this,
 * see k8s/README.md "The root key"), and stored where the OCSP responder serves CRLs
 * (`GET /crl/<rootId>.crl`). `pki init` and `rotate-root prepare` sign the first one for 365 days.
 * Safe to run again: every run takes the next CRL Number, and the store keeps the highest.
 */
export interface RootCrlOptions {
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** nextUpdate this many days ahead (never past the root's notAfter). */
  readonly days: number;
  /** Only this root (else every root not retired). */
  readonly issuerId?: string;
  /** Only roots whose CRL's nextUpdate comes within this many ms (or that have none): the CronJob's check. */
  readonly ifNextUpdateWithinMs?: number;
  readonly now?: Date;
}

export interface RootCrlOutcome {
  readonly issuerId: string;
  /** signed: a new CRL is stored; current: not due (--if-next-update-within); external: no key of ours (an imported V2G root). */
  readonly outcome: 'signed' | 'current' | 'external';
  readonly number?: number;
  readonly entries?: number;
  readonly nextUpdate: string | undefined;
}

/** Roots whose CRL this PKI signs: not retired, and not an external PKI's (no key and never one). */
function rootsOf(issuers: readonly IssuerRecord[], issuerId: string | undefined): IssuerRecord[] {
  const roots = issuers.filter((i) => i.role === 'root' && i.state !== 'retired');
  if (issuerId === undefined) return roots;
  const one = issuers.find((i) => i.id === issuerId);
  if (!one || one.role !== 'root') throw new CliError(`--issuer ${issuerId} is not a root of this PKI (pki status lists them)`, EXIT.badInput);
  return [one];
}

function rootKey(dataDir: string, env: NodeJS.ProcessEnv, id: string, dev: boolean): KeyObject {
  const file = dataPaths(dataDir).issuerKey(id);
  if (!existsSync(file))
    throw new CliError(`the key of the root ${id} is not in ${dataDir}/keys (${file}): put it back on the volume for the CRL signing, as for a rotation (k8s/README.md "The root key"), then run this again`, EXIT.badInput);
  try {
    return readPrivateKey(file, loadPassphrase(env, 'root', dev ? dataPaths(dataDir).devPassphrase : undefined));
  } catch (e) {
    throw new CliError(`the root key ${id}: ${(e as Error).message}`, EXIT.badInput);
  }
}

export async function signRootCrls(store: Store, o: RootCrlOptions): Promise<RootCrlOutcome[]> {
  const manifest = readManifest(o.dataDir);
  const now = o.now ?? new Date();
  const outcomes: RootCrlOutcome[] = [];
  for (const root of rootsOf(await store.listIssuers(), o.issuerId)) {
    const current = await store.getCrl(root.id);
    if (o.ifNextUpdateWithinMs !== undefined && current && Date.parse(current.nextUpdate) > now.getTime() + o.ifNextUpdateWithinMs) {
      outcomes.push({ issuerId: root.id, outcome: 'current', number: current.number, nextUpdate: current.nextUpdate });
      continue;
    }
    // A root of an external PKI (pki v2g import): its own PKI signs its CRL; this PKI never had its
    // key and never stored a CRL of it (init, rotate-root prepare and v2g init sign the first one).
    if (!current && !existsSync(dataPaths(o.dataDir).issuerKey(root.id))) {
      outcomes.push({ issuerId: root.id, outcome: 'external', nextUpdate: undefined });
      continue;
    }
    const key = rootKey(o.dataDir, o.env, root.id, manifest.dev);
    const revoked = await store.listRevoked(root.id);
    const crl = await makeCrlOf(key, parseCertificate(root.certificate), await store.nextCrlNumber(root.id), now, o.days, revoked);
    // A concurrent run that stored a higher number wins; ours is simply not kept.
    const kept: Omit<CrlRecord, 'issuerId'> = (await store.putCrl({ issuerId: root.id, ...crl })) ? crl : ((await store.getCrl(root.id)) ?? crl);
    outcomes.push({ issuerId: root.id, outcome: 'signed', number: kept.number, entries: revoked.length, nextUpdate: kept.nextUpdate });
  }
  return outcomes;
}
