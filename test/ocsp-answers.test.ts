/**
 * How the RA reads a tenant's OCSP answers from the responders' /metrics (services/ra/src/ocsp-answers.ts):
 * the exposition parsed by label (escapes, exact tenant), and a URL whose host name has several
 * addresses (a Kubernetes headless Service: one per responder pod) read at each of them, here two
 * real HTTP servers on 127.0.0.1 and 127.0.0.2 (the name's resolution is given, as DNS would answer it).
 * The API end to end: summary-api.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createLogger } from '@evpki/service';
import { createOcspAnswers, tenantAnswersIn } from '@evpki/ra';

const series = (tenant: string, status: string, n: number, worker = '0') => `pki_ocsp_responses_total{status="${status}",source="presigned",method="POST",tenant="${tenant}",worker="${worker}"} ${n}`;

describe('tenantAnswersIn', () => {
  it('sums the tenant\'s series by status, over sources, methods and workers; exact tenant only; other metrics ignored', () => {
    const text = [
      '# HELP pki_ocsp_responses_total OCSP answers',
      '# TYPE pki_ocsp_responses_total counter',
      series('demo', 'good', 2, '0'),
      series('demo', 'good', 3, '1'),
      series('demo', 'revoked', 1),
      series('demo', 'mixed', 4),
      series('demo-2', 'good', 50),
      series('dem', 'good', 60),
      'pki_ocsp_responses_total{status="good",source="live",method="GET",tenant="demo\\\\",worker="0"} 70',
      'pki_ocsp_responses_total{status="good",source="live",method="GET",tenant="x\\",tenant=\\"demo",worker="0"} 80',
      series('', 'malformedRequest', 9),
      series('demo', 'tryLater', 9),
      'pki_ocsp_http_requests_total{route="POST /ocsp",status="200",tenant="demo"} 100',
      'xpki_ocsp_responses_total{status="good",source="live",method="GET",tenant="demo"} 100',
      'pki_ocsp_responses_total{status="unknown",source="live",method="GET",tenant="demo"} 1 1733300000000',
    ].join('\n');
    assert.deepEqual(tenantAnswersIn(text, 'demo'), { good: 5, revoked: 1, unknown: 1, mixed: 4 });
    assert.deepEqual(tenantAnswersIn(text, 'x'), { good: 0, revoked: 0, unknown: 0, mixed: 0 });
    assert.deepEqual(tenantAnswersIn('', 'demo'), { good: 0, revoked: 0, unknown: 0, mixed: 0 });
  });
});

describe('createOcspAnswers: one responder per address of a host name', () => {
  const servers: Server[] = [];
  const up = [true, true];
  let port = 0;
  before(async () => {
    for (const [i, host] of ['127.0.0.1', '127.0.0.2'].entries()) {
      const s = createServer((_req, res) => (up[i] ? res.writeHead(200).end(series('demo', 'good', i + 1)) : res.writeHead(500).end()));
      await new Promise<void>((resolve, reject) => s.once('error', reject).listen(port, host, resolve));
      port = (s.address() as { port: number }).port;
      servers.push(s);
    }
  });
  after(async () => {
    for (const s of servers) await new Promise((resolve) => s.close(resolve));
  });
  const answers = () =>
    createOcspAnswers({ urls: [`http://ocsp-metrics.test:${port}/metrics`], timeoutMs: 2000, log: createLogger('ra', 'silent'), resolve4: async () => ['127.0.0.2', '127.0.0.1'] });

  it('reads every address and sums them', async () => {
    assert.deepEqual(await answers().forTenant('demo'), { available: true, responders: 2, total: 3, byStatus: { good: 3, revoked: 0, unknown: 0, mixed: 0 } });
  });

  it('one address failing makes the OCSP part unavailable, naming how many (not which)', async () => {
    up[1] = false;
    try {
      const a = await answers().forTenant('demo');
      assert.deepEqual(a, { available: false, reason: 'the metrics of 1 of 2 OCSP responder(s) could not be read' });
    } finally {
      up[1] = true;
    }
  });
});
