// Deliveries, newest first: filters kept in the hash (so a filtered list is a link to paste)
// and pages followed through the API's `next_cursor`.

import { get, query } from './api.js';
import { filterForm as filters, h, route, table, time } from './dom.js';

const STATES = ['', 'pending', 'in_flight', 'retrying', 'delivered', 'dead'];
const FILTERS = ['state', 'vendor', 'tenant', 'order_id', 'since'];

export async function render(container, _params, search) {
  container.append(h('h1', {}, 'Deliveries'), filterForm(search));
  const params = Object.fromEntries(FILTERS.map((name) => [name, search.get(name)]));
  params.cursor = search.get('cursor');
  const answer = await get(`/deliveries${query(params)}`);
  container.append(deliveryTable('Deliveries, newest first', answer.deliveries));
  const pages = h('p', { class: 'pages' });
  if (params.cursor) {
    const first = new URLSearchParams(search);
    first.delete('cursor');
    pages.append(h('a', { href: `#/deliveries?${first}` }, 'First page'), ' ');
  }
  if (answer.next_cursor) {
    const next = new URLSearchParams(search);
    next.set('cursor', answer.next_cursor);
    pages.append(h('a', { href: `#/deliveries?${next}` }, 'Next page'));
  }
  container.append(pages);
}

function filterForm(search) {
  const state = h('select', { name: 'state' }, STATES.map((s) =>
    h('option', { value: s, selected: s === (search.get('state') ?? '') }, s || 'any')));
  return filters('deliveries', 'Filter deliveries', search, (input) => [
    h('label', {}, 'State', state),
    input('vendor', 'Vendor'),
    input('tenant', 'Tenant'),
    input('order_id', 'Order id'),
    input('since', 'Since (RFC 3339)', { placeholder: '2026-12-07T00:00:00Z' }),
  ]);
}

/// The table of deliveries the list and an order show.
export function deliveryTable(caption, deliveries) {
  return table(caption,
    ['Delivery', 'State', 'Vendor', 'Tenant', 'Order', 'Created', 'Attempts', "Flow's status"],
    deliveries.map((d) => [
      h('a', { href: route('deliveries', d.id), class: 'id' }, d.id),
      h('span', { class: `state state-${d.state}` }, d.state),
      d.vendor,
      d.tenant,
      d.order_id ? h('a', { href: route('orders', d.order_id), class: 'id' }, d.order_id) : null,
      time(d.created_at),
      String(d.attempts?.length ?? 0),
      d.flow_status === null || d.flow_status === undefined ? null : String(d.flow_status),
    ]));
}
