import type { PathInput } from '@evpki/pathval';
import { ekuOid, pemToDer, validationTime, type LimboCase } from './limbo.js';

/** A limbo case as a PathInput: anchors, intermediates, leaf, time, CRLs, chain depth and the client/server EKU. */
export function limboInput(c: LimboCase): PathInput {
  return {
    leaf: pemToDer(c.peer_certificate),
    intermediates: c.untrusted_intermediates.map(pemToDer),
    trustAnchors: c.trusted_certs.map(pemToDer),
    at: validationTime(c),
    crls: c.crls.map(pemToDer),
    ...(c.max_chain_depth != null ? { maxDepth: c.max_chain_depth } : {}),
    ...(c.extended_key_usage.length ? { requiredExtendedKeyUsage: c.extended_key_usage.map(ekuOid) } : {}),
  };
}
