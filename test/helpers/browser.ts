import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { TEST_DIR } from './fixtures.js';

/** Debian's chromium (`.ci/run` installs it); CHROMIUM_PATH names another. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where screenshots go (gitignored); two of them are copied by hand into docs/screenshots/ for the README. */
export const RESULTS_DIR = join(TEST_DIR, '..', 'test-results');

/**
 * Builds the RA's web assets as `make build` does (scripts/build-web.mjs: /docs from the current
 * openapi.yaml, the console's files), so a run after `npx tsc -b` alone tests what is in the tree.
 * Call it before the RA starts: it reads them once.
 */
export function buildWebAssets(): void {
  const r = spawnSync(process.execPath, [join(TEST_DIR, '..', 'scripts/build-web.mjs')], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`scripts/build-web.mjs failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  // --no-sandbox: CI runs as root, where chromium's sandbox cannot start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/**
 * A page of a fresh context that records what must not happen: console errors, uncaught exceptions,
 * Content-Security-Policy violations, and any request leaving `origin` (aborted: the pages must work
 * without external network).
 */
export interface WatchedPage {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Console errors, page errors and CSP violations, as text. */
  readonly problems: string[];
  /** URLs the page asked for outside the origin. */
  readonly external: string[];
  screenshot(name: string): Promise<string>;
}

export async function watchedPage(browser: Browser, origin: string): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, reducedMotion: 'reduce' });
  const problems: string[] = [];
  const external: string[] = [];
  await context.route(
    (url) => url.origin !== origin && url.protocol !== 'data:',
    async (route) => {
      external.push(route.request().url());
      await route.abort();
    },
  );
  // Injected by the browser, not by the page: the page's own CSP does not apply to it.
  await context.addInitScript({
    content: "document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`));",
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return {
    page,
    context,
    problems,
    external,
    async screenshot(name) {
      mkdirSync(RESULTS_DIR, { recursive: true });
      const path = join(RESULTS_DIR, `${name}.png`);
      await page.screenshot({ path, fullPage: false });
      return path;
    },
  };
}
