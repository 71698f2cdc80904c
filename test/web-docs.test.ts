/**
 * The RA's public pages in a real browser (Debian's chromium through playwright-core): /docs, the API
 * reference built from openapi.yaml at `make build` (scripts/build-web.mjs), and /docs/problems, where
 * every problem `type` and every rule ID an error body names is explained. Both under their strict
 * Content-Security-Policy, without external network, without a console error.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Browser } from 'playwright-core';
import { AUTHZ_RULES, PROBLEM_TYPES } from '@evpki/service';
import { RULE_CATALOGUE, Rule } from '@evpki/policy';
import { LIST_RULES, ROUTE_RULE } from '@evpki/ra';
import { buildWebAssets, launchChromium, watchedPage } from './helpers/browser.js';
import { TEST_DIR } from './helpers/fixtures.js';
import { api, makeDevPki, requestJson, startStack, type DevPki, type Stack } from './helpers/pki.js';

const ROOT = join(TEST_DIR, '..');

/**
 * The rule IDs written as literals in the services and libraries (pathval's RFC 5280 sections, the
 * EST, token, manufacturer and tenant rules): each needs its catalogue row too, so a new one
 * without its explanation fails here.
 */
function ruleLiteralsInSource(): string[] {
  const found = new Set<string>();
  const family = /'((?:RFC5280|PATHVAL|EST|Manufacturer|Token|DataTransfer|Tenant|V2G|List|Authz|PnC|RateLimit|Issuance)[-.][A-Za-z0-9.()_-]+)'/g;
  for (const top of ['libs', 'services'])
    for (const pkg of readdirSync(join(ROOT, top))) {
      let files: string[];
      try {
        files = readdirSync(join(ROOT, top, pkg, 'src'), { recursive: true }) as string[];
      } catch {
        continue;
      }
      for (const f of files.filter((n) => n.endsWith('.ts'))) for (const m of readFileSync(join(ROOT, top, pkg, 'src', f), 'utf8').matchAll(family)) found.add(m[1]!);
    }
  return [...found];
}

/** "GET /v1/stations" for each operation of openapi.yaml, with its operationId. */
function openapiOperations(): { route: string; operationId: string }[] {
  const spec = parse(readFileSync(join(ROOT, 'openapi.yaml'), 'utf8')) as { paths: Record<string, Record<string, { operationId?: string }>> };
  return Object.entries(spec.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([m]) => ['get', 'put', 'post', 'delete', 'patch'].includes(m))
      .map(([m, op]) => ({ route: `${m.toUpperCase()} ${path}`, operationId: op.operationId ?? '' })),
  );
}

let dev: DevPki;
let stack: Stack;
let browser: Browser;

before(async () => {
  buildWebAssets();
  dev = await makeDevPki();
  stack = await startStack(dev);
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
  dev?.cleanup();
});

describe('/docs: the API reference of openapi.yaml', () => {
  it('is served with its own CSP (no unsafe-inline, no unsafe-eval) and the security headers, from built assets only', async () => {
    const r = await fetch(`${stack.raUrl}/docs`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /^text\/html/);
    const csp = r.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'( 'sha256-[^']+')*;/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    const html = await r.text();
    assert.doesNotMatch(html, /https:\/\/cdn\./, 'nothing from a CDN');
  });

  it('renders every operation of openapi.yaml, without CSP violations, console errors or external requests', async () => {
    const w = await watchedPage(browser, stack.raUrl);
    await w.page.goto(`${stack.raUrl}/docs`);
    const operations = openapiOperations();
    assert.ok(operations.length >= 15, `openapi.yaml has ${operations.length} operations`);
    // Each tag's section lists its operations as links (method tag + path); every operation of openapi.yaml must be there.
    const listed = 'document.querySelectorAll(\'[data-testid="items-navigation-list"] a[href^="#/"]\')';
    // Redoc renders the tag sections as they scroll into view: scroll down in steps (from the top again
    // at the end, for a section a busy machine rendered late) until every operation is listed.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const n = await w.page.evaluate<number>(`(() => { const n = ${listed}.length; if (window.innerHeight + window.scrollY >= document.body.scrollHeight - 2) window.scrollTo(0, 0); else window.scrollBy(0, window.innerHeight / 2); return n; })()`);
      if (n >= operations.length) break;
      await w.page.waitForTimeout(100);
    }
    const rendered = await w.page.$$eval('[data-testid="items-navigation-list"] a[href^="#/"]', (links) =>
      links.map((a) => `${a.querySelector('[data-component-name="Tag/Tag"]')?.textContent?.trim().toUpperCase()} ${a.querySelector('button > span > span')?.textContent?.trim()}`),
    );
    assert.deepEqual([...new Set(rendered)].sort(), operations.map((o) => o.route).sort(), 'each openapi.yaml operation is listed in /docs');
    // And its own section opens on its link: the description of one operation, from openapi.yaml.
    await w.page.goto(`${stack.raUrl}/docs#/certificates/listexpiringcertificates`);
    await w.page.getByText('/v1/certificates/expiring', { exact: false }).first().waitFor({ timeout: 15_000 });
    await w.screenshot('docs');
    assert.deepEqual(w.problems, []);
    assert.deepEqual(w.external, []);
    await w.context.close();
  });
});

describe('/docs/problems: problem types and the rule catalogue', () => {
  it('an error body links to its explanation: its type resolves (against the RA) to a row of /docs/problems, each violated rule to a catalogue row', async () => {
    // A reason a tenant may not revoke with (RFC5280-5.3.1).
    const r = await api(stack, 'POST', '/v1/certificates/0a/revoke', { reason: 'certificateHold' });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.type, '/docs/problems#policy');
    assert.deepEqual(r.body.violations.map((v: { rule: string }) => v.rule), ['RFC5280-5.3.1']);
    const link = new URL(r.body.type as string, `${stack.raUrl}/v1/certificates/0a/revoke`);
    assert.equal(link.pathname, '/docs/problems');
    const page = await fetch(link);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-security-policy'), "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    const html = await page.text();
    assert.match(html, new RegExp(`<tr id="${link.hash.slice(1)}">`));
    for (const v of r.body.violations as { rule: string }[]) assert.ok(html.includes(`<tr id="rule-${v.rule}">`), `rule ${v.rule} has its catalogue row`);
  });

  it('lists every problem kind and every rule ID the code can name (Rule, AUTHZ_RULES, ROUTE_RULE, LIST_RULES), in the browser without console errors', async () => {
    const ruleIds = [...new Set([...Object.values(Rule), ...Object.values(AUTHZ_RULES), ...Object.values(LIST_RULES), ROUTE_RULE, ...ruleLiteralsInSource()])];
    const catalogued = new Set(RULE_CATALOGUE.map((e) => e.rule));
    assert.deepEqual(ruleIds.filter((id) => !catalogued.has(id)), [], 'every rule ID has a catalogue entry');
    const w = await watchedPage(browser, stack.raUrl);
    await w.page.goto(`${stack.raUrl}/docs/problems`);
    const ids = new Set(await w.page.$$eval('tr[id]', (rows) => rows.map((r) => r.id)));
    for (const p of PROBLEM_TYPES) assert.ok(ids.has(p.kind), `problem ${p.kind}`);
    for (const id of ruleIds) assert.ok(ids.has(`rule-${id}`), `rule ${id}`);
    // Every row says what the rule means and where it comes from.
    const empty = await w.page.$$eval('tr[id^="rule-"]', (rows) => rows.filter((r) => [...r.querySelectorAll('td')].some((td) => !td.textContent?.trim())).map((r) => r.id));
    assert.deepEqual(empty, []);
    assert.deepEqual(w.problems, []);
    await w.context.close();
  });

  it('a 404 of the RA itself (no such route) also links to its problem type', async () => {
    const r = await requestJson(`${stack.raUrl}/v1/nothing-here`, 'GET', undefined, { authorization: `Bearer ${await stack.token()}` });
    assert.equal(r.status, 404);
    assert.equal(r.body.type, '/docs/problems#not-found');
  });
});
