import { api, type AuditEntry } from './api.js';
import { h, mount, shortDate, table } from './dom.js';
import { busy } from './ui.js';

/** The store's canonical JSON (libs/store audit.ts): keys sorted, absent fields left out. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** auditEntryHash of libs/store, recomputed here: SHA-256 over the versioned canonical fields. */
export async function entryHash(e: AuditEntry): Promise<string> {
  const fields = { v: 1, seq: e.seq, at: e.at, prevHash: e.prevHash, event: e.event, actor: e.actor, outcome: e.outcome, tenant: e.tenant, rules: e.rules, details: e.details };
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonicalJson(fields)));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The tenant's audit entries with their chain checked in the browser: each entry's hash recomputed,
 * and each link to the entry before it when that one is the tenant's too (other tenants' entries sit
 * between; `pki audit verify` checks the whole chain).
 */
export async function audit(main: HTMLElement): Promise<void> {
  const results = h('div', {});
  const summary = h('p', { role: 'status' });
  const errors = h('div', {});
  const more = h('button', { type: 'button', hidden: true }, 'Next page');
  let after = 0;
  let prev: AuditEntry | undefined;
  let checked = 0;
  let bad = 0;
  let links = 0;

  async function load(): Promise<void> {
    if (!crypto.subtle) throw new Error('the browser offers no WebCrypto here (plain HTTP to a host other than localhost): the chain cannot be checked');
    const page = await api<{ items: AuditEntry[]; next: number | null }>('GET', `/v1/audit?after=${after}&limit=100`);
    const rows = [];
    for (const e of page.items) {
      const hashOk = (await entryHash(e)) === e.hash;
      const linked = prev && prev.seq === e.seq - 1 ? e.prevHash === prev.hash : undefined;
      checked++;
      if (!hashOk || linked === false) bad++;
      if (linked) links++;
      rows.push([e.seq, shortDate(e.at), e.event, e.outcome, e.actor, (e.rules ?? []).join(' '),
        h('span', { class: 'mono' }, e.details ? canonicalJson(e.details).slice(0, 120) : ''),
        h('span', { class: hashOk && linked !== false ? 'ok' : 'bad' }, hashOk ? (linked === false ? 'link broken' : linked ? 'hash ok, linked' : 'hash ok') : 'hash mismatch')]);
      prev = e;
    }
    after = page.next ?? after;
    more.hidden = page.next === null;
    results.append(table(`Audit entries${page.items.length ? ` ${page.items[0]!.seq}–${page.items[page.items.length - 1]!.seq}` : ''}`, ['seq', 'at', 'event', 'outcome', 'actor', 'rules', 'details', 'chain'], rows));
    summary.textContent = bad
      ? `Chain verification FAILED: ${bad} of ${checked} entries do not verify.`
      : `Chain verified: ${checked} entries, every hash recomputed, ${links} links to the entry before checked (others are other tenants' entries).`;
    summary.className = bad ? 'bad' : 'ok';
  }
  more.addEventListener('click', () => void busy(more, errors, load));
  mount(main, h('h2', {}, 'Audit log'), summary, errors, results, more);
  await busy(null, errors, load);
}
