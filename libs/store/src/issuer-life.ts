import type { IssuerRecord } from './records.js';
import type { Store } from './store.js';

/**
 * An issuing CA the services serve: from `prepared` on (the CA holds its key, the responder gets its
 * delegated signer before anything is issued under it) until retired, or retiring with no leaf left
 * unexpired (its OCSP responses and CRLs are needed until then).
 */
export function isIssuingCaInService(r: IssuerRecord, lastExpiry: number | undefined, now: number): boolean {
  if (r.role !== 'sub-ca' || r.purpose !== 'charge-point' || r.state === 'retired') return false;
  return r.state !== 'retiring' || (lastExpiry ?? 0) > now;
}

/** The charge point issuing CAs in service (see isIssuingCaInService), read fresh from the store. */
export async function issuingCasInService(store: Pick<Store, 'listIssuers' | 'issuerLastExpiry'>, now: number): Promise<IssuerRecord[]> {
  const out: IssuerRecord[] = [];
  for (const r of await store.listIssuers())
    if (isIssuingCaInService(r, r.state === 'retiring' ? await store.issuerLastExpiry(r.id) : undefined, now)) out.push(r);
  return out;
}

/** The latest notAfter of any leaf under `rootId` (through its issuing CAs), 0 when none. */
export async function lastExpiryUnder(store: Pick<Store, 'issuerLastExpiry'>, issuers: readonly IssuerRecord[], rootId: string): Promise<number> {
  let last = 0;
  for (const i of issuers) if (i.role === 'sub-ca' && i.parentId === rootId) last = Math.max(last, (await store.issuerLastExpiry(i.id)) ?? 0);
  return last;
}

/**
 * The roots a CSMS should have installed on its stations (/v1/trust-anchors): published and
 * active ones, and a retiring one while some certificate under it has not expired (after that
 * nothing depends on it; `pki rotate-root retire --force` retires it at once).
 */
export async function trustAnchors(store: Pick<Store, 'listIssuers' | 'issuerLastExpiry'>, now: number): Promise<IssuerRecord[]> {
  const all = await store.listIssuers();
  const out: IssuerRecord[] = [];
  for (const r of all) {
    if (r.role !== 'root') continue;
    if (r.state === 'published' || r.state === 'active' || (r.state === 'retiring' && (await lastExpiryUnder(store, all, r.id)) > now)) out.push(r);
  }
  return out;
}
