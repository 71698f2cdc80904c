import { api, type HierarchyView } from './api.js';
import { h, mount, shortDate, table } from './dom.js';
import { errorBox } from './ui.js';

/** The rotation record as label: value lines (its shape is the store's; shown, not interpreted). */
function rotationLines(rotation: unknown): HTMLElement {
  if (rotation === null || rotation === undefined) return h('p', {}, 'No rotation in progress.');
  if (typeof rotation !== 'object') return h('p', {}, JSON.stringify(rotation));
  return h('dl', { class: 'fields' }, ...Object.entries(rotation as Record<string, unknown>).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, typeof v === 'string' ? v : JSON.stringify(v))]));
}

export async function issuers(main: HTMLElement): Promise<void> {
  mount(main, h('h2', {}, 'CA hierarchy'), h('p', {}, 'Loading…'));
  try {
    const { hierarchies } = await api<{ hierarchies: HierarchyView[] }>('GET', '/v1/issuers');
    mount(
      main,
      h('h2', {}, 'CA hierarchy'),
      ...hierarchies.map((x) =>
        h('section', { 'aria-labelledby': `h-${x.name}` },
          h('h3', { id: `h-${x.name}` }, `Hierarchy ${x.name}`),
          h('h4', {}, 'Rotation'),
          rotationLines(x.rotation),
          table(`CAs of ${x.name}`, ['id', 'role', 'state', 'subject', 'not before', 'not after'],
            x.issuers.map((i) => [h('span', { class: 'mono' }, i.id), i.role, i.state, i.subject, shortDate(i.notBefore), shortDate(i.notAfter)])))),
    );
  } catch (e) {
    mount(main, h('h2', {}, 'CA hierarchy'), errorBox(e));
  }
}
