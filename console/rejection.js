// One rejection: why it was refused, its body as received, and its replay through the running
// configuration: a dry run first (before and after, the Flow calls it would make), then Apply,
// which commits what now passes as a queued delivery under the original event id.

import { get, post } from './api.js';
import { body, button, fields, flash, h, json, notice, route, time } from './dom.js';

export async function render(container, [id]) {
  const r = await get(`/rejections/${encodeURIComponent(id)}`);
  const result = h('div', { id: 'replay-result' });
  container.append(
    h('h1', {}, 'Rejection ', h('span', { class: 'id' }, r.id)),
    fields([
      ['Vendor', r.vendor],
      ['Received', time(r.received_at)],
      ['Answer', `${r.status} ${r.code}`],
      ['Detail', r.detail],
      ['Event id', h('code', {}, r.event_id)],
      ['Request id', h('code', {}, r.request_id)],
      ['Content type', r.content_type],
      ['Replayed as', r.delivery_id ? h('a', { href: route('deliveries', r.delivery_id), class: 'id' }, r.delivery_id) : null],
    ]),
    violations(r.errors),
    body('Body as received', r.body, r.body_encoding),
    h('h2', { id: 'replay' }, 'Replay'),
    h('p', {}, 'Runs this body through the configuration running now. Replay is a dry run: it ',
      'changes nothing and calls nothing. Apply replay commits it as a delivery if it now passes.'),
    h('div', { class: 'actions' },
      button('Replay', async () => show(result, await replay(r.id, true))),
      button('Apply replay', async () => {
        const outcome = await replay(r.id, false);
        show(result, outcome);
        const made = outcome?.after?.delivery_id;
        flash(made ? `Applied: delivery ${made} was queued.` : `Applied: ${outcome?.after?.outcome ?? 'nothing'}.`);
      }, `Apply the replay of ${r.id}? What now passes is queued for delivery to Flow.`)),
    result);
}

async function replay(id, dryRun) {
  const answer = await post('/replay', { ids: [id], dry_run: dryRun });
  return answer.results?.[0] ?? null;
}

function violations(errors) {
  if (!errors?.length) return null;
  return h('ul', { class: 'violations' }, errors.map((e) =>
    h('li', {}, h('code', {}, e.pointer ?? ''), ' ', e.message ?? JSON.stringify(e))));
}

function show(container, result) {
  if (!result) {
    container.replaceChildren(notice('warning', 'The replay selected nothing: the rejection is gone.'));
    return;
  }
  container.replaceChildren(
    h('p', { class: result.changed ? 'notice ok' : 'notice' },
      result.changed ? 'The outcome changed.' : 'The outcome is unchanged.'),
    h('div', { class: 'compare' },
      side('Before', result.before),
      side('After', result.after)));
  // The result is below the fold on most screens: bring the section into view.
  document.getElementById('replay')?.scrollIntoView({ block: 'start' });
}

function side(title, outcome) {
  const o = outcome ?? {};
  return h('section', { class: 'side', 'data-replay': title.toLowerCase() },
    h('h3', {}, title),
    fields([
      ['Outcome', h('strong', {}, o.outcome)],
      // Only what this outcome has: a code for a refusal, a delivery for an applied one.
      ['Code', o.code],
      ['Detail', o.detail],
      ['FlowToken', o.flow_token === 'not_checked' ? 'not checked in a dry run' : o.flow_token],
      ['Delivery', o.delivery_id ? h('a', { href: route('deliveries', o.delivery_id), class: 'id' }, o.delivery_id) : null],
    ].filter(([, value]) => value !== null && value !== undefined)),
    violations(o.errors),
    o.calls ? h('h4', {}, o.calls.length ? 'Calls to Flow' : 'No call to Flow') : null,
    (o.calls ?? []).map((call) => json(call.operation, call.body)));
}
