/**
 * The web console (/console) in a real browser: Debian's chromium driven by playwright-core against a
 * real RA, CA and OCSP responder (test/helpers/pki.ts startStack). An operator signs in with a bearer
 * token, registers and imports stations, finds a certificate signed through the API (an openssl CSR),
 * revokes it with a reason after a confirmation, and `openssl ocsp` sees it revoked; then the dashboard,
 * the CA hierarchy, the audit log with its chain checked in the browser, and OAuth2 client sign-in.
 * Throughout: strict CSP, no console error, no request leaving the RA's origin. Screenshots go to
 * test-results/ (docs/screenshots/ holds two of them for the README).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { pemBlocks, toPem } from '@evpki/x509';
import { buildWebAssets, launchChromium, watchedPage, type WatchedPage } from './helpers/browser.js';
import { openssl, opensslAsync } from './helpers/openssl.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { runPki } from './helpers/processes.js';

let dev: DevPki;
let stack: Stack;
let browser: Browser;
let w: WatchedPage;
let page: Page;
let work: string;
/** The services' clock: the last test moves it past the token's expiry. */
let clockOffsetMs = 0;

/** Console errors other than the browser's own line for an API answer the test provoked on purpose (a 4xx). */
const unexpected = (problems: readonly string[], allowedStatuses: readonly number[] = []): string[] =>
  problems.filter((p) => !allowedStatuses.some((s) => p.includes(`the server responded with a status of ${s}`)));

/** Opens a console route: the first time by loading the page, then by its hash (a reload would sign out: the token is in memory only). */
const go = async (hash: string): Promise<void> => {
  if (!hash) return void (await page.goto(`${stack.raUrl}/console`));
  await page.evaluate(`(() => { const h = ${JSON.stringify(hash)}; if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange')); else location.hash = h; })()`);
};

/** A CSR made by openssl: a fresh P-256 key, O = the CPO name, CN = the station's serial number. */
function opensslCsr(cn: string): string {
  const key = join(work, `${cn}.key`);
  const csr = join(work, `${cn}.csr`);
  assert.equal(openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]).code, 0);
  const r = openssl(['req', '-new', '-key', key, '-subj', `/O=Demo CPO/CN=${cn}`, '-out', csr]);
  assert.equal(r.code, 0, r.stderr);
  return openssl(['req', '-in', csr]).stdout;
}

before(async () => {
  buildWebAssets();
  dev = await makeDevPki();
  stack = await startStack(dev, { now: () => new Date(Date.now() + clockOffsetMs) });
  work = mkdtempSync(join(tmpdir(), 'evpki-console-'));
  // Another tenant with a station of its own: the console signed in as demo must never show it.
  await stack.store.putTenant({ id: 'other', cpoName: 'Other CPO', serverDomains: ['other.test'], disabled: false, createdAt: new Date().toISOString() });
  const other = await api(stack, 'PUT', '/v1/stations/cp-other-1', { serialNumber: 'CP-OTHER-1', allowed: true }, { authorization: `Bearer ${await stack.token('other')}` });
  assert.equal(other.status, 201, other.text);
  browser = await launchChromium();
  w = await watchedPage(browser, stack.raUrl);
  page = w.page;
});
after(async () => {
  await browser?.close();
  await stack?.stop();
  dev?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the console page', () => {
  it('is served with a strict CSP (self only, no inline script or style) and the security headers', async () => {
    const r = await fetch(`${stack.raUrl}/console`);
    assert.equal(r.status, 200);
    const csp = r.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /style-src 'self';/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe|sha256-|nonce-/);
    for (const [h, v] of [['x-content-type-options', 'nosniff'], ['referrer-policy', 'no-referrer'], ['x-frame-options', 'DENY']]) assert.equal(r.headers.get(h!), v, h);
    const html = await r.text();
    assert.doesNotMatch(html, /<script>|<style|style="/, 'no inline script or style');
    // Only the built files are served; the TypeScript declarations next to them are not (the gate refuses the path).
    assert.equal((await fetch(`${stack.raUrl}/console/app.js`)).status, 200);
    assert.equal((await fetch(`${stack.raUrl}/console/app.d.ts`)).status, 401);
  });

  it('signs in with a pasted bearer token, by keyboard; the token is in no URL, cookie or web storage', async () => {
    await go('');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Skip to content');
    const token = await stack.token();
    await page.getByLabel('Bearer token', { exact: true }).focus();
    await page.keyboard.insertText(token);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('navigation', { name: 'Sections' }).waitFor();
    assert.equal(await page.locator('#tenant').textContent(), 'demo');
    assert.doesNotMatch(page.url(), /eyJ/);
    const stored = await page.evaluate('JSON.stringify([document.cookie, Object.keys(localStorage), Object.keys(sessionStorage)])');
    assert.equal(stored, '["",[],[]]');
    // Every form control of the signed-in pages has a label (checked here on the dashboard's and, below, the others').
    assert.deepEqual(unexpected(w.problems), []);
  });

  it('a wrong token is refused with the RA\'s problem, linked to its explanation', async () => {
    const w2 = await watchedPage(browser, stack.raUrl);
    await w2.page.goto(`${stack.raUrl}/console`);
    await w2.page.getByLabel('Bearer token', { exact: true }).fill('eyJhbGciOiJFUzI1NiJ9.eyJ0ZW5hbnQiOiJkZW1vIn0.c2ln');
    await w2.page.getByRole('button', { name: 'Sign in' }).first().click();
    const alert = w2.page.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent())!, /401 Unauthorized/);
    assert.equal(await alert.getByRole('link', { name: 'What this problem type means' }).getAttribute('href'), '/docs/problems#unauthorized');
    assert.deepEqual(unexpected(w2.problems, [401]), []);
    await w2.context.close();
  });
});

describe('stations', () => {
  it('registers a station from the form, and lists only the tenant\'s own', async () => {
    await go('#/stations');
    await page.getByLabel('Station id', { exact: true }).fill('cp-ui-1');
    await page.getByLabel('Serial number (the certificate CN, A00.FR.511)', { exact: true }).fill('CP-UI-1');
    await page.getByLabel('Model', { exact: true }).fill('Demo Wallbox');
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByRole('cell', { name: 'CP-UI-1', exact: true }).waitFor();
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-ui-1')).body.model, 'Demo Wallbox');
    assert.equal(await page.getByText('CP-OTHER-1').count(), 0, "another tenant's station is not shown");
    const unlabelled = await page.$$eval('input, select, textarea', (els) => els.filter((e) => !(e as unknown as { labels?: { length: number } }).labels?.length && !e.getAttribute('aria-label')).map((e) => e.outerHTML));
    assert.deepEqual(unlabelled, []);
  });

  it('imports a CSV with progress, one PUT per row; a refused row names its rule and the others go in', async () => {
    await go('#/stations');
    const csv = 'stationId,serialNumber,model,allowed\ncp-csv-1,CP-CSV-1,Wallbox A,true\ncp-csv-2,192.168.0.10,Wallbox B,true\ncp-csv-3,CP-CSV-3,,false\n';
    await page.getByLabel('CSV file', { exact: true }).setInputFiles({ name: 'stations.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.getByRole('button', { name: 'Import' }).click();
    await page.getByText('2 of 3 stations imported.').waitFor();
    assert.equal(await page.getByRole('progressbar', { name: 'Import progress' }).getAttribute('value'), '3');
    assert.match((await page.getByText(/^line 3 \(cp-csv-2\)/).textContent())!, /A00\.FR\.511/);
    assert.equal(await page.getByRole('link', { name: 'A00.FR.511' }).getAttribute('href'), '/docs/problems#rule-A00.FR.511');
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-csv-3')).body.allowed, false);
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-csv-2')).status, 404);
    assert.deepEqual(unexpected(w.problems, [422]), []);
  });

  it('searches, then disallows and allows a station again', async () => {
    await go('#/stations');
    await page.getByLabel('Search (station id or serial number)', { exact: true }).fill('cp-csv-1');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('table', { name: 'Stations matching “cp-csv-1”' }).waitFor();
    await page.getByRole('button', { name: 'Disallow cp-csv-1' }).click();
    await page.getByRole('button', { name: 'Allow cp-csv-1' }).waitFor();
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-csv-1')).body.allowed, false);
    await page.getByRole('button', { name: 'Allow cp-csv-1' }).click();
    await page.getByRole('button', { name: 'Disallow cp-csv-1' }).waitFor();
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-csv-1')).body.allowed, true);
  });
});

describe('a certificate from an openssl CSR: found, inspected, revoked in the console, revoked at OCSP', () => {
  let serial: string;
  const files = { leaf: '', issuer: '', root: '' };

  before(async () => {
    await registerStation(stack, 'cp-ui-2', 'CP-UI-2');
    const r = await api(stack, 'POST', '/v1/stations/cp-ui-2/certificates', { csr: opensslCsr('CP-UI-2'), certificateType: 'ChargingStationCertificate' });
    assert.equal(r.status, 201, r.text);
    serial = r.body.serialNumber as string;
    const [leaf, issuer] = pemBlocks(r.body.certificateChain as string, 'CERTIFICATE');
    files.leaf = join(work, 'leaf.pem');
    files.issuer = join(work, 'issuer.pem');
    files.root = join(work, 'root.pem');
    writeFileSync(files.leaf, toPem('CERTIFICATE', leaf!));
    writeFileSync(files.issuer, toPem('CERTIFICATE', issuer!));
    writeFileSync(files.root, (await api(stack, 'GET', '/v1/trust-anchors')).body.items[0].certificate as string);
  });

  const ocspStatus = async (): Promise<string> => {
    const r = await opensslAsync(['ocsp', '-issuer', files.issuer, '-cert', files.leaf, '-url', `${stack.ocspUrl}/ocsp`, '-CAfile', files.root, '-verify_other', files.issuer]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr + r.stdout, /Response verify OK/);
    return r.stdout;
  };

  it('is found by station in the certificate search and shows its decoded fields and chain', async () => {
    assert.match(await ocspStatus(), /leaf\.pem: good/);
    await go('#/certificates');
    await page.getByLabel('Station id', { exact: true }).fill('cp-ui-2');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: serial }).click();
    await page.getByRole('heading', { name: new RegExp(`Certificate ${serial}`) }).waitFor();
    const fields = (await page.locator('dl.fields').textContent())!;
    assert.match(fields, /SubjectO=Demo CPO, CN=CP-UI-2/);
    assert.match(fields, /KeyEC P-256/);
    assert.match(fields, /Signatureecdsa-with-SHA256/);
    const extensions = (await page.getByRole('table', { name: 'Extensions' }).textContent())!;
    assert.match(extensions, /Key Usage.*yes.*digitalSignature, keyAgreement/);
    assert.match(extensions, /Extended Key Usage.*clientAuth/);
    assert.match(extensions, /Authority Information Access.*OCSP: http:\/\/127\.0\.0\.1/);
    const chain = await page.locator('ol.chain li').allTextContents();
    assert.equal(chain.length, 3, chain.join(' | '));
    assert.match(chain[1]!, /^issuing \(active\)/);
    assert.match(chain[2]!, /^root/);
    await w.screenshot('console-certificate');
  });

  it('revokes only after the confirmation (Cancel leaves it good), with the chosen reason; OCSP then says revoked', async () => {
    await page.getByLabel('Reason', { exact: true }).selectOption('keyCompromise');
    await page.getByRole('button', { name: 'Revoke…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke this certificate?' });
    await dialog.waitFor();
    assert.match((await dialog.textContent())!, new RegExp(`Serial ${serial} .* reason keyCompromise`));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await api(stack, 'GET', `/v1/certificates/${serial}`)).body.status, 'good');
    await page.getByRole('button', { name: 'Revoke…' }).click();
    await dialog.getByRole('button', { name: 'Revoke now' }).click();
    await page.locator('.badge-revoked').first().waitFor();
    const after = (await api(stack, 'GET', `/v1/certificates/${serial}`)).body;
    assert.deepEqual([after.status, after.revocationReason], ['revoked', 'keyCompromise']);
    const ocsp = await ocspStatus();
    assert.match(ocsp, /leaf\.pem: revoked/);
    assert.match(ocsp, /Reason: keyCompromise/);
    assert.equal(await page.getByRole('button', { name: 'Revoke…' }).count(), 0, 'a revoked certificate offers no revocation');
  });

  it('is listed with status revoked, and counted on the dashboard (GET /v1/summary), with the OCSP answers about it by status', async () => {
    await go('#/certificates?status=revoked');
    await page.getByRole('link', { name: serial }).waitFor();
    await go('#/dashboard');
    const cards = page.locator('ul.cards');
    await cards.waitFor();
    const text = (await cards.textContent())!;
    assert.match(text, /1Revoked/);
    assert.match(text, /1Issued in 30 days/);
    assert.match(text, /0Good certificates/);
    assert.match(text, /[1-9]\d*Stations/);
    const today = new Date().toISOString().slice(0, 10);
    assert.match((await page.getByRole('table', { name: /issued per day/ }).textContent())!, new RegExp(`${today}1`));
    // The two `openssl ocsp` checks above: good before the revocation, revoked after; nothing of the other tenant's.
    const ocsp = page.getByRole('table', { name: /OCSP answers about this tenant's certificates, by status/ });
    const rows = await ocsp.getByRole('row').allTextContents();
    assert.deepEqual(rows.slice(1).map((r) => /^([a-z]+)(\d+)/.exec(r)?.slice(1, 3).join(' ')), ['good 1', 'revoked 1', 'unknown 0', 'mixed 0', 'total 2']);
    assert.equal(await ocsp.getByRole('columnheader').count(), 3);
    await w.screenshot('console-dashboard');
  });
});

describe('CA hierarchy and audit log', () => {
  it('shows each hierarchy with its CAs, states and rotation', async () => {
    await go('#/issuers');
    await page.getByRole('heading', { name: 'Hierarchy csms' }).waitFor();
    const cas = (await page.getByRole('table', { name: 'CAs of csms' }).textContent())!;
    assert.match(cas, /root/);
    assert.match(cas, /issuing/);
    assert.match(cas, /active/);
    await w.screenshot('console-issuers');
  });

  it('lists the tenant\'s audit entries with every hash recomputed in the browser', async () => {
    await go('#/audit');
    const summary = page.getByText(/^Chain verified: \d+ entries/);
    await summary.waitFor();
    const entries = (await page.getByRole('table').first().textContent())!;
    assert.match(entries, /certificate\.revoked/);
    assert.match(entries, /station\.registered/);
    assert.doesNotMatch(entries, /hash mismatch|link broken/);
    assert.doesNotMatch(entries, /cp-other-1/, "another tenant's entries are not shown");
  });

  it('no console error, CSP violation or external request happened in the whole session', () => {
    assert.deepEqual(unexpected(w.problems, [422]), []);
    assert.deepEqual(w.external, []);
  });
});

describe('OAuth2 client sign-in', () => {
  it('signs out, then in with a client id and secret from `pki clients add` (POST /oauth/token)', async () => {
    const added = await runPki(['--data-dir', dev.dataDir, 'clients', 'add', '--tenant', 'demo', '--scope', 'stations:read', '--json'], dev.storeEnv, 60_000);
    assert.equal(added.code, 0, added.stderr);
    const c = JSON.parse(added.stdout) as { clientId: string; clientSecret: string };
    await go('#/stations');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Client id', { exact: true }).fill(c.clientId);
    await page.getByLabel('Client secret', { exact: true }).fill(c.clientSecret);
    await page.getByRole('button', { name: 'Sign in' }).nth(1).click();
    await page.getByRole('navigation', { name: 'Sections' }).waitFor();
    assert.equal(await page.locator('#tenant').textContent(), 'demo');
    // The dashboard (GET /v1/summary needs both list scopes) says which scope the token lacks.
    assert.match((await page.getByRole('alert').textContent())!, /403 Forbidden.*Authz\.scope.*certificates:read/s);
    assert.equal(await page.locator('ul.cards').count(), 0);
    await go('#/stations');
    await page.getByRole('cell', { name: 'CP-UI-1', exact: true }).waitFor();
    // Its scopes allow reading only: a registration is refused with the scope rule.
    await page.getByLabel('Station id', { exact: true }).fill('cp-ui-3');
    await page.getByLabel('Serial number (the certificate CN, A00.FR.511)', { exact: true }).fill('CP-UI-3');
    await page.getByRole('button', { name: 'Register' }).click();
    assert.match((await page.getByRole('alert').textContent())!, /403 Forbidden.*Authz\.scope/s);
    assert.deepEqual(unexpected(w.problems, [403, 422]), []);
  });
});

describe('an expired token', () => {
  it('sends the operator back to the sign-in form at the next call', async () => {
    await go('#/stations');
    await page.getByRole('cell', { name: 'CP-UI-1', exact: true }).waitFor();
    // The RA's clock an hour on: the token (600 s, 30 s leeway) has expired.
    clockOffsetMs = 3_600_000;
    try {
      await go('#/issuers');
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      assert.equal(await page.getByRole('navigation', { name: 'Sections' }).isVisible(), false);
      assert.equal(await page.locator('#status').textContent(), 'the token is no longer accepted: sign in again');
    } finally {
      clockOffsetMs = 0;
    }
    assert.deepEqual(unexpected(w.problems, [401, 403, 422]), []);
  });
});
