// Small builders for the views: elements from data (never from HTML strings, so nothing an
// API answer holds can become markup), times, bodies, tables and messages.

/// `h('a', {href: '#/x'}, 'text', child…)`: attributes set as properties or attributes;
/// `on…` members become listeners. Children may be strings, nodes, arrays, null.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'class') element.className = value;
    else element.setAttribute(name, value === true ? '' : value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

/// A time in the operator's zone; the UTC value in its title.
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return h('time', { datetime: iso, title: `${date.toISOString()} (UTC)` }, date.toLocaleString());
}

/// Seconds as an operator reads them: 42 s, 3 min, 2 h 5 min.
export function age(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.round(seconds);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/// A body, pretty-printed when it is JSON, folded when long.
export function body(summary, text, encoding) {
  if (text === null || text === undefined) return h('p', { class: 'muted' }, `${summary}: none kept.`);
  let shown = text;
  if (encoding !== 'base64') {
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      shown = text;
    }
  }
  const label = encoding === 'base64' ? `${summary} (base64)` : summary;
  return h('details', { class: 'body', open: shown.length < 600 },
    h('summary', {}, `${label}, ${text.length} characters`),
    h('pre', {}, shown));
}

/// JSON of any value, folded.
export function json(summary, value) {
  return body(summary, JSON.stringify(value));
}

/// A definition list from `[term, value]` pairs (null values shown as a dash).
export function fields(pairs) {
  return h('dl', { class: 'fields' }, pairs.map(([term, value]) => [
    h('dt', {}, term),
    h('dd', {}, value === null || value === undefined || value === '' ? '—' : value),
  ]));
}

/// A table that scrolls sideways on a narrow screen.
export function table(caption, headings, rows) {
  return h('div', { class: 'scroll' },
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, headings.map((name) => h('th', { scope: 'col' }, name)))),
      h('tbody', {}, rows.length
        ? rows.map((cells) => h('tr', {}, cells.map((cell) => h('td', {}, cell ?? '—'))))
        : h('tr', {}, h('td', { colspan: headings.length, class: 'muted' }, 'None.')))));
}

export function notice(kind, text) {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : null }, text);
}

/// The message a view shows for a failed call: the problem's detail, with its status.
export function failure(error) {
  return notice('error', error?.message ?? String(error));
}

/// `#/…` for a path of ids, each encoded.
export function route(...parts) {
  return `#/${parts.map((part) => encodeURIComponent(part)).join('/')}`;
}

let keepFlash = false;

/// Shows `text` above the view until the next navigation (an action's result).
export function flash(text, kind = 'ok') {
  const box = document.getElementById('flash');
  box.textContent = text;
  box.className = `notice ${kind}`;
  box.hidden = false;
}

/// Hides the message, unless it was left by the action that caused this navigation.
export function clearFlash() {
  if (keepFlash) {
    keepFlash = false;
    return;
  }
  document.getElementById('flash').hidden = true;
}

/// Goes to `hash`, keeping `message` shown there.
export function navigate(hash, message) {
  flash(message);
  if (location.hash === hash) return;
  keepFlash = true;
  location.hash = hash;
}

/// A `<button>` named by its action; `ask` makes it confirm first. While the action runs the
/// button is disabled; a failure is shown with the problem's detail.
export function button(label, action, ask) {
  const element = h('button', { type: 'button' }, label);
  element.addEventListener('click', async () => {
    if (ask && !window.confirm(ask)) return;
    element.disabled = true;
    try {
      await action();
    } catch (error) {
      flash(error?.message ?? String(error), 'error');
    } finally {
      element.disabled = false;
    }
  });
  return element;
}

// A list's filter form: its fields, pre-filled from `search` by a maker `(name, label,
// attributes)`, and a Filter button that puts the non-empty values into `#/{list}?…`, so a
// filtered view is a link an operator can paste.
export function filterForm(list, label, search, fieldsOf) {
  const input = (name, text, attributes = {}) => h('label', {},
    text, h('input', { name, value: search.get(name) ?? '', ...attributes }));
  const form = h('form', { class: 'filters', 'aria-label': label },
    ...fieldsOf(input), h('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (value) chosen.set(name, value);
    location.hash = `#/${list}${chosen.size ? `?${chosen}` : ''}`;
  });
  return form;
}
