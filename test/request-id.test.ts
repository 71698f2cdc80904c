/**
 * Request ids and log lines (the issue "Ship it"): X-Request-Id accepted from the caller when it
 * matches the safe pattern, else generated, on every RA answer (success, problem+json, 401, 404,
 * 405); the same id on the RA's and the CA's log lines of one issuance and one revocation (the RA
 * forwards it to the CA); level names and ISO timestamps in JSON, and the pretty format.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { REQUEST_ID_PATTERN, createLogger, logFormat, prettyLine } from '@evpki/service';
import { newP256Csr } from './helpers/csr.js';
import { api, makeDevPki, registerStation, requestJson, startStack, type DevPki, type Stack } from './helpers/pki.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

type Line = Record<string, unknown>;

describe('X-Request-Id and log lines, on the in-process stack', () => {
  let pki: DevPki;
  let stack: Stack;
  const raLines: Line[] = [];
  const caLines: Line[] = [];

  before(async () => {
    pki = await makeDevPki();
    stack = await startStack(pki, {
      logger: createLogger('ra', 'info', { write: (l: string) => void raLines.push(JSON.parse(l) as Line) }, 'json'),
      caLogger: createLogger('ca', 'info', { write: (l: string) => void caLines.push(JSON.parse(l) as Line) }, 'json'),
    });
  });
  after(async () => {
    await stack?.stop();
    pki?.cleanup();
  });

  it("a caller's id that matches the pattern is echoed on every answer: 200, 401, 404, 405, 422", async () => {
    const id = 'csms-7f3a:req.42_x';
    assert.match(id, REQUEST_ID_PATTERN);
    const ok = await api(stack, 'GET', '/v1/trust-anchors', undefined, { 'x-request-id': id });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-request-id'), id);
    const anonymous = await requestJson(`${stack.raUrl}/v1/trust-anchors`, 'GET', undefined, { 'x-request-id': id });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('x-request-id'), id);
    const unknown = await api(stack, 'GET', '/v1/nothing-here', undefined, { 'x-request-id': id });
    assert.equal(unknown.status, 404);
    assert.match(unknown.headers.get('content-type') ?? '', /problem\+json/);
    assert.equal(unknown.headers.get('x-request-id'), id);
    const method = await api(stack, 'DELETE', '/v1/trust-anchors', undefined, { 'x-request-id': id });
    assert.equal(method.status, 405);
    assert.equal(method.headers.get('x-request-id'), id);
    const invalid = await api(stack, 'POST', '/v1/stations/rid-0/certificates', { csr: 'nope' }, { 'x-request-id': id });
    assert.ok(invalid.status >= 400 && invalid.status < 500, String(invalid.status));
    assert.equal(invalid.headers.get('x-request-id'), id);
    const probe = await requestJson(`${stack.raUrl}/healthz`, 'GET', undefined, { 'x-request-id': id });
    assert.equal(probe.headers.get('x-request-id'), id);
  });

  it('without one, or with one outside the pattern, a new UUID is answered (a different one each time)', async () => {
    const a = await api(stack, 'GET', '/v1/trust-anchors');
    const b = await api(stack, 'GET', '/v1/trust-anchors');
    assert.match(a.headers.get('x-request-id') ?? '', UUID);
    assert.match(b.headers.get('x-request-id') ?? '', UUID);
    assert.notEqual(a.headers.get('x-request-id'), b.headers.get('x-request-id'));
    for (const refused of ['has space', 'x'.repeat(129), 'semi;colon', '{"json":1}', 'ünicode', '']) {
      assert.doesNotMatch(refused, REQUEST_ID_PATTERN);
      const r = await api(stack, 'GET', '/v1/trust-anchors', undefined, { 'x-request-id': refused });
      assert.match(r.headers.get('x-request-id') ?? '', UUID, `"${refused}" replaced`);
    }
    assert.match('x'.repeat(128), REQUEST_ID_PATTERN);
  });

  it('one issuance and one revocation: the same id on the RA and the CA log lines, an info line each', async () => {
    await registerStation(stack, 'rid-1', 'CP-RID-1');
    const issue = await api(stack, 'POST', '/v1/stations/rid-1/certificates', { csr: newP256Csr('CP-RID-1').csr, certificateType: 'ChargingStationCertificate' }, { 'x-request-id': 'issue-rid-1' });
    assert.equal(issue.status, 201, issue.text);
    const serial = issue.body.serialNumber as string;
    const revoke = await api(stack, 'POST', `/v1/certificates/${serial}/revoke`, { reason: 'keyCompromise' }, { 'x-request-id': 'revoke-rid-1' });
    assert.equal(revoke.status, 200, revoke.text);

    const one = (lines: Line[], event: string, id: string): Line => {
      const found = lines.filter((l) => l.event === event && l.requestId === id);
      assert.equal(found.length, 1, `one ${event} line with requestId ${id}: ${JSON.stringify(lines.filter((l) => l.event === event))}`);
      return found[0]!;
    };
    for (const lines of [raLines, caLines]) {
      const issued = one(lines, 'certificate.issued', 'issue-rid-1');
      assert.equal(issued.level, 'info');
      assert.equal(issued.serial, serial);
      assert.equal(issued.stationId, 'rid-1');
      const revoked = one(lines, 'certificate.revoked', 'revoke-rid-1');
      assert.equal(revoked.level, 'info');
      assert.equal(revoked.serial, serial);
    }
    assert.equal(raLines.find((l) => l.event === 'certificate.issued')!.name, 'ra');
    assert.equal(caLines.find((l) => l.event === 'certificate.issued')!.name, 'ca');
  });

  it("the responder's delegated-signer request to the CA has an id of its own, on the responder's and the CA's lines", () => {
    const installed = raLines.find((l) => l.event === 'ocsp-signer.installed'); // the responder logs with the stack's logger
    assert.ok(installed, 'the responder installed a signer');
    assert.match(String(installed.requestId), UUID);
    const issued = caLines.find((l) => l.event === 'ocsp-signer.issued' && l.requestId === installed.requestId);
    assert.ok(issued, `no CA line under ${String(installed.requestId)}`);
  });

  it('JSON lines: level names, ISO 8601 UTC time; a line outside a request has no requestId', () => {
    assert.ok(raLines.length > 0 && caLines.length > 0);
    for (const l of [...raLines, ...caLines]) {
      assert.ok(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(l.level as string), `level ${String(l.level)}`);
      assert.match(l.time as string, ISO_TIME);
    }
    const listening = raLines.find((l) => l.msg === 'RA listening')!;
    assert.equal(listening.requestId, undefined);
  });
});

describe('log formats (LOG_FORMAT)', () => {
  it('json by default, pretty on request, anything else refused naming the variable', () => {
    assert.equal(logFormat(undefined), 'json');
    assert.equal(logFormat(''), 'json');
    assert.equal(logFormat('json'), 'json');
    assert.equal(logFormat('pretty'), 'pretty');
    assert.throws(() => logFormat('yaml'), /LOG_FORMAT must be json or pretty, got "yaml"/);
  });

  it('pretty: time, level name, service, request id, message, then the other fields; credentials still redacted', async () => {
    const out: string[] = [];
    const log = createLogger('ra', 'info', { write: (l: string) => void out.push(l) }, 'pretty');
    log.info({ event: 'certificate.issued', serial: '0a', token: 'secret-token' }, 'certificate issued');
    await new Promise((r) => setImmediate(r));
    assert.equal(out.length, 1);
    assert.match(out[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}ra certificate issued \{"event":"certificate\.issued","serial":"0a","token":"\[redacted\]"\}\n$/);
    assert.doesNotMatch(out[0]!, /secret-token/);
    assert.equal(
      prettyLine('{"level":"warn","time":"2026-01-02T03:04:05.006Z","name":"ca","requestId":"r-1","msg":"store unavailable","route":"POST /v1/sign"}'),
      '2026-01-02T03:04:05.006Z WARN  ca [r-1] store unavailable {"route":"POST /v1/sign"}\n',
    );
    assert.equal(prettyLine('not json'), 'not json\n');
  });
});
