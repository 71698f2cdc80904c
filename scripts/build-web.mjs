#!/usr/bin/env node
// `make build` after `tsc -b`: the static assets the RA serves, under services/ra/dist/web/ (the image
// copies services/*/dist, so they ship with it):
//   docs/     the API reference of openapi.yaml (Redoc, rendered by `redocly build-docs`), with the Redoc
//             bundle served from here (no CDN) and docs/csp.txt: the page's Content-Security-Policy,
//             with the hashes of the few inline scripts and styles Redoc's prerendered page keeps.
//   console/  the web console: services/ra/console/static/* next to the JavaScript tsc compiled there.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WEB = join(ROOT, 'services/ra/dist/web');
const REDOC_BUNDLE = join(ROOT, 'node_modules/@redocly/cli/lib/chunks/redoc.standalone.js');

/** The attribution's logo, drawn here: the word Redocly. */
const LOGO = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="16" viewBox="0 0 64 16"><text x="0" y="12" font-family="sans-serif" font-size="12" font-weight="bold" fill="#5c4ee5">Redocly</text></svg>\n';

const sha256 = (text) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

function fail(message) {
  console.error(`build-web: ${message}`);
  process.exit(1);
}

function buildDocs() {
  const out = join(WEB, 'docs');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'evpki-docs-'));
  try {
    const html = join(tmp, 'redoc.html');
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules/@redocly/cli/bin/cli.js'), 'build-docs', join(ROOT, 'openapi.yaml'), '-o', html, '--openapi.disableTelemetry=true', '--openapi.hideDownloadButtons=false'],
      { encoding: 'utf8', env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } },
    );
    if (r.status !== 0) fail(`redocly build-docs failed:\n${r.stdout}\n${r.stderr}`);
    let page = readFileSync(html, 'utf8');
    // The bundle from node_modules, not the CDN: drop the preload, load the module from /docs.
    page = page.replace(/<link rel="modulepreload" href="https:\/\/cdn\.redocly\.com[^>]*>/g, '');
    const module = /<script type="module">([\s\S]*?)<\/script>/.exec(page);
    if (!module) fail('the Redoc page has no module script (redocly changed its template?)');
    // Redoc's search index would build its Web Worker with Function() (eval), which the CSP forbids:
    // without Worker it indexes on the main thread (the import is hoisted; hydrate runs after this line).
    const noWorker = "Object.defineProperty(globalThis, 'Worker', { value: undefined, configurable: true });\n";
    const init = noWorker + module[1].replace(/from\s+"https:\/\/cdn\.redocly\.com\/[^"]*redoc\.standalone\.js"/, 'from "/docs/redoc.standalone.js"');
    if (init === noWorker + module[1]) fail('the Redoc module script does not import redoc.standalone.js from the CDN (redocly changed its template?)');
    page = page.replace(module[0], '<script type="module" src="/docs/redoc-init.js"></script>');
    if (/https:\/\/cdn\.redocly\.com\/redoc/.test(page)) fail('the Redoc page still loads Redoc from the CDN');
    // What stays inline (Redoc's colour-mode snippet, the prerendered styles and style attributes) is
    // allowed by its hash: no 'unsafe-inline'.
    const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => sha256(m[1]));
    const styles = [...page.matchAll(/<style[^>]*>([\s\S]*?)<\/style>/g)].map((m) => sha256(m[1]));
    const attrs = [...new Set([...page.matchAll(/ style="([^"]*)"/g)].map((m) => m[1].replaceAll('&quot;', '"').replaceAll('&amp;', '&')))].map(sha256);
    const csp = [
      "default-src 'self'",
      `script-src 'self' ${[...new Set(scripts)].join(' ')}`.trim(),
      // styled-components adds its (empty, then CSSOM-filled) <style> element at run time: the empty hash.
      `style-src 'self' 'unsafe-hashes' ${[...new Set([...styles, ...attrs, sha256('')])].join(' ')}`,
      "img-src 'self' data:",
      "font-src 'self' data:",
      "connect-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; ');
    writeFileSync(join(out, 'index.html'), page);
    writeFileSync(join(out, 'redoc-init.js'), init);
    // The bundle's "API docs by Redocly" attribution loads its logo from cdn.redoc.ly: a local one instead.
    const bundle = readFileSync(REDOC_BUNDLE, 'utf8').replace(/https:\/\/cdn\.redoc\.ly\/redoc\/logo-mini(-full)?\.svg/g, '/docs/redocly-logo.svg');
    if (/https:\/\/cdn\.redoc\.ly\/redoc\/logo/.test(bundle)) fail('the Redoc bundle still loads its logo from the CDN');
    writeFileSync(join(out, 'redoc.standalone.js'), bundle);
    writeFileSync(join(out, 'redocly-logo.svg'), LOGO);
    writeFileSync(join(out, 'csp.txt'), csp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function buildConsole() {
  const src = join(ROOT, 'services/ra/console/static');
  const out = join(WEB, 'console');
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(src)) copyFileSync(join(src, f), join(out, f));
  if (!readdirSync(out).includes('app.js')) fail('services/ra/dist/web/console/app.js is missing: run `npx tsc -b` first');
}

buildDocs();
buildConsole();
console.log(`build-web: ${WEB}/{docs,console}`);
