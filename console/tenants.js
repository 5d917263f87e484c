// Tenants: each one's pause and circuit, its queue, and the buttons to pause, resume and close
// its circuit.

import { get, post } from './api.js';
import { button, flash, h, table } from './dom.js';

export async function render(container) {
  container.append(h('h1', {}, 'Tenants'));
  const again = async (message) => {
    flash(message);
    container.replaceChildren();
    await render(container);
  };
  const answer = await get('/tenants');
  const dead = (t) => h('a', { href: `#/deliveries?state=dead&tenant=${encodeURIComponent(t.tenant)}` }, String(t.dead));
  container.append(table('Every configured tenant',
    ['Tenant', 'Paused', 'Circuit', 'Pending', 'Retrying', 'Dead', 'Actions'],
    answer.tenants.map((t) => [
      t.tenant,
      t.paused ? h('strong', { class: 'warn' }, 'paused') : 'no',
      t.circuit === 'closed' ? 'closed' : h('strong', { class: 'warn' }, t.circuit),
      String(t.pending), String(t.retrying), t.dead ? dead(t) : '0',
      h('div', { class: 'actions', 'data-tenant': t.tenant }, controls(t, again)),
    ])));
}

function controls(t, again) {
  const path = `/tenants/${encodeURIComponent(t.tenant)}`;
  const act = (label, suffix, done) => button(label, async () => {
    await post(`${path}/${suffix}`);
    await again(done);
  });
  return [
    t.paused
      ? act('Resume', 'resume', `Resumed ${t.tenant}: its deliveries start again.`)
      : act('Pause', 'pause', `Paused ${t.tenant}: no delivery to it starts until it is resumed.`),
    t.circuit === 'closed' ? null
      : act('Close circuit', 'circuit/close', `Closed the circuit of ${t.tenant}.`),
  ];
}
