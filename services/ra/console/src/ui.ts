import { ApiError, type Page } from './api.js';
import { h } from './dom.js';

/** Announces a short message to screen readers and shows it (the live region in index.html). */
export function announce(message: string): void {
  const el = document.getElementById('status');
  if (el) el.textContent = message;
}

/**
 * An error as the operator needs it: the problem's title and detail, its type linked to its
 * explanation (/docs/problems#kind) and each violated rule linked to the rule catalogue.
 */
export function errorBox(e: unknown): HTMLElement {
  if (!(e instanceof ApiError)) return h('div', { class: 'error', role: 'alert' }, h('strong', {}, 'Error: '), e instanceof Error ? e.message : String(e));
  const p = e.problem;
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('strong', {}, `${p.status ?? e.status} ${p.title ?? 'Error'}`),
    p.detail ? h('p', {}, p.detail) : null,
    p.violations?.length
      ? h('ul', {}, ...p.violations.map((v) => h('li', {}, h('a', { href: `/docs/problems#rule-${v.rule}` }, v.rule), `: ${v.message}`)))
      : null,
    p.type?.startsWith('/docs/') ? h('p', {}, h('a', { href: p.type }, 'What this problem type means')) : null,
  );
}

/** Runs `work` with the button disabled and its errors shown in `where`. */
export async function busy(button: HTMLButtonElement | null, where: HTMLElement, work: () => Promise<void>): Promise<void> {
  if (button) button.disabled = true;
  where.replaceChildren();
  try {
    await work();
  } catch (e) {
    where.replaceChildren(errorBox(e));
  } finally {
    if (button) button.disabled = false;
  }
}

export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `badge badge-${status}` }, status);
}

/**
 * A list's cursor paging: `load(true)` shows the first page, `load(false)` the next (the returned
 * "Next page" button, shown while there is one). A search answering after a later one is dropped,
 * so it does not overwrite it.
 */
export function pager<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>, show: (page: Page<T>) => void, errors: HTMLElement) {
  const more = h('button', { type: 'button', hidden: true }, 'Next page');
  let cursor: string | undefined;
  let loads = 0;
  async function load(reset: boolean): Promise<void> {
    if (reset) cursor = undefined;
    const mine = ++loads;
    const page = await fetchPage(cursor);
    if (mine !== loads) return;
    cursor = page.nextCursor;
    more.hidden = !cursor;
    show(page);
  }
  more.addEventListener('click', () => void busy(more, errors, () => load(false)));
  return { load, more };
}
