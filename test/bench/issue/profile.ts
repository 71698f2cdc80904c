/** CPU profiles of RA and CA (BENCH_PROFILE=DIR): where a service's JS thread spent its busy samples. */
import { readBusyProfile, sharesBy, v8PseudoFrame, type CallFrame } from '../bench-kit.js';

// Innermost matching frame wins, after three named hot functions anywhere on the stack.
const NAMED: [string, string][] = [
  ['publicKeyObject', 'policy: public key import (publicKeyObject: JWK, OpenSSL checks the point)'],
  ['verifySignature', 'policy: ECDSA verify (CSR proof of possession)'],
  ['signTbs', 'CA: sign the TBS (crypto.sign)'],
];
const BY_URL: [RegExp, string][] = [
  [/libs\/(policy|x509)\//, 'policy + x509: parsing, checks, TBS build'],
  [/node_modules\/(lmdb|msgpackr|ordered-binary)\/|libs\/store\//, 'store: lmdb + msgpackr'],
  [/node_modules\/(ajv|ajv-formats|fast-uri)\/|request-schema\.js/, 'RA: request schemas (ajv)'],
  [/node_modules\/undici\/|ca-client\.js/, 'RA: CA client (undici)'],
  [/libs\/service\/dist\/auth\.js|node_modules\/jose\//, 'auth (JWT / service token)'],
  [/node_modules\/prom-client\//, 'metrics (prom-client)'],
  [/node_modules\/(pino|sonic-boom|thread-stream)/, 'logging (pino)'],
  [/node_modules\/(express|router|body-parser|raw-body|send|finalhandler|path-to-regexp|parseurl|type-is|content-type|on-finished|qs|iconv-lite|mime-types|mime-db|accepts|depd|statuses|http-errors|encodeurl|negotiator|proxy-addr|side-channel[^/]*|get-intrinsic|debug)\//, 'RA: express, router, body-parser, res.json'],
  [/services\/(ra|ca)\/dist\/|libs\/service\//, 'service code (handlers, JSON, hashing)'],
];

/** The component a busy sample of a service is charged to, from its stack (leaf first). */
function serviceComponent(stack: readonly CallFrame[]): string {
  const named = v8PseudoFrame(stack[0]!) ?? stack.map((f) => NAMED.find(([fn]) => fn === f.functionName)?.[1]).find((c) => c !== undefined);
  if (named) return named;
  for (const f of stack) {
    if (!f.url || f.url.startsWith('node:')) continue;
    return BY_URL.find(([re]) => re.test(f.url))?.[1] ?? 'other libraries';
  }
  return stack.some((f) => /^node:(_http|net)/.test(f.url)) ? 'node:http + sockets' : 'node internals (timers, streams, modules)';
}

/** Where a service's JS thread spent its busy (non-idle) samples, by component. */
export function profileBreakdown(file: string): { busySeconds: number; shares: [string, number][] } {
  const p = readBusyProfile(file);
  return { busySeconds: p.busyMicros / 1e6, shares: sharesBy(p, serviceComponent) };
}
