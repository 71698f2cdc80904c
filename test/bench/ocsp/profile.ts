/** CPU profile of the responder (BENCH_PROFILE=DIR): busy time by component and by function. */
import { readBusyProfile, sharesBy, v8PseudoFrame, type CallFrame } from '../bench-kit.js';

const RESPONDER_BY_URL: [RegExp, string][] = [
  [/node_modules\/(lmdb|msgpackr|ordered-binary)\/|libs\/store\//, 'store: lmdb + msgpackr'],
  [/libs\/ocsp\/dist\/request/, 'OCSP request parsing'],
  [/libs\/x509\/dist\/der/, 'DER reading and writing (libs/x509 der.js: request parsing, response encoding)'],
  [/libs\/ocsp\/|libs\/x509\//, 'OCSP response building, CertID lookup'],
  [/node_modules\/prom-client\//, 'metrics (prom-client)'],
  [/node_modules\/(pino|sonic-boom|thread-stream)/, 'logging (pino)'],
  [/services\/ocsp\/dist\/|libs\/service\//, 'responder code (service.ts, responder.ts)'],
];

/** The component a busy sample of the responder is charged to, from its stack (leaf first). */
function responderComponent(stack: readonly CallFrame[]): string {
  const leaf = stack[0]!;
  const pseudo = v8PseudoFrame(leaf);
  if (pseudo) return pseudo;
  if (leaf.url === '' && /^write(v|Buffer|Utf8String|Latin1String|AsciiString)$/.test(leaf.functionName))
    return 'socket writes (syscall; on loopback it includes delivering to, and waking, the client)';
  if (/^(sign|signOneShot|signTbs)$/.test(leaf.functionName)) return 'ECDSA sign (crypto.sign)';
  for (const f of stack) {
    if (f.functionName === 'sign' && /node:internal\/crypto/.test(f.url)) return 'ECDSA sign (crypto.sign)';
    if (!f.url || f.url.startsWith('node:')) continue;
    return RESPONDER_BY_URL.find(([re]) => re.test(f.url))?.[1] ?? 'other libraries';
  }
  return stack.some((f) => /^node:(_http|net|internal\/http|internal\/stream|internal\/streams)/.test(f.url)) ? 'node:http + sockets + streams' : 'node internals (timers, promises, other)';
}

/** The function a busy sample ran in (self time): name, file and line. */
function leafFunction(stack: readonly CallFrame[]): string {
  const leaf = stack[0]!;
  return `${leaf.functionName || '(anonymous)'} ${leaf.url.replace(/^.*\/(node_modules|libs|services)\//, '$1/')}:${leaf.lineNumber + 1}`;
}

/** Busy time of the responder's JS thread by component and by function (self time). */
export function profileBreakdown(file: string): { busySeconds: number; components: [string, number][]; functions: [string, number][] } {
  const p = readBusyProfile(file);
  return { busySeconds: p.busyMicros / 1e6, components: sharesBy(p, responderComponent), functions: sharesBy(p, leafFunction).slice(0, 25) };
}
