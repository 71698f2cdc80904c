import { coverageOf, profileOf } from '@evpki/issuance';
import type { CertificateRecord, IdempotencyClaim, IssuanceOutcome, Store } from '@evpki/store';

/**
 * Records a test certificate the way the issuance pipeline does: indexed and served as the
 * profile of its kind says (the store never decides by kind).
 */
export function recordCert(store: Pick<Store, 'recordIssuance'>, cert: CertificateRecord, idem?: IdempotencyClaim): Promise<IssuanceOutcome> {
  const profile = profileOf(cert.kind);
  if (!profile) throw new Error(`no profile for kind ${cert.kind}`);
  return store.recordIssuance(cert, coverageOf(profile), idem);
}
