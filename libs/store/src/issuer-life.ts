import { DEFAULT_HIERARCHY, signsLeaves } from './hierarchies.js';
import type { IssuerRecord } from './records.js';
import type { Store } from './store.js';

/**
 * A leaf-signing CA the services serve: from `prepared` on (the CA holds its key, the responder gets
 * its delegated signer before anything is issued under it) until retired, or retiring with no leaf
 * left unexpired (its OCSP responses and CRLs are needed until then).
 */
export function isIssuingCaInService(r: IssuerRecord, lastExpiry: number | undefined, now: number): boolean {
  if (!signsLeaves(r.role) || r.state === 'retired') return false;
  return r.state !== 'retiring' || (lastExpiry ?? 0) > now;
}

/**
 * The leaf-signing CAs in service (see isIssuingCaInService) of one hierarchy, or of every hierarchy
 * when none is named (the CA and the OCSP responder serve them all), read fresh from the store.
 */
export async function issuingCasInService(store: Pick<Store, 'listIssuers' | 'issuerLastExpiry'>, now: number, hierarchy?: string): Promise<IssuerRecord[]> {
  const out: IssuerRecord[] = [];
  for (const r of await store.listIssuers(hierarchy))
    if (isIssuingCaInService(r, r.state === 'retiring' ? await store.issuerLastExpiry(r.id) : undefined, now)) out.push(r);
  return out;
}

/** The root of `issuer` (itself for a root), following parentId among `issuers`; undefined when a link is missing. */
export function rootOf(issuers: readonly IssuerRecord[], issuer: IssuerRecord): IssuerRecord | undefined {
  const byId = new Map(issuers.map((i) => [i.id, i]));
  let r: IssuerRecord | undefined = issuer;
  for (let depth = 0; r && r.role !== 'root' && depth < issuers.length; depth++) r = byId.get(r.parentId);
  return r?.role === 'root' ? r : undefined;
}

/** The latest notAfter of any leaf under `rootId` (through its leaf-signing CAs), 0 when none. */
export async function lastExpiryUnder(store: Pick<Store, 'issuerLastExpiry'>, issuers: readonly IssuerRecord[], rootId: string): Promise<number> {
  let last = 0;
  for (const i of issuers) if (signsLeaves(i.role) && rootOf(issuers, i)?.id === rootId) last = Math.max(last, (await store.issuerLastExpiry(i.id)) ?? 0);
  return last;
}

/**
 * The roots of a hierarchy (default csms: those a CSMS should have installed on its stations,
 * /v1/trust-anchors): published and active ones, and a retiring one while some certificate under it
 * has not expired (after that nothing depends on it; `pki rotate-root retire --force` retires it at once).
 */
export async function trustAnchors(store: Pick<Store, 'listIssuers' | 'issuerLastExpiry'>, now: number, hierarchy: string = DEFAULT_HIERARCHY): Promise<IssuerRecord[]> {
  const all = await store.listIssuers(hierarchy);
  const out: IssuerRecord[] = [];
  for (const r of all) {
    if (r.role !== 'root') continue;
    if (r.state === 'published' || r.state === 'active' || (r.state === 'retiring' && (await lastExpiryUnder(store, all, r.id)) > now)) out.push(r);
  }
  return out;
}
