import { AppError } from '@evpki/service';
import { IssuerNotActiveError, type IssuerSet } from './issuer-set.js';
import type { LoadedIssuer } from './issuer.js';

/**
 * Signs with the active issuing CA. When the store refuses the leaf because a rotation activated
 * another issuer meanwhile, reloads and signs again with the new one: signing never stops.
 */
export async function withActiveIssuer<T>(issuers: IssuerSet, reload: () => Promise<void>, sign: (issuer: LoadedIssuer) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const issuer = issuers.activeIn();
    if (!issuer) {
      await reload();
      if (!issuers.activeIn()) throw new AppError('unavailable', issuers.activeIdIn() ? `the CA does not hold the key of the active issuing CA ${issuers.activeIdIn()} yet` : 'no active issuing CA', undefined, 5);
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
