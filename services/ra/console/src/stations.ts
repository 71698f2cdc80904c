import { api, withQuery, type Page, type StationView } from './api.js';
import { field, h, mount, select, table } from './dom.js';
import { announce, busy, errorBox, pager } from './ui.js';

const putStation = (s: { stationId: string; serialNumber: string; model?: string; allowed: boolean; seccIds?: string[] }): Promise<StationView> =>
  api<StationView>('PUT', `/v1/stations/${encodeURIComponent(s.stationId)}`, {
    serialNumber: s.serialNumber,
    allowed: s.allowed,
    ...(s.model ? { model: s.model } : {}),
    ...(s.seccIds?.length ? { seccIds: s.seccIds } : {}),
  });

/** CSV rows `stationId,serialNumber[,model[,allowed]]`; a first line naming the columns is skipped. */
export function parseStationsCsv(csv: string): { line: number; stationId: string; serialNumber: string; model?: string; allowed: boolean }[] {
  return csv
    .split(/\r?\n/)
    .map((raw, i) => ({ raw: raw.trim(), line: i + 1 }))
    .filter(({ raw, line }) => raw && !(line === 1 && /^stationId\s*,/i.test(raw)))
    .map(({ raw, line }) => {
      const [stationId = '', serialNumber = '', model = '', allowed = 'true'] = raw.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
      return { line, stationId, serialNumber, ...(model ? { model } : {}), allowed: !/^(false|no|0)$/i.test(allowed) };
    });
}

export async function stations(main: HTMLElement): Promise<void> {
  const q = h('input', { type: 'search', name: 'q' });
  const allowed = select('allowed', [['', 'any'], ['true', 'allowed'], ['false', 'not allowed']]);
  const results = h('div', {});
  const errors = h('div', {});
  const { load, more } = pager<StationView>(
    (cursor) => api<Page<StationView>>('GET', withQuery('/v1/stations', { q: q.value.trim(), allowed: allowed.value, limit: 50, cursor })),
    (page) =>
      mount(
        results,
        table(
          `Stations${q.value ? ` matching “${q.value}”` : ''}`,
          ['station', 'serial number (CN)', 'model', 'allowed', ''],
          page.items.map((s) => [
            s.stationId,
            s.serialNumber,
            s.model ?? '',
            s.allowed ? 'yes' : 'no',
            h('span', { class: 'actions' },
              h('button', { type: 'button', onclick: (ev: Event) => void busy(ev.currentTarget as HTMLButtonElement, errors, async () => {
                await putStation({ ...s, allowed: !s.allowed });
                announce(`${s.stationId} is now ${s.allowed ? 'not allowed' : 'allowed'}`);
                await load(true);
              }) }, s.allowed ? `Disallow ${s.stationId}` : `Allow ${s.stationId}`),
              h('a', { href: `#/certificates?stationId=${encodeURIComponent(s.stationId)}` }, 'Certificates')),
          ]),
        ),
      ),
    errors,
  );

  const search = h('form', { class: 'toolbar', role: 'search', onsubmit: (ev: Event) => {
    ev.preventDefault();
    void busy(null, errors, () => load(true));
  } }, field('Search (station id or serial number)', q), field('Allowed', allowed), h('button', { type: 'submit' }, 'Search'));

  const id = h('input', { name: 'stationId', required: true, pattern: '[A-Za-z0-9._:\\-]{1,48}', autocomplete: 'off' });
  const serial = h('input', { name: 'serialNumber', required: true, autocomplete: 'off' });
  const model = h('input', { name: 'model', autocomplete: 'off' });
  const ok = h('input', { type: 'checkbox', name: 'allowed', checked: true });
  const registerErrors = h('div', {});
  const register = h('form', { class: 'panel', 'aria-labelledby': 'register-h', onsubmit: (ev: Event) => {
    ev.preventDefault();
    void busy(register.querySelector('button'), registerErrors, async () => {
      const s = await putStation({ stationId: id.value.trim(), serialNumber: serial.value.trim(), model: model.value.trim(), allowed: ok.checked });
      announce(`station ${s.stationId} registered`);
      register.reset();
      await load(true);
    });
  } },
  h('h3', { id: 'register-h' }, 'Register a station'),
  field('Station id', id), field('Serial number (the certificate CN, A00.FR.511)', serial), field('Model', model),
  h('div', { class: 'field check' }, ok, h('label', { for: (ok.id = 'register-allowed') }, 'Allowed (model passed its audit, PnC-4.2)')),
  h('button', { type: 'submit' }, 'Register'), registerErrors);

  const file = h('input', { type: 'file', accept: '.csv,text/csv', name: 'csv' });
  const progress = h('progress', { max: 1, value: 0, hidden: true, 'aria-label': 'Import progress' });
  const importLog = h('div', { 'aria-live': 'polite' });
  const importForm = h('form', { class: 'panel', 'aria-labelledby': 'import-h', onsubmit: (ev: Event) => {
    ev.preventDefault();
    void busy(importForm.querySelector('button'), importLog, async () => {
      const rows = parseStationsCsv(await (file.files?.[0]?.text() ?? Promise.resolve('')));
      progress.max = Math.max(1, rows.length);
      progress.value = 0;
      progress.hidden = false;
      const failed: HTMLElement[] = [];
      for (const r of rows) {
        try {
          await putStation(r);
        } catch (e) {
          failed.push(h('li', {}, `line ${r.line} (${r.stationId || 'no id'}): `, errorBox(e)));
        }
        progress.value += 1;
      }
      mount(importLog, h('p', {}, `${rows.length - failed.length} of ${rows.length} stations imported.`), failed.length ? h('ul', {}, ...failed) : null);
      announce(`import done: ${rows.length - failed.length} of ${rows.length}`);
      await load(true);
    });
  } },
  h('h3', { id: 'import-h' }, 'Import stations from CSV'),
  field('CSV file', file, 'columns: stationId,serialNumber,model,allowed (one PUT /v1/stations/{id} per row)'),
  h('button', { type: 'submit' }, 'Import'), progress, importLog);

  mount(main, h('h2', {}, 'Stations'), search, errors, results, more, h('div', { class: 'panels' }, register, importForm));
  await busy(null, errors, () => load(true));
}
