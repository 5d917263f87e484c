// The overview: the queue, its oldest waits, tenants' circuits and pauses, and each vendor's
// last hour. It refreshes itself while the tab is visible, and stops when it is left.

import { get } from './api.js';
import { age, failure, fields, h, route, table, time } from './dom.js';

const REFRESH_MS = 5000;

export async function render(container) {
  container.append(h('h1', {}, 'Overview'));
  const updated = h('p', { class: 'muted', id: 'overview-updated' });
  const content = h('div', { id: 'overview' });
  container.append(updated, content);
  let last = null;
  let timer = null;

  async function refresh() {
    let answer;
    try {
      answer = await get('/overview');
    } catch (error) {
      content.replaceChildren(failure(error));
      last = null;
      return;
    }
    updated.replaceChildren('Updated ', time(new Date().toISOString()), `; refreshed every ${REFRESH_MS / 1000} s while shown.`);
    // Rebuilt only when something changed, so keyboard focus inside it survives a refresh.
    const text = JSON.stringify(answer);
    if (text !== last) content.replaceChildren(...view(answer));
    last = text;
  }

  function schedule() {
    clearInterval(timer);
    timer = document.visibilityState === 'visible' ? setInterval(refresh, REFRESH_MS) : null;
    if (timer) refresh();
  }

  document.addEventListener('visibilitychange', schedule);
  await refresh();
  if (document.visibilityState === 'visible') timer = setInterval(refresh, REFRESH_MS);
  return () => {
    clearInterval(timer);
    document.removeEventListener('visibilitychange', schedule);
  };
}

function view(overview) {
  const queue = overview.queue ?? {};
  const oldest = overview.oldest_age_seconds ?? {};
  const stat = (name, label, href) => h('div', { class: 'stat', 'data-queue': name },
    h('span', { class: 'stat-label' }, label),
    h(href ? 'a' : 'span', { class: 'stat-value', href }, String(queue[name] ?? '—')));
  return [
    h('h2', {}, 'Queue'),
    h('div', { class: 'stats' },
      stat('pending', 'Pending', '#/deliveries?state=pending'),
      stat('in_flight', 'In flight', '#/deliveries?state=in_flight'),
      stat('retrying', 'Retrying', '#/deliveries?state=retrying'),
      stat('dead', 'Dead', '#/deliveries?state=dead')),
    fields([
      ['Oldest pending', age(oldest.pending)],
      ['Oldest retrying', age(oldest.retrying)],
    ]),
    h('h2', {}, 'Tenants'),
    table('Circuits and pauses (act on them under Tenants)', ['Tenant', 'Paused', 'Circuit'],
      (overview.tenants ?? []).map((t) => [
        h('a', { href: '#/tenants' }, t.tenant),
        t.paused ? h('strong', { class: 'warn' }, 'paused') : 'no',
        t.circuit === 'closed' ? 'closed' : h('strong', { class: 'warn' }, t.circuit),
      ])),
    h('h2', {}, 'Vendors'),
    table('The last hour, per vendor', ['Vendor', 'Accepted', 'Rejected', 'Drift'],
      (overview.vendors ?? []).map((v) => [
        v.vendor,
        String(v.accepted_1h),
        v.rejected_1h ? h('a', { href: `#/rejections?vendor=${encodeURIComponent(v.vendor)}` }, String(v.rejected_1h)) : '0',
        h('a', { href: route('vendors', v.vendor, 'drift') }, `Drift of ${v.vendor}`),
      ])),
    h('h2', {}, 'Gateway'),
    fields([
      ['Version', overview.version],
      ['Started', time(overview.started_at)],
      ['Configuration hash', h('code', {}, overview.config_hash ?? '—')],
    ]),
  ];
}
