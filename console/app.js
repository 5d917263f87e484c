// The console's shell: sign-in, the hash routes (deep links an operator can paste), and the
// messages actions leave. Each view is a module with `render(container, params, search)`;
// it may return a function that stops what it started (the overview's refresh).

import { get, token } from './api.js';
import { clearFlash, failure, h } from './dom.js';
import * as overview from './overview.js';
import * as deliveries from './deliveries.js';
import * as delivery from './delivery.js';
import * as order from './order.js';
import * as tenants from './tenants.js';
import * as rejections from './rejections.js';
import * as rejection from './rejection.js';
import * as drift from './drift.js';

const ROUTES = [
  [/^\/overview$/, overview],
  [/^\/deliveries$/, deliveries],
  [/^\/deliveries\/([^/]+)$/, delivery],
  [/^\/orders\/([^/]+)$/, order],
  [/^\/tenants$/, tenants],
  [/^\/rejections$/, rejections],
  [/^\/rejections\/([^/]+)$/, rejection],
  [/^\/vendors\/([^/]+)\/drift$/, drift],
];

const $ = (id) => document.getElementById(id);
let stopView = null;
let shown = 0;

function signedIn(yes) {
  $('sign-in').hidden = yes;
  $('nav').hidden = !yes;
  $('sign-out').hidden = !yes;
  $('view').hidden = !yes;
}

function askForToken(message, kind = 'error') {
  if (stopView) stopView();
  stopView = null;
  token.clear();
  signedIn(false);
  clearFlash();
  $('view').replaceChildren();
  const box = $('sign-in-message');
  box.textContent = message ?? '';
  box.className = `notice ${kind}`;
  box.hidden = !message;
  $('token').value = '';
  $('token').focus();
}

const AUTH_MESSAGES = {
  401: 'That token was refused (401 unauthorized). Type the admin token again.',
  403: 'The admin API is closed: this gateway has no admin token configured (403 forbidden).',
};

async function signIn(event) {
  event.preventDefault();
  token.set($('token').value);
  $('token').value = '';
  try {
    // Any authenticated read proves the token; this one is cheap.
    await get('/deliveries?limit=1');
  } catch (error) {
    // 401 and 403 have asked again already; any other failure is the view's to show.
    if (AUTH_MESSAGES[error.status]) return;
  }
  signedIn(true);
  if (!location.hash.startsWith('#/')) location.hash = '#/overview';
  else show(false);
}

/// Renders the view the hash names; `focus` moves the keyboard to its heading.
async function show(focus = true) {
  if (!token.get()) return askForToken();
  if (stopView) stopView();
  stopView = null;
  const [path, search] = location.hash.slice(1).split('?');
  const match = ROUTES.map(([pattern, view]) => [path.match(pattern), view]).find(([m]) => m);
  // Tests (and anyone scripting the page) can tell when the view for this address is done.
  delete document.body.dataset.shown;
  const container = h('section', { class: 'view' });
  $('view').replaceChildren(container);
  const current = ++shown;
  if (!match) {
    container.append(h('h1', {}, 'Not found'), h('p', {}, 'No view has this address. ',
      h('a', { href: '#/overview' }, 'Go to the overview.')));
    return;
  }
  const [[, ...params], view] = match;
  markCurrent(path);
  try {
    const stop = await view.render(container, params.map(decodeURIComponent),
      new URLSearchParams(search ?? ''));
    if (current === shown) stopView = stop ?? null;
    else if (stop) stop();
  } catch (error) {
    if (current === shown) container.append(failure(error));
  }
  if (current === shown) document.body.dataset.shown = location.hash;
  const heading = container.querySelector('h1');
  if (focus && heading && current === shown) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

function markCurrent(path) {
  for (const link of $('nav').querySelectorAll('a')) {
    const here = path.startsWith(link.getAttribute('href').slice(1));
    if (here) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function start() {
  $('sign-in').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => askForToken('Signed out: this tab no longer holds the token.', 'ok'));
  // The skip link moves focus without touching the hash, which holds the route.
  $('skip').addEventListener('click', (event) => {
    event.preventDefault();
    $('main').focus();
  });
  window.addEventListener('console:auth', (event) => askForToken(AUTH_MESSAGES[event.detail.status]));
  window.addEventListener('hashchange', () => {
    clearFlash();
    show();
  });
  if (!token.get()) return askForToken();
  signedIn(true);
  if (!location.hash.startsWith('#/')) location.hash = '#/overview';
  else show(false);
}

start();
