import { api, type TenantSummaryView } from './api.js';
import { h, mount, table } from './dom.js';
import { errorBox } from './ui.js';

const OCSP_STATUSES = ['good', 'revoked', 'unknown', 'mixed'] as const;
const OCSP_NOTE: Record<(typeof OCSP_STATUSES)[number], string> = {
  good: 'the certificate is good',
  revoked: 'the certificate is revoked',
  unknown: 'the responder does not know it',
  mixed: 'several certificates with different statuses',
};

/**
 * The tenant's numbers in one call: GET /v1/summary (exact counts of the tenant's list indexes, and
 * the OCSP answers our responders gave about its certificates, from their metrics).
 */
export async function dashboard(main: HTMLElement): Promise<void> {
  mount(main, h('h2', {}, 'Dashboard'), h('p', { 'aria-busy': 'true' }, 'Loading…'));
  let s: TenantSummaryView;
  try {
    s = await api<TenantSummaryView>('GET', '/v1/summary');
  } catch (e) {
    return void mount(main, h('h2', {}, 'Dashboard'), errorBox(e));
  }
  const days = s.issuedPerDay.length;
  const issued = s.issuedPerDay.reduce((n, d) => n + d.count, 0);
  const expiring = (within: number): number => s.expiring.find((e) => e.withinDays === within)?.count ?? 0;
  const cards: [string, number, string][] = [
    ['Stations', s.stations.total, '#/stations'],
    ['Good certificates', s.certificates.good, '#/certificates?status=good'],
    [`Issued in ${days} days`, issued, '#/certificates'],
    ['Expiring within 30 days', expiring(30), '#/certificates?within=30d'],
    ['Expiring within 90 days', expiring(90), '#/certificates?within=90d'],
    ['Revoked', s.certificates.revoked, '#/certificates?status=revoked'],
    ['Expired', s.certificates.expired, '#/certificates?status=expired'],
  ];
  const max = Math.max(1, ...s.issuedPerDay.map((d) => d.count));
  const ocsp = s.ocspAnswers;
  mount(
    main,
    h('h2', {}, 'Dashboard'),
    h('p', { class: 'note' }, `Tenant ${s.tenant}, as of ${s.at.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}. Stations allowed: ${s.stations.allowed}, disallowed: ${s.stations.disallowed}. Certificates in all: ${s.certificates.total}.`),
    h('ul', { class: 'cards' }, ...cards.map(([label, n, href]) => h('li', {}, h('a', { href }, h('span', { class: 'card-n' }, n), h('span', {}, label))))),
    ocsp.available
      ? table(
          `OCSP answers about this tenant's certificates, by status (since each of ${ocsp.responders} responder${ocsp.responders === 1 ? '' : 's'} started)`,
          ['status', 'answers', 'meaning'],
          [...OCSP_STATUSES.map((st) => [st, ocsp.byStatus[st], OCSP_NOTE[st]]), ['total', ocsp.total, '']],
        )
      : h('p', { class: 'note', role: 'status' }, `OCSP answers by status are unavailable: ${ocsp.reason}.`),
    table(
      `Certificates issued per day (last ${days} days, UTC)`,
      ['day', 'issued', 'chart'],
      s.issuedPerDay.map((d) => [d.day, d.count, h('meter', { min: 0, max, value: d.count, 'aria-label': `${d.count} on ${d.day}` })]),
    ),
  );
}
