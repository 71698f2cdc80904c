import { currentSession, signInWithClient, signInWithToken, signOut } from './api.js';
import { audit } from './audit.js';
import { certificateDetail, certificates } from './certificates.js';
import { dashboard } from './dashboard.js';
import { field, h, mount } from './dom.js';
import { issuers } from './issuers.js';
import { stations } from './stations.js';
import { announce, busy } from './ui.js';

const SECTIONS = [
  ['dashboard', 'Dashboard'],
  ['stations', 'Stations'],
  ['certificates', 'Certificates'],
  ['issuers', 'CA hierarchy'],
  ['audit', 'Audit log'],
] as const;

const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const who = document.getElementById('who')!;

function signInForm(): HTMLElement {
  const token = h('textarea', { name: 'token', rows: 4, autocomplete: 'off', spellcheck: 'false' });
  const tokenErrors = h('div', {});
  const byToken = h('form', { class: 'panel', 'aria-labelledby': 'token-h', onsubmit: (ev: Event) => {
    ev.preventDefault();
    void busy(byToken.querySelector('button'), tokenErrors, async () => {
      await signInWithToken(token.value);
      token.value = '';
      route();
    });
  } }, h('h3', { id: 'token-h' }, 'With a bearer token'), field('Bearer token', token, 'e.g. from `pki token --tenant demo`; kept in this tab\'s memory only'), h('button', { type: 'submit' }, 'Sign in'), tokenErrors);

  const id = h('input', { name: 'client_id', autocomplete: 'username' });
  const secret = h('input', { name: 'client_secret', type: 'password', autocomplete: 'current-password' });
  const clientErrors = h('div', {});
  const byClient = h('form', { class: 'panel', 'aria-labelledby': 'client-h', onsubmit: (ev: Event) => {
    ev.preventDefault();
    void busy(byClient.querySelector('button'), clientErrors, async () => {
      await signInWithClient(id.value.trim(), secret.value);
      secret.value = '';
      route();
    });
  } }, h('h3', { id: 'client-h' }, 'With an OAuth2 client'), field('Client id', id, 'from `pki clients add --tenant ...`'), field('Client secret', secret), h('button', { type: 'submit' }, 'Sign in'), clientErrors);

  return h('section', { 'aria-labelledby': 'signin-h' }, h('h2', { id: 'signin-h' }, 'Sign in'), h('div', { class: 'panels' }, byToken, byClient));
}

function renderNav(current: string): void {
  const s = currentSession();
  nav.hidden = !s;
  mount(nav, s ? h('ul', {}, ...SECTIONS.map(([k, label]) => h('li', {}, h('a', { href: `#/${k}`, ...(k === current ? { 'aria-current': 'page' } : {}) }, label)))) : null);
  mount(who, s ? h('span', {}, `Tenant `, h('strong', { id: 'tenant' }, s.tenant), s.expiresAt ? ` · token until ${s.expiresAt.toISOString().slice(11, 16)} UTC` : '', ' ', h('button', { type: 'button', onclick: () => {
    signOut();
    announce('signed out');
    location.hash = '#/';
    route();
  } }, 'Sign out')) : null);
}

/** The hash route (#/certificates/<serial>, #/stations ...): never carries the token. */
function route(): void {
  const [path = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [section = 'dashboard', arg] = path.split('/');
  if (!currentSession()) {
    renderNav('');
    mount(main, signInForm());
    document.title = 'Sign in · EV PKI console';
    return;
  }
  const known = SECTIONS.find(([k]) => k === section)?.[0] ?? 'dashboard';
  renderNav(known);
  document.title = `${SECTIONS.find(([k]) => k === known)![1]} · EV PKI console`;
  // Each navigation renders into its own element: a slower view of an earlier one writes into a detached node.
  const target = h('div', {});
  mount(main, target);
  const view = known === 'certificates' && arg ? certificateDetail(target, decodeURIComponent(arg))
    : known === 'stations' ? stations(target)
      : known === 'certificates' ? certificates(target)
        : known === 'issuers' ? issuers(target)
          : known === 'audit' ? audit(target)
            : dashboard(target);
  void view.then(() => {
    if (target.isConnected) main.focus({ preventScroll: true });
  });
}

window.addEventListener('hashchange', route);
window.addEventListener('evpki:signed-out', () => {
  announce('the token is no longer accepted: sign in again');
  route();
});
route();
