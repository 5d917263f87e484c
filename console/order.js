// One order: the tenant and vendor it is bound to, what Flow last accepted for it, and its
// deliveries.

import { get } from './api.js';
import { fields, h, json, notice, time } from './dom.js';
import { deliveryTable } from './deliveries.js';

export async function render(container, [id]) {
  const order = await get(`/orders/${encodeURIComponent(id)}`);
  const binding = order.binding;
  const sent = order.last_sent ?? {};
  container.append(
    h('h1', {}, 'Order ', h('span', { class: 'id' }, order.order_id)),
    h('h2', {}, 'Binding'),
    binding
      ? fields([
        ['Tenant', binding.tenant],
        ['Vendor', binding.vendor],
        ['Case id', binding.case_id === null ? null : String(binding.case_id)],
        ['Broker', binding.broker],
        ['Bound', time(binding.bound_at)],
      ])
      : notice('muted', 'Not bound to a tenant yet.'),
    h('h2', {}, 'Last sent to Flow'),
    fields([
      ['Title', sent.title],
      ['Action text', sent.action_text],
      ['State', sent.state],
    ]),
    sent.metadata ? json('Metadata', sent.metadata) : null,
    h('h2', {}, 'Deliveries'),
    deliveryTable('Deliveries of this order, newest first', order.deliveries ?? []));
}
