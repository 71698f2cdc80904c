import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { Agent, request } from 'undici';
import { OCSP_LIMITS } from '@evpki/ocsp';
import { loadCaConfig } from '@evpki/ca';
import { loadOcspConfig } from '@evpki/ocsp-responder';
import { loadRaConfig } from '@evpki/ra';
import { ConfigError, SERVER_LIMITS, applyServerLimits, loadHttpLimits, readServiceTls, serverOptions, serviceClientTlsOptions, type HttpLimits } from '@evpki/service';
import { api, makeDevPki, startStack, type DevPki, type Stack } from './helpers/pki.js';

/**
 * Issue 7 "Hostile input", limits: body size (RA and CA 16 KiB → 413 problem; OCSP POST over 4096
 * bytes → malformedRequest, as documented: OCSP errors are OCSP statuses), header size (> 16 KiB →
 * 431 problem), and slow clients (headers or body dripped slower than the timeouts, idle
 * connections, a stalled TLS handshake) disconnected. The timeouts are configurable
 * (PKI_HTTP_HEADERS_TIMEOUT_MS, PKI_HTTP_REQUEST_TIMEOUT_MS, PKI_HTTP_KEEP_ALIVE_TIMEOUT_MS), so
 * this stack runs with about a second.
 */

const HTTP_ENV = { PKI_HTTP_HEADERS_TIMEOUT_MS: '1000', PKI_HTTP_REQUEST_TIMEOUT_MS: '2000', PKI_HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000' };

let pki: DevPki;
let stack: Stack;
let token: string;

before(async () => {
  pki = await makeDevPki();
  stack = await startStack(pki, { raEnv: HTTP_ENV, caEnv: HTTP_ENV, ocspEnv: HTTP_ENV });
  token = await stack.token();
});
after(async () => {
  await stack?.stop();
  pki?.cleanup();
});

interface Exchange {
  /** Everything the server sent. */
  readonly received: string;
  /** True when the server closed the connection before the client had sent everything it meant to. */
  readonly cutOff: boolean;
}

/**
 * Opens a connection (TLS with the RA's client certificate for https URLs), sends `head`, then
 * `drip` one byte at a time every `everyMs`, and waits for the server to close the connection
 * (or for the client to run out of bytes and `waitMs` more).
 */
function exchange(url: string, head: string | Buffer, drip = '', everyMs = 100, waitMs = 8000): Promise<Exchange> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    let received = '';
    let sent = 0;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    const socket: Socket =
      u.protocol === 'https:'
        ? tlsConnect({ host: u.hostname, port: Number(u.port), ...serviceClientTlsOptions(readServiceTls(pki.dataDir, 'ra-client')) }, start)
        : connect(Number(u.port), u.hostname, start);
    function start(): void {
      socket.write(head);
      const next = (): void => {
        if (socket.destroyed) return;
        if (sent < drip.length) {
          socket.write(drip[sent++]!);
          timer = setTimeout(next, everyMs);
        } else timer = setTimeout(() => done(false), waitMs);
      };
      timer = setTimeout(next, everyMs);
    }
    const done = (cutOff: boolean): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received, cutOff });
    };
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (received += d));
    socket.on('close', () => done(sent < drip.length || drip.length === 0));
    socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? done(true) : reject(e)));
  });
}

const statusOf = (raw: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);

function assertProblem(raw: string, status: number): { title: string; detail: string } {
  assert.equal(statusOf(raw), status, raw.slice(0, 300));
  assert.match(raw, /\r\ncontent-type: application\/problem\+json/i, raw.slice(0, 300));
  // Every answer has a request id, also those node:http gives before any handler runs.
  assert.match(raw, /\r\nx-request-id: [0-9a-f-]{36}\r\n/i, raw.slice(0, 300));
  const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { title: string; detail: string; status: number };
  assert.equal(body.status, status);
  assert.ok(body.title && body.detail, raw);
  return body;
}

const caAgent = () => new Agent({ connect: serviceClientTlsOptions(readServiceTls(pki.dataDir, 'ra-client')) });

describe('body size', () => {
  it('RA: a JSON body over 16 kb → 413 problem+json', async () => {
    const r = await api(stack, 'PUT', '/v1/stations/cp-big', { serialNumber: 'CP-BIG', allowed: true, model: 'x'.repeat(17 * 1024) });
    assert.equal(r.status, 413, r.text);
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
    assert.match(r.body.detail, /larger than 16kb/);
  });

  it('RA: a declared content-length over the limit is refused before any body byte is read', async () => {
    const u = new URL(stack.raUrl);
    const head = `PUT /v1/stations/cp-big HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n`;
    const x = await exchange(stack.raUrl, head, '', 100, 5000);
    assertProblem(x.received, 413);
  });

  it('CA: a body over 16 KiB → 413 problem+json', async () => {
    const dispatcher = caAgent();
    try {
      const res = await request(`${stack.caUrl}/v1/sign`, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ csr: 'x'.repeat(17 * 1024) }) });
      const text = await res.body.text();
      assert.equal(res.statusCode, 413, text);
      assert.equal(res.headers['content-type'], 'application/problem+json');
      assert.match(JSON.parse(text).detail, /larger than 16384 bytes/);
    } finally {
      await dispatcher.close();
    }
  });

  it(`OCSP: a POST body over ${OCSP_LIMITS.maxRequestBytes} bytes → malformedRequest (HTTP 200, as RFC 6960 errors are), connection closed`, async () => {
    for (const declared of [true, false]) {
      const body = Buffer.alloc(OCSP_LIMITS.maxRequestBytes + 1, 0x30);
      const res = await request(`${stack.ocspUrl}/ocsp`, {
        method: 'POST',
        headers: { 'content-type': 'application/ocsp-request' },
        // Without a content-length (chunked), the limit is found while reading.
        body: declared ? body : Readable.from([body.subarray(0, 3000), body.subarray(3000)]),
      });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'application/ocsp-response');
      assert.equal(res.headers.connection, 'close');
      assert.deepEqual(Buffer.from(await res.body.arrayBuffer()), Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]), 'malformedRequest');
    }
  });
});

describe('header size: more than 16 KiB of headers → 431 problem+json', { concurrency: true }, () => {
  const bigHeaders = (host: string) => `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`;
  for (const [name, url] of [['RA', () => stack.raUrl], ['OCSP responder', () => stack.ocspUrl], ['CA ops port', () => stack.caOpsUrl], ['CA API (TLS)', () => stack.caUrl]] as const) {
    it(name, async () => {
      const x = await exchange(url(), bigHeaders(new URL(url()).host), '', 100, 5000);
      const p = assertProblem(x.received, 431);
      assert.match(p.detail, /16384 bytes/);
    });
  }

  it('a URL over 16 KiB too (an OCSP GET cannot smuggle a huge request)', async () => {
    const x = await exchange(stack.ocspUrl, `GET /ocsp/${'A'.repeat(17 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`, '', 100, 5000);
    assertProblem(x.received, 431);
  });
});

describe('slow clients are disconnected (headers timeout 1 s, request timeout 2 s)', { concurrency: true }, () => {
  const slowHeaders = 'X-Slow: ' + 'a'.repeat(300); // 30 s at one byte per 100 ms
  for (const [name, url] of [['RA', () => stack.raUrl], ['OCSP responder', () => stack.ocspUrl], ['CA ops port', () => stack.caOpsUrl], ['CA API (TLS)', () => stack.caUrl]] as const) {
    it(`${name}: headers sent a byte at a time → 408 problem+json and the connection closed`, async () => {
      const x = await exchange(url(), `GET /healthz HTTP/1.1\r\nHost: ${new URL(url()).host}\r\n`, slowHeaders);
      assert.ok(x.cutOff, 'the server closed the connection while the client was still sending');
      assertProblem(x.received, 408);
    });
  }

  it('RA: a body sent a byte at a time → cut off after the request timeout (408)', async () => {
    const u = new URL(stack.raUrl);
    const body = JSON.stringify({ serialNumber: 'CP-SLOW', allowed: true, model: 'm'.repeat(300) });
    const head = `PUT /v1/stations/cp-slow HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const x = await exchange(stack.raUrl, head, body);
    assert.ok(x.cutOff, 'the server closed the connection while the client was still sending');
    assert.ok(x.received === '' || statusOf(x.received) === 408, x.received.slice(0, 200));
  });

  it('OCSP responder: a POST body sent a byte at a time → cut off after the request timeout', async () => {
    const head = `POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: 300\r\n\r\n`;
    const x = await exchange(stack.ocspUrl, head, '0'.repeat(300));
    assert.ok(x.cutOff, 'the server closed the connection while the client was still sending');
  });

  it('CA API: a stalled TLS handshake is dropped (TLS handshake timeout)', async () => {
    const u = new URL(stack.caUrl);
    // serverOptions() bounds it by the headers timeout; the CA may set its own (10 s) on top.
    const x = await exchange(`http://${u.host}`, Buffer.from([0x16, 0x03, 0x01]), '', 100, 15_000);
    assert.ok(x.cutOff, 'the server closed the connection');
  });

  for (const [name, url] of [['RA', () => stack.raUrl], ['OCSP responder', () => stack.ocspUrl]] as const) {
    it(`${name}: a connection that sends nothing is closed`, async () => {
      const x = await exchange(url(), '', '', 100, 8000);
      assert.ok(x.cutOff, 'the server closed the idle connection');
    });

    it(`${name}: an idle keep-alive connection is closed after the keep-alive timeout (1 s)`, async () => {
      const x = await exchange(url(), `GET /healthz HTTP/1.1\r\nHost: ${new URL(url()).host}\r\n\r\n`, '', 100, 8000);
      assert.equal(statusOf(x.received), 200);
      assert.ok(x.cutOff, 'the server closed the idle connection');
    });
  }
});

describe('PKI_HTTP_* configuration', () => {
  it('defaults: headers 10 s, request 30 s, keep-alive 65 s, 16 KiB of headers, timeouts checked every second', () => {
    const base = { PKI_DATA_DIR: pki.dataDir };
    for (const config of [loadRaConfig(base), loadCaConfig(base), loadOcspConfig(base)]) assert.deepEqual(config.http, SERVER_LIMITS);
    assert.equal(serverOptions().connectionsCheckingInterval, 1000);
    assert.equal(serverOptions().maxHeaderSize, 16 * 1024);
  });

  it('every service reads them; the checking interval follows short timeouts', () => {
    const l = loadHttpLimits(HTTP_ENV);
    assert.deepEqual({ h: l.headersTimeout, r: l.requestTimeout, k: l.keepAliveTimeout }, { h: 1000, r: 2000, k: 1000 });
    for (const config of [loadRaConfig({ PKI_DATA_DIR: pki.dataDir, ...HTTP_ENV }), loadCaConfig({ PKI_DATA_DIR: pki.dataDir, ...HTTP_ENV }), loadOcspConfig({ PKI_DATA_DIR: pki.dataDir, ...HTTP_ENV })]) assert.deepEqual(config.http, l);
    assert.equal(serverOptions(l).connectionsCheckingInterval, 500);
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ['headers timeout below 500 ms', { PKI_HTTP_HEADERS_TIMEOUT_MS: '100' }, /PKI_HTTP_HEADERS_TIMEOUT_MS must be an integer in 500\.\.120000/],
    ['request timeout not a number', { PKI_HTTP_REQUEST_TIMEOUT_MS: '30s' }, /PKI_HTTP_REQUEST_TIMEOUT_MS/],
    ['request timeout shorter than the headers timeout', { PKI_HTTP_HEADERS_TIMEOUT_MS: '5000', PKI_HTTP_REQUEST_TIMEOUT_MS: '2000' }, /must be at least PKI_HTTP_HEADERS_TIMEOUT_MS/],
    ['keep-alive timeout of 0', { PKI_HTTP_KEEP_ALIVE_TIMEOUT_MS: '0' }, /PKI_HTTP_KEEP_ALIVE_TIMEOUT_MS/],
    ['a misspelt variable', { PKI_HTTP_HEADER_TIMEOUT_MS: '1000' }, /unknown configuration variable\(s\): PKI_HTTP_HEADER_TIMEOUT_MS/],
  ];
  for (const [name, env, message] of bad) {
    it(`refused at start: ${name}`, () => {
      for (const load of [loadRaConfig, loadCaConfig, loadOcspConfig]) assert.throws(() => load({ PKI_DATA_DIR: pki.dataDir, ...env }), (e: unknown) => e instanceof ConfigError && message.test(e.message));
    });
  }

  it('RA_CA_CONNECTIONS: the RA\'s connections to the CA, 256 by default, 1-4096, anything else refused naming it', () => {
    assert.equal(loadRaConfig({ PKI_DATA_DIR: pki.dataDir }).caConnections, 256);
    assert.equal(loadRaConfig({ PKI_DATA_DIR: pki.dataDir, RA_CA_CONNECTIONS: '32' }).caConnections, 32);
    for (const v of ['0', '4097', 'many'])
      assert.throws(() => loadRaConfig({ PKI_DATA_DIR: pki.dataDir, RA_CA_CONNECTIONS: v }), (e: unknown) => e instanceof ConfigError && /RA_CA_CONNECTIONS/.test(e.message));
  });

  it('at most maxRequestsPerSocket requests on one connection (then connection: close, and 503 to a client that goes on)', async () => {
    const limits: HttpLimits = { ...SERVER_LIMITS, maxRequestsPerSocket: 2 };
    const server: Server = applyServerLimits(createServer(serverOptions(limits), (_req, res) => res.end('ok')), limits);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const get = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
      const x = await exchange(`http://127.0.0.1:${port}`, get.repeat(3), '', 100, 1000);
      // Node: the last allowed answer says `connection: close`; a client that goes on gets 503.
      const statuses = [...x.received.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
      assert.deepEqual(statuses, ['200', '200', '503'], x.received);
      assert.match(x.received.split('HTTP/1.1 200 OK')[2]!, /connection: close/i, x.received);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
