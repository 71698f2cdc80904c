import { countAll, type CertificateView, type StationView } from './api.js';
import { h, mount, table } from './dom.js';
import { errorBox } from './ui.js';

const DAYS = 14;

type Counted = PromiseSettledResult<{ count: number; more: boolean }>;

/** A count that stopped at the page limit shows as "N+"; one the token may not read, as "—" (the scope it lacks is in the note). */
const shown = (c: Counted): string => (c.status === 'fulfilled' ? `${c.value.count}${c.value.more ? '+' : ''}` : '—');

/** The tenant's numbers, from the list operations (each count pages through at most 2000 items). */
export async function dashboard(main: HTMLElement): Promise<void> {
  mount(main, h('h2', {}, 'Dashboard'), h('p', { 'aria-busy': 'true' }, 'Loading…'));
  try {
    const since = new Date(Date.now() - (DAYS - 1) * 86_400_000);
    since.setUTCHours(0, 0, 0, 0);
    const perDay = new Map<string, number>();
    for (let i = 0; i < DAYS; i++) perDay.set(new Date(since.getTime() + i * 86_400_000).toISOString().slice(0, 10), 0);
    const counts = await Promise.allSettled([
      countAll<StationView>('/v1/stations', {}),
      countAll<CertificateView>('/v1/certificates', { issuedSince: since.toISOString() }, 20, (c) => {
        const day = c.issuedAt.slice(0, 10);
        if (perDay.has(day)) perDay.set(day, perDay.get(day)! + 1);
      }),
      countAll<CertificateView>('/v1/certificates/expiring', { within: '30d' }),
      countAll<CertificateView>('/v1/certificates/expiring', { within: '90d' }),
      countAll<CertificateView>('/v1/certificates', { status: 'revoked' }),
    ]);
    const [stations, issued, expiring30, expiring90, revoked] = counts as [Counted, Counted, Counted, Counted, Counted];
    const refused: unknown[] = counts.flatMap((c): unknown[] => (c.status === 'rejected' ? [c.reason] : []));
    const max = Math.max(1, ...perDay.values());
    const cards: [string, string, string][] = [
      ['Stations', shown(stations), '#/stations'],
      [`Issued in ${DAYS} days`, shown(issued), '#/certificates'],
      ['Expiring within 30 days', shown(expiring30), '#/certificates?within=30d'],
      ['Expiring within 90 days', shown(expiring90), '#/certificates?within=90d'],
      ['Revoked', shown(revoked), '#/certificates?status=revoked'],
    ];
    mount(
      main,
      h('h2', {}, 'Dashboard'),
      h('ul', { class: 'cards' }, ...cards.map(([label, n, href]) => h('li', {}, h('a', { href }, h('span', { class: 'card-n' }, n), h('span', {}, label))))),
      refused.length ? errorBox(refused[0]) : null,
      issued.status === 'rejected' ? null : table(
        `Certificates issued per day (last ${DAYS} days, UTC)`,
        ['day', 'issued', 'chart'],
        [...perDay].map(([day, n]) => [day, n, h('meter', { min: 0, max, value: n, 'aria-label': `${n} on ${day}` })]),
      ),
      h('p', { class: 'note' }, 'OCSP answers by status are PKI-wide (the responder counts them in its /metrics, ocsp_responses_total); they are not shown per tenant.'),
    );
  } catch (e) {
    mount(main, h('h2', {}, 'Dashboard'), errorBox(e));
  }
}
