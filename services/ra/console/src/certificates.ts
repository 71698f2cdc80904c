import { api, withQuery, type CertificateView, type HierarchyView, type Page } from './api.js';
import { field, h, mount, select, shortDate, table } from './dom.js';
import { announce, busy, errorBox, pager, statusBadge } from './ui.js';
import { decodeCertificate, pemToDer } from './x509.js';

/** The reasons the RA lets a tenant revoke with (RFC5280-5.3.1, libs/policy revocation-policy.ts). */
const REASONS = ['keyCompromise', 'cessationOfOperation', 'superseded', 'affiliationChanged', 'privilegeWithdrawn', 'unspecified'] as const;

/** The hash route's query: #/certificates?status=revoked. */
function routeQuery(): URLSearchParams {
  return new URLSearchParams(location.hash.split('?')[1] ?? '');
}

export async function certificates(main: HTMLElement): Promise<void> {
  const rq = routeQuery();
  const station = h('input', { name: 'stationId', value: rq.get('stationId') ?? '' });
  const serialPrefix = h('input', { name: 'serialPrefix', pattern: '[0-9a-fA-F]*', value: rq.get('serialPrefix') ?? '' });
  const status = select('status', [['', 'any'], ['good', 'good'], ['revoked', 'revoked'], ['expired', 'expired']], rq.get('status') ?? '');
  const within = select('within', [['', '—'], ['30d', '30 days'], ['90d', '90 days']], rq.get('within') ?? '');
  const results = h('div', {});
  const errors = h('div', {});
  const { load, more } = pager<CertificateView>(
    (cursor) =>
      api<Page<CertificateView>>(
        'GET',
        within.value
          ? withQuery('/v1/certificates/expiring', { within: within.value, limit: 50, cursor })
          : withQuery('/v1/certificates', { stationId: station.value.trim(), status: status.value, serialPrefix: serialPrefix.value.trim().toLowerCase(), limit: 50, cursor }),
      ),
    (page) =>
      mount(
        results,
        table(
          within.value ? `Certificates expiring within ${within.value}` : 'Certificates',
          ['serial number', 'type', 'station', 'subject', 'not after', 'status'],
          page.items.map((c) => [
            h('a', { href: `#/certificates/${c.serialNumber}`, class: 'mono' }, c.serialNumber),
            c.certificateType,
            c.stationId ?? '',
            c.subject,
            shortDate(c.notAfter),
            statusBadge(c.status),
          ]),
        ),
      ),
    errors,
  );
  const form = h('form', { class: 'toolbar', role: 'search', onsubmit: (ev: Event) => {
    ev.preventDefault();
    void busy(null, errors, () => load(true));
  } }, field('Station id', station), field('Serial number prefix (hex)', serialPrefix), field('Status', status), field('Expiring within', within, 'overrides the other filters'), h('button', { type: 'submit' }, 'Search'));
  mount(main, h('h2', {}, 'Certificates'), form, errors, results, more);
  await busy(null, errors, () => load(true));
}

function dl(pairs: readonly [string, string | Node][]): HTMLElement {
  return h('dl', { class: 'fields' }, ...pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** One certificate: the API's view, its decoded fields, its chain up to the root, and revocation. */
export async function certificateDetail(main: HTMLElement, serial: string): Promise<void> {
  mount(main, h('h2', {}, `Certificate ${serial}`), h('p', {}, 'Loading…'));
  let c: CertificateView;
  try {
    c = await api<CertificateView>('GET', `/v1/certificates/${encodeURIComponent(serial)}`);
  } catch (e) {
    return mount(main, h('h2', {}, `Certificate ${serial}`), errorBox(e));
  }
  const d = decodeCertificate(pemToDer(c.certificate));
  const chain = h('div', {});
  const hierarchies = await api<{ hierarchies: HierarchyView[] }>('GET', '/v1/issuers').catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  if (hierarchies instanceof Error) mount(chain, errorBox(hierarchies));
  else {
    const h0 = hierarchies.hierarchies.find((x) => x.issuers.some((i) => i.id === c.issuerId));
    const issuer = h0?.issuers.find((i) => i.id === c.issuerId);
    // Up from the issuing CA: the hierarchy's other CAs in force (sub-CAs, then the root).
    const above = (h0?.issuers ?? []).filter((i) => i !== issuer && i.role !== 'issuing' && i.role !== 'ocsp' && !['retired', 'retiring'].includes(i.state))
      .sort((a, b) => Number(a.role === 'root') - Number(b.role === 'root'));
    const path = [...(issuer ? [issuer] : []), ...above];
    mount(chain, h('p', {}, `Hierarchy ${h0?.name ?? '?'}`), h('ol', { class: 'chain' },
      h('li', {}, h('strong', {}, 'This certificate: '), d.subject),
      ...path.map((i) => h('li', {}, h('strong', {}, `${i.role} (${i.state}): `), i.subject, ` — until ${shortDate(i.notAfter)}`))));
  }

  const reason = select('reason', REASONS.map((r) => [r, r] as const), 'keyCompromise');
  const revokeErrors = h('div', {});
  const confirmBtn = h('button', { type: 'submit', class: 'danger' }, 'Revoke now');
  const dialog = h('dialog', { 'aria-labelledby': 'revoke-confirm-h' },
    h('form', { method: 'dialog' },
      h('h3', { id: 'revoke-confirm-h' }, 'Revoke this certificate?'),
      h('p', { id: 'revoke-confirm-text' }, ''),
      h('p', {}, 'Revocation is final: OCSP answers revoked from the moment the RA answers (A00.FR.702).'),
      h('div', { class: 'actions' }, h('button', { type: 'submit', value: 'cancel' }, 'Cancel'), confirmBtn)));
  dialog.addEventListener('close', () => {
    if (dialog.returnValue !== 'revoke') return;
    void busy(null, revokeErrors, async () => {
      await api('POST', `/v1/certificates/${c.serialNumber}/revoke`, { reason: reason.value });
      announce(`certificate ${c.serialNumber} revoked (${reason.value})`);
      await certificateDetail(main, c.serialNumber);
    });
  });
  confirmBtn.value = 'revoke';
  const revoke = c.status === 'good'
    ? h('form', { class: 'panel', 'aria-labelledby': 'revoke-h', onsubmit: (ev: Event) => {
        ev.preventDefault();
        dialog.querySelector('#revoke-confirm-text')!.textContent = `Serial ${c.serialNumber} (${c.subject}) will be revoked with reason ${reason.value}.`;
        dialog.returnValue = '';
        dialog.showModal();
      } }, h('h3', { id: 'revoke-h' }, 'Revoke'), field('Reason', reason), h('button', { type: 'submit', class: 'danger' }, 'Revoke…'), revokeErrors, dialog)
    : null;

  mount(
    main,
    h('p', {}, h('a', { href: '#/certificates' }, '← Certificates')),
    h('h2', {}, 'Certificate ', h('span', { class: 'mono' }, c.serialNumber), ' ', statusBadge(c.status)),
    dl([
      ['Status', c.status + (c.revokedAt ? ` since ${shortDate(c.revokedAt)} (${c.revocationReason ?? ''})` : '')],
      ['Type', c.certificateType],
      ['Station', c.stationId ?? '—'],
      ['Subject', d.subject],
      ['Issuer', d.issuer],
      ['Valid', `${d.notBefore} → ${d.notAfter}`],
      ['Key', d.key],
      ['Signature', d.signatureAlgorithm],
      ['Version', `v${d.version}`],
      ['SHA-256 fingerprint', h('span', { class: 'mono' }, c.sha256Fingerprint)],
      ['Key SHA-256 (spkiSha256)', h('span', { class: 'mono' }, c.spkiSha256)],
      ['Issued at', shortDate(c.issuedAt)],
    ]),
    table('Extensions', ['extension', 'critical', 'value'], d.extensions.map((e) => [e.name, e.critical ? 'yes' : 'no', e.value])),
    h('h3', {}, 'Chain'),
    chain,
    revoke,
    h('details', {}, h('summary', {}, 'PEM'), h('pre', {}, c.certificate)),
  );
}
