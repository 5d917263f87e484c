// One delivery: its fields, each call made to Flow, Flow's refusal and the webhook's body, and
// the actions its state allows (Retry a dead one, Cancel an open one, Delete a finished one).

import { get, post, remove } from './api.js';
import { body, button, fields, flash, h, navigate, route, table, time } from './dom.js';

const OPEN = ['pending', 'in_flight', 'retrying'];

export async function render(container, [id]) {
  const d = await get(`/deliveries/${encodeURIComponent(id)}`);
  const path = `/deliveries/${encodeURIComponent(d.id)}`;
  const again = async (message) => {
    flash(message);
    container.replaceChildren();
    await render(container, [id]);
  };
  container.append(
    h('h1', {}, 'Delivery ', h('span', { class: 'id' }, d.id)),
    h('div', { class: 'actions' }, actions(d, path, again)),
    fields([
      ['State', h('span', { class: `state state-${d.state}` }, d.state)],
      ['Vendor', d.vendor],
      ['Tenant', d.tenant],
      ['Order', d.order_id ? h('a', { href: route('orders', d.order_id), class: 'id' }, d.order_id) : null],
      ['Event id', h('code', {}, d.event_id)],
      ['Mode', d.mode],
      ['Created', time(d.created_at)],
      ['Updated', time(d.updated_at)],
      ['Next attempt', time(d.next_attempt_at)],
      ['Operations', (d.operations ?? []).join(', ')],
      ['Error', d.error],
      ["Flow's status", d.flow_status === null ? null : String(d.flow_status)],
    ]),
    h('h2', {}, 'Calls to Flow'),
    table('One row per call, oldest first', ['At', 'Operation', 'Status', 'Duration', 'Error'],
      (d.attempts ?? []).map((a) => [
        time(a.at), a.operation, a.status === null ? null : String(a.status),
        `${a.duration_ms} ms`, a.error,
      ])),
    h('h2', {}, "Flow's answer"),
    body("Flow's body", d.flow_body),
    h('h2', {}, 'Webhook'),
    body('Body as received', d.body, d.body_encoding));
}

function actions(d, path, again) {
  const list = [];
  if (d.state === 'dead' && d.mode === 'queued') {
    list.push(button('Retry', () => retry(path, again, false)));
  }
  if (OPEN.includes(d.state)) {
    list.push(button('Cancel', async () => {
      await post(`${path}/cancel`);
      await again('Cancelled: the delivery is dead with error "cancelled".');
    }, `Cancel delivery ${d.id}? It will not be sent to Flow.`));
  }
  if (d.state === 'dead' || d.state === 'delivered') {
    list.push(button('Delete', async () => {
      await remove(path);
      navigate('#/deliveries', `Deleted delivery ${d.id}.`);
    }, `Delete delivery ${d.id}, its attempts and its dedup key?`));
  }
  return list;
}

async function retry(path, again, force) {
  try {
    await post(`${path}/retry${force ? '?force=true' : ''}`);
  } catch (error) {
    // The order has a newer delivered update: retrying would send an older state after it.
    if (error.problem?.code !== 'superseded' || force) throw error;
    const ask = `${error.problem.detail} Retry anyway, sending this older update after the newer one?`;
    if (!window.confirm(ask)) return;
    return retry(path, again, true);
  }
  await again('Retried: the delivery is pending again.');
}
