import { nameToString, parseCertificate } from '@evpki/x509';
import { signsLeaves } from './hierarchies.js';
import { trustAnchors } from './issuer-life.js';
import { ROTATION_STEPS } from './rotation-steps.js';
import type { IssuerRecord, IssuerState, RotationRecord, RotationStep } from './records.js';
import type { Store } from './store.js';

/** The steps of a rotation, in order (`pki rotate-root|rotate-issuer <step>`). */
export { ROTATION_STEPS } from './rotation-steps.js';

/** The step after the rotation's last one; undefined when it is finished. */
export function nextRotationStep(r: Pick<RotationRecord, 'step'>): RotationStep | undefined {
  return ROTATION_STEPS[ROTATION_STEPS.indexOf(r.step) + 1];
}

/** One issuer of a hierarchy as `pki status` and GET /v1/issuers show it. */
export interface IssuerStatus {
  readonly id: string;
  readonly role: IssuerRecord['role'];
  readonly parentId: string;
  readonly state: IssuerState;
  readonly subject: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** Its certificate's serial number, lowercase hex. */
  readonly serialNumber: string;
  readonly trustAnchor: boolean;
  /** CAs that sign leaves: the latest notAfter of the leaves it signed. */
  readonly lastLeafExpiry: string | null;
}

/** A hierarchy: every issuer with its state, and its current or last rotation. */
export interface HierarchyStatus {
  readonly hierarchy: string;
  readonly issuers: readonly IssuerStatus[];
  readonly rotation: RotationRecord | null;
}

/** Where a hierarchy stands (`pki status`, GET /v1/issuers), read from the store. */
export async function hierarchyStatus(
  store: Pick<Store, 'listIssuers' | 'issuerLastExpiry' | 'getRotation'>,
  hierarchy: string,
  now: number,
): Promise<HierarchyStatus> {
  const issuers = await store.listIssuers(hierarchy);
  const anchors = new Set((await trustAnchors(store, now, hierarchy)).map((r) => r.id));
  const rotation = (await store.getRotation(hierarchy)) ?? null;
  const out: IssuerStatus[] = [];
  for (const r of issuers) {
    const cert = parseCertificate(r.certificate);
    const last = signsLeaves(r.role) ? await store.issuerLastExpiry(r.id) : undefined;
    out.push({
      id: r.id,
      role: r.role,
      parentId: r.parentId,
      state: r.state,
      subject: nameToString(cert.subject),
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
      serialNumber: cert.serialHex,
      trustAnchor: anchors.has(r.id),
      lastLeafExpiry: last === undefined ? null : new Date(last).toISOString(),
    });
  }
  return { hierarchy, issuers: out, rotation };
}

/** The hierarchies that have issuers, by name. */
export async function hierarchyNames(store: Pick<Store, 'listIssuers'>): Promise<string[]> {
  return [...new Set((await store.listIssuers()).map((i) => i.hierarchy))].sort();
}
