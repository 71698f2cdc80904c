import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Response } from 'express';
import { RULE_CATALOGUE } from '@evpki/policy';
import { PROBLEM_TYPES } from '@evpki/service';
import type { OpsRoute } from './ops-routes.js';

/** Where scripts/build-web.mjs (`make build`) writes the API reference and the console: dist/web. */
export const WEB_DIR = fileURLToPath(new URL('./web/', import.meta.url));

/** The console's and the problem page's policy: nothing but this origin, no inline script or style. */
export const STRICT_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Every web answer's headers besides its CSP. */
const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** /docs/problems: each problem `type` (its anchor is the kind) and the rule catalogue. */
export function problemsPage(): string {
  const problems = PROBLEM_TYPES.map(
    (p) => `<tr id="${p.kind}"><th scope="row"><code>${p.kind}</code></th><td>${p.status}</td><td>${escapeHtml(p.title)}</td><td>${escapeHtml(p.description)}</td></tr>`,
  ).join('\n');
  const rules = RULE_CATALOGUE.map(
    (r) => `<tr id="rule-${escapeHtml(r.rule)}"><th scope="row"><code>${escapeHtml(r.rule)}</code></th><td>${escapeHtml(r.meaning)}</td><td>${escapeHtml(r.source)}</td></tr>`,
  ).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Problem types and rules · EV PKI RA</title><link rel="stylesheet" href="/console/console.css"></head>
<body><main class="page">
<h1>Problem types and rules</h1>
<p>Every error of the RA is <code>application/problem+json</code> (RFC 9457). Its <code>type</code> is
<code>/docs/problems#&lt;kind&gt;</code>, a link to its row below; a policy refusal lists <code>violations</code>,
each naming a rule ID of the <a href="#rules">rule catalogue</a>. The API itself: <a href="/docs">API reference</a>.</p>
<h2 id="types">Problem types</h2>
<table><thead><tr><th scope="col">type</th><th scope="col">status</th><th scope="col">title</th><th scope="col">when</th></tr></thead>
<tbody>
${problems}
</tbody></table>
<h2 id="rules">Rule catalogue</h2>
<table><thead><tr><th scope="col">rule</th><th scope="col">meaning</th><th scope="col">source</th></tr></thead>
<tbody>
${rules}
</tbody></table>
</main></body></html>
`;
}

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly csp: string;
}

/** The files of one built directory, by name (read once: they change only with a new build). */
function assetsOf(dir: string, csp: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) out.set(name, { type, body: readFileSync(join(dir, name)), csp });
  }
  return out;
}

function send(res: Response, a: Asset): void {
  res.set({ ...SECURITY_HEADERS, 'content-security-policy': a.csp, 'content-type': a.type, 'cache-control': 'no-cache' }).send(a.body);
}

/**
 * The RA's web pages, before the bearer token gate (they are public; the console asks the API with
 * the token the operator gives it): /docs (the API reference, built from openapi.yaml), /docs/problems
 * (problem types and rules, rendered here from the code), /console and its assets. Each path is
 * exact, so the metrics label stays bounded. Without a build of the assets, /docs and /console answer
 * 503 naming `make build`.
 */
export function webRoutes(dir: string = WEB_DIR): readonly OpsRoute[] {
  const docsDir = join(dir, 'docs');
  const docsCsp = existsSync(join(docsDir, 'csp.txt')) ? readFileSync(join(docsDir, 'csp.txt'), 'utf8').trim() : STRICT_CSP;
  const docs = assetsOf(docsDir, docsCsp);
  const console = assetsOf(join(dir, 'console'), STRICT_CSP);
  const routes: OpsRoute[] = [];
  const route = (path: string, asset: Asset | undefined): void => {
    routes.push({
      path,
      label: `GET ${path}`,
      handle: async (_req, res) => {
        if (asset) return send(res, asset);
        res.status(503).set({ ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' }).send('the web assets are not built: run `make build` (scripts/build-web.mjs)\n');
      },
    });
  };
  route('/docs', docs.get('index.html'));
  for (const [name, a] of docs) if (name !== 'index.html' && name !== 'csp.txt') route(`/docs/${name}`, a);
  route('/docs/problems', { type: TYPES['.html']!, body: Buffer.from(problemsPage()), csp: STRICT_CSP });
  route('/console', console.get('index.html'));
  for (const [name, a] of console) if (name !== 'index.html') route(`/console/${name}`, a);
  return routes;
}
