import { AppError } from '@evpki/service';
import { IssuerNotActiveError, type IssuerSet } from './issuer-set.js';
import type { LoadedIssuer } from './issuer.js';

/**
 * Signs with the active issuing CA of `hierarchy` (the profile's signedBy.hierarchy; default csms).
 * When the store refuses the leaf because a rotation activated another issuer meanwhile, reloads and
 * signs again with the new one: signing never stops.
 */
export async function withActiveIssuer<T>(issuers: IssuerSet, reload: () => Promise<void>, sign: (issuer: LoadedIssuer) => Promise<T>, hierarchy?: string): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const issuer = issuers.activeIn(hierarchy);
    if (!issuer) {
      await reload();
      const activeId = issuers.activeIdIn(hierarchy);
      if (!issuers.activeIn(hierarchy))
        throw new AppError('unavailable', activeId ? `the CA does not hold the key of the active issuing CA ${activeId} yet` : `no active issuing CA${hierarchy ? ` in hierarchy ${hierarchy}` : ''}`, undefined, 5);
      continue;
    }
    try {
      return await sign(issuer);
    } catch (e) {
      if (!(e instanceof IssuerNotActiveError) || attempt >= 3) throw e;
      await reload();
    }
  }
}
