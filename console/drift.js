// A vendor's drift: the properties its accepted payloads carried that its schema does not
// declare, most recently seen first (kept in memory by each replica).

import { get } from './api.js';
import { h, table, time } from './dom.js';

export async function render(container, [vendor]) {
  const answer = await get(`/vendors/${encodeURIComponent(vendor)}/drift`);
  container.append(
    h('h1', {}, `Drift of ${answer.vendor}`),
    h('p', {}, 'Properties seen in accepted payloads that the schema does not declare, as this ',
      'replica saw them since it started.'),
    table('Undeclared pointers, newest first', ['Pointer', 'Webhooks', 'Last seen'],
      answer.pointers.map((p) => [h('code', {}, p.pointer), String(p.count), time(p.last_seen)])));
}
