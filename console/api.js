// The console's only way out: same-origin calls to /admin with the operator's bearer token.
// The token lives in sessionStorage (this tab only), never in a cookie or a URL.

const TOKEN_KEY = 'flowgate.admin-token';

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/// A refused call: its HTTP status and the problem document (RFC 9457) when there is one.
export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem?.detail ?? problem?.title ?? `HTTP ${status}`;
    super(problem?.code ? `${detail} (${status} ${problem.code})` : `${detail} (${status})`);
    this.status = status;
    this.problem = problem;
  }
}

// 401 and 403 concern the whole console, not one view: app.js listens and asks for a token.
function signalAuthFailure(status) {
  window.dispatchEvent(new CustomEvent('console:auth', { detail: { status } }));
}

export async function call(method, path, body) {
  const headers = { Accept: 'application/json', Authorization: `Bearer ${token.get() ?? ''}` };
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/admin${path}`, init);
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (response.ok) return json;
  if (response.status === 401 || response.status === 403) signalAuthFailure(response.status);
  throw new ApiError(response.status, json);
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body);
export const remove = (path) => call('DELETE', path);

/// `?a=1&b=2` from the non-empty members of `params` (empty when none).
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
