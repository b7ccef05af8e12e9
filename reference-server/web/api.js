// The JSON API as the page uses it: cookies carry both tokens (HttpOnly, the
// page never sees them); X-Requested-With marks the page's requests as the
// server's CSRF defence asks; an expired access token is refreshed once,
// silently, before the request is retried.
const HEADERS = { 'X-Requested-With': 'fetch' };

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

// A human sentence for every failure the API can give.
function human(status, code, message, retryAfter) {
  if (code === 'invalid_credentials') return 'Wrong email or password.';
  if (status === 429) return `Too many attempts. Try again in ${retryAfter || 'a few'} seconds.`;
  if (status === 401) return 'Your session has ended. Please sign in again.';
  if (status === 409) return message || 'That already exists.';
  if (status === 403) return 'You are not allowed to do that.';
  if (status === 404) return 'That no longer exists.';
  if (status >= 500) return 'The server had a problem. Try again in a moment.';
  return message || `Request failed (${status}).`;
}

async function send(method, path, body, extra, signal) {
  const init = { method, signal, credentials: 'same-origin', headers: { ...HEADERS, ...extra } };
  if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
  try { return await fetch(path, init); } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The server cannot be reached. Check that it is running.');
  }
}

async function fail(res) {
  let e = {};
  try { e = (await res.json()).error || {}; } catch { /* not JSON */ }
  throw new ApiError(res.status, e.code, human(res.status, e.code, e.message, res.headers.get('Retry-After')));
}

let refreshing = null;
export function refresh() {
  refreshing ??= send('POST', '/api/auth/refresh', {}).then(r => r.ok).finally(() => { refreshing = null; });
  return refreshing;
}

// fetch with one silent refresh; returns the Response (ok) or throws ApiError.
export async function raw(method, path, body, extra, signal) {
  let res = await send(method, path, body, extra, signal);
  if (res.status === 401 && !path.startsWith('/api/auth/') && await refresh()) {
    res = await send(method, path, body, extra, signal);
  }
  if (!res.ok) await fail(res);
  return res;
}

export async function api(method, path, body) {
  const res = await raw(method, path, body);
  return res.status === 204 ? null : res.json();
}

// Reads an SSE response body, calling onEvent(name, data, id) per event.
export async function readEvents(res, onEvent) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n/g, '\n');
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut); buf = buf.slice(cut + 2);
      let name = 'message', data = '', id = null;
      for (const line of block.split('\n')) {
        const c = line.indexOf(':'); if (c === 0) continue;
        const f = c < 0 ? line : line.slice(0, c), v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (f === 'event') name = v; else if (f === 'data') data += (data ? '\n' : '') + v; else if (f === 'id') id = v;
      }
      if (data) onEvent(name, JSON.parse(data), id);
    }
  }
}
