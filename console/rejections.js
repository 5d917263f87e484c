// Kept rejections, newest first: webhooks that authenticated but were refused, filtered by
// vendor and code (kept in the hash) and paged through `next_cursor`.

import { get, query } from './api.js';
import { filterForm as filters, h, route, table, time } from './dom.js';

const FILTERS = ['vendor', 'code', 'since'];

export async function render(container, _params, search) {
  container.append(h('h1', {}, 'Rejections'), filterForm(search));
  const params = Object.fromEntries(FILTERS.map((name) => [name, search.get(name)]));
  params.cursor = search.get('cursor');
  const answer = await get(`/rejections${query(params)}`);
  container.append(table('Refused webhooks, newest first',
    ['Rejection', 'Received', 'Vendor', 'Status', 'Code', 'Event id', 'Detail'],
    answer.rejections.map((r) => [
      h('a', { href: route('rejections', r.id), class: 'id' }, r.id),
      time(r.received_at),
      r.vendor,
      String(r.status),
      h('code', {}, r.code),
      r.event_id,
      r.detail,
    ])));
  if (answer.next_cursor) {
    const next = new URLSearchParams(search);
    next.set('cursor', answer.next_cursor);
    container.append(h('p', { class: 'pages' }, h('a', { href: `#/rejections?${next}` }, 'Next page')));
  }
}

function filterForm(search) {
  return filters('rejections', 'Filter rejections', search, (input) => [
    input('vendor', 'Vendor'),
    input('code', 'Code', { placeholder: 'schema-violation' }),
    input('since', 'Since (RFC 3339)', { placeholder: '2026-12-07T00:00:00Z' }),
  ]);
}
