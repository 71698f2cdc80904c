import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { buildCsr } from '@evpki/x509';

export { buildCsr };

export function newP256Csr(cn: string, o = 'Demo CPO'): { csr: string; key: KeyObject } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { csr: buildCsr(privateKey, { o, cn }), key: privateKey };
}
