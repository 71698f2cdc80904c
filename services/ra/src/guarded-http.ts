import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList } from 'node:net';
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import type { AllowedHost } from './config.js';

/**
 * The RA's one way out to hosts it does not run (SSRF guard, issue 7): the certificate-status relay
 * (remote OCSP responders, Plug&Charge 4.5) and the revocation checks of manufacturer chains
 * (their CRLs and OCSP responders, issue 21). Only hosts on the allow-list (RA_OCSP_ALLOWED_HOSTS),
 * host names only at public addresses, one deadline, a size limit, no redirects.
 */

export type Fetched = { readonly der: Buffer } | { readonly failed: string } | { readonly refused: string };

/**
 * Addresses a responder named by a host name must not resolve to (DNS rebinding, an internal name
 * on the allow-list): loopback, private, link-local (cloud metadata), CGNAT, multicast, reserved.
 * An allow-list entry that is itself an IP literal is connected to without a lookup, so it is not
 * affected: that is how a responder on such an address is allowed on purpose.
 */
const NON_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24],
  ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const)
  NON_PUBLIC.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 127], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96], ['2001:db8::', 32]] as const) NON_PUBLIC.addSubnet(net, bits, 'ipv6');

const PRIVATE_ADDRESS = 'EVPKI_NON_PUBLIC_ADDRESS';

/** dns.lookup for the remote connections, refusing non-public answers (every answer is checked). */
function publicOnlyLookup(hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const bad = addresses.find((a) => NON_PUBLIC.check(a.address, a.family === 6 ? 'ipv6' : 'ipv4'));
    if (bad) {
      const e: NodeJS.ErrnoException = new Error(`${hostname} resolves to the non-public address ${bad.address}`);
      e.code = PRIVATE_ADDRESS;
      return callback(e, []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}

/** An agent for allow-listed remote hosts: public addresses only for host names, bounded answers. */
export function guardedAgent(o: { readonly timeoutMs: number; readonly maxBytes: number; readonly connections: number }): Agent {
  return new Agent({
    connections: o.connections,
    connect: { timeout: o.timeoutMs, lookup: publicOnlyLookup },
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
    keepAliveTimeout: 10_000,
    maxResponseSize: o.maxBytes,
  });
}

/**
 * A URL the RA may fetch: http or https, no credentials, its host and port on the allow-list.
 * `notAllowed` (the host) when it is a URL the list does not hold; `problem` when it is no such URL.
 */
export function checkAllowedUrl(text: string, allowedHosts: readonly AllowedHost[], what: string): { readonly url: URL } | { readonly title: string; readonly problem: string; readonly notAllowed?: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { title: `${what} is not a URL`, problem: `${what} is not a URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { title: `${what} must be http or https`, problem: 'only http and https OCSP responders are asked' };
  if (url.username || url.password) return { title: `${what} must not carry credentials`, problem: `${what} must not carry credentials` };
  const port = url.port === '' ? undefined : Number(url.port);
  if (!allowedHosts.some((h) => h.hostname === url.hostname && h.port === port)) return { title: `${url.host} is not allowed`, problem: `${url.host} is not allowed`, notAllowed: url.host };
  return { url };
}

export interface GuardedRequest {
  readonly origin: string;
  readonly path: string;
  readonly method: 'GET' | 'POST';
  readonly body?: Buffer;
  readonly contentType?: string;
  /** The media types accepted (the first is the one asked for); anything else is a failure. */
  readonly accept: string | readonly string[];
}

/** One request; any transport or HTTP-level problem becomes a reason (`what` names the server), never a throw. */
export async function guardedRequest(
  dispatcher: Dispatcher,
  r: GuardedRequest,
  o: { readonly timeoutMs: number; readonly maxBytes: number; readonly what: string; readonly response: string },
): Promise<Fetched> {
  const accepted = typeof r.accept === 'string' ? [r.accept] : r.accept;
  // One deadline for connect, headers and body; cleared once done, so nothing fires afterwards.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), o.timeoutMs);
  try {
    const res = await dispatcher.request({
      origin: r.origin,
      path: r.path,
      method: r.method,
      headers: { ...(r.contentType ? { 'content-type': r.contentType } : {}), accept: accepted.join(', ') },
      ...(r.body ? { body: r.body } : {}),
      signal: deadline.signal,
    });
    res.body.on('error', () => undefined); // a body given up on below must not surface as uncaught
    if (res.statusCode !== 200) {
      res.body.destroy();
      const redirect = res.statusCode >= 300 && res.statusCode < 400 ? ' (redirects are not followed)' : '';
      return { failed: `${o.what} answered HTTP ${res.statusCode}${redirect}` };
    }
    const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!accepted.includes(type)) {
      res.body.destroy();
      return { failed: `${o.what} answered ${type || 'no content type'}, not ${accepted[0]}` };
    }
    if (Number(res.headers['content-length']) > o.maxBytes) {
      res.body.destroy();
      return { failed: `${o.response} is larger than ${o.maxBytes} bytes` };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > o.maxBytes) {
        res.body.destroy();
        return { failed: `${o.response} is larger than ${o.maxBytes} bytes` };
      }
      chunks.push(chunk);
    }
    return { der: Buffer.concat(chunks) };
  } catch (err) {
    if (deadline.signal.aborted || err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError)
      return { failed: `${o.what} did not answer within ${o.timeoutMs} ms` };
    if (err instanceof undiciErrors.ResponseExceededMaxSizeError) return { failed: `${o.response} is larger than ${o.maxBytes} bytes` };
    const code = (err as { code?: string }).code;
    if (code === PRIVATE_ADDRESS) return { refused: (err as Error).message };
    return { failed: `${o.what} is unreachable${code ? ` (${code})` : ''}` };
  } finally {
    clearTimeout(timer);
  }
}
