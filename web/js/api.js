// REST client for /api/v1 and the signed-in session.
//
// The access token lives only in this module's memory; the refresh token only in the
// server's httpOnly cookie. Nothing auth-related is written to localStorage. A 401
// triggers one refresh (shared by every request waiting on it, and serialised across
// tabs with the Web Locks API so two tabs never present the same refresh cookie at
// once), then the request is retried once.

const BASE = '/api/v1';

/** An error answered by the API (RFC 9457 problem+json), or a network failure (status 0). */
export class ApiError extends Error {
  constructor({ status = 0, code = 'network_error', detail = '', title = '', type = '', errors = [] } = {}) {
    super(detail || title || `Request failed (${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = detail || this.message;
    this.title = title;
    this.type = type;
    // {field: message} for validation errors, so forms can show them beside inputs.
    this.fields = {};
    for (const e of errors || []) if (e && e.field) this.fields[e.field] = e.message;
  }

  /** Builds the error from a failed Response (problem+json, or whatever it carried). */
  static async fromResponse(res) {
    let problem = null;
    const type = res.headers.get('content-type') || '';
    if (type.includes('json')) {
      try {
        problem = await res.json();
      } catch {
        problem = null;
      }
    }
    if (problem && typeof problem === 'object') {
      return new ApiError({ ...problem, status: res.status });
    }
    return new ApiError({
      status: res.status,
      code: `http_${res.status}`,
      detail: res.status >= 500
        ? 'The server had a problem. Try again in a moment.'
        : `The server answered ${res.status} ${res.statusText}`.trim(),
    });
  }
}

let accessToken = null;
let currentUser = null;
const listeners = new Set();
let refreshing = null;

// Other tabs learn about a sign-out so they do not keep showing a dead session.
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('questpath-auth') : null;
if (channel) {
  channel.onmessage = (event) => {
    if (event.data === 'signed-out' && currentUser) setSession(null, { broadcast: false });
  };
}

function setSession(session, { broadcast = true } = {}) {
  const previous = currentUser;
  accessToken = session ? session.access_token : null;
  currentUser = session ? session.user : null;
  if (!currentUser && previous && broadcast && channel) channel.postMessage('signed-out');
  notify(previous);
}

function notify(previous) {
  for (const fn of [...listeners]) {
    try {
      fn(currentUser, previous);
    } catch (err) {
      console.error(err);
    }
  }
}

async function fetchOrNetworkError(url, init) {
  try {
    return await fetch(url, init);
  } catch (err) {
    throw new ApiError({
      status: 0,
      code: 'network_error',
      detail: navigator.onLine === false
        ? 'You are offline. QuestPath needs a network connection for this.'
        : 'Cannot reach the server. Check your connection and try again.',
    });
  }
}

async function doRefresh() {
  const res = await fetchOrNetworkError(`${BASE}/auth/refresh`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  });
  if (res.ok) {
    setSession(await res.json());
    return true;
  }
  if (res.status === 401 || res.status === 403) {
    if (currentUser || accessToken) setSession(null);
    return false;
  }
  // 429 or 5xx: the session may still be fine; let the caller show the error.
  throw await ApiError.fromResponse(res);
}

/**
 * One refresh at a time: concurrent callers share the same promise. Resolves true when
 * a new access token is in memory, false when the session is gone (signed out).
 */
function refreshOnce() {
  if (!refreshing) {
    const run = navigator.locks?.request
      ? navigator.locks.request('questpath-refresh', doRefresh)
      : doRefresh();
    refreshing = run.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

function buildInit(init, token) {
  const headers = new Headers(init.headers || {});
  if (!headers.has('Accept')) headers.set('Accept', 'application/json');
  if (token) headers.set('Authorization', `Bearer ${token}`);
  return { ...init, headers, credentials: 'same-origin' };
}

/** fetch with the bearer token, one refresh-and-retry on 401. Throws ApiError unless ok. */
async function authedFetch(path, init = {}) {
  const url = path.startsWith('/api/') ? path : `${BASE}${path}`;
  const sentToken = accessToken;
  let res = await fetchOrNetworkError(url, buildInit(init, sentToken));
  if (res.status === 401) {
    // Another request may already have refreshed while this one was in flight.
    const fresh = accessToken && accessToken !== sentToken ? true : await refreshOnce();
    if (fresh) res = await fetchOrNetworkError(url, buildInit(init, accessToken));
  }
  if (!res.ok) throw await ApiError.fromResponse(res);
  return res;
}

async function json(method, path, body) {
  const init = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  const res = await authedFetch(path, init);
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') || '';
  return type.includes('json') ? res.json() : res.text();
}

export const api = {
  get: (path) => json('GET', path),
  post: (path, body) => json('POST', path, body),
  put: (path, body) => json('PUT', path, body),
  patch: (path, body) => json('PATCH', path, body),
  del: (path) => json('DELETE', path),
  /**
   * The fetch Response itself (downloads, text/csv uploads), with the same auth
   * handling. A non-2xx answer is thrown as an ApiError, like the JSON methods.
   */
  raw: (path, init = {}) => authedFetch(path, init),
};

/** The browser's IANA time zone (`Europe/Berlin`), or null when it has none to tell. */
export function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
  } catch {
    return null;
  }
}

async function startSession(path, body) {
  const res = await fetchOrNetworkError(`${BASE}${path}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw await ApiError.fromResponse(res);
  setSession(await res.json());
  return currentUser;
}

export const auth = {
  /** The signed-in user (the Me object of /api/v1/me) or null. */
  get user() {
    return currentUser;
  },

  /** fn(user, previousUser) after every change; returns an unsubscribe function. */
  subscribe(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },

  /**
   * On app start: one refresh with the cookie. Resolves to the user or null; a network
   * or server failure rejects (the caller can say so and stay signed out).
   */
  async restore() {
    await refreshOnce();
    return currentUser;
  },

  signIn(email, password) {
    return startSession('/auth/login', { email, password });
  },

  /** Signs in with a Google ID token (from Google Identity Services' button). */
  signInWithGoogle(idToken) {
    return startSession('/auth/google', { id_token: idToken });
  },

  signUp({ email, password, display_name }) {
    const body = { email, password };
    if (display_name && display_name.trim()) body.display_name = display_name.trim();
    // The learner's days (streaks, the daily goal) run in this zone; Profile changes it.
    const zone = browserTimeZone();
    if (!zone) return startSession('/auth/register', body);
    // A zone the server does not know must not block the sign-up: UTC until changed.
    return startSession('/auth/register', { ...body, time_zone: zone }).catch((err) => {
      if (err instanceof ApiError && err.fields.time_zone && Object.keys(err.fields).length === 1) {
        return startSession('/auth/register', body);
      }
      throw err;
    });
  },

  /** Signs this device out. The local session ends even if the server cannot be reached. */
  async signOut() {
    try {
      await fetchOrNetworkError(`${BASE}/auth/logout`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
      });
    } finally {
      setSession(null);
    }
  },

  /** Revokes every session of the user (all devices), then ends this one. */
  async signOutEverywhere() {
    await api.post('/auth/logout-all');
    setSession(null);
  },

  /**
   * Deletes the account for good, then ends the session here (the server has ended the
   * others). `password`: the current one; empty for a Google-only account, which needs a
   * sign-in within the last 5 minutes instead.
   */
  async deleteAccount(password) {
    await json('DELETE', '/me', password ? { password } : undefined);
    setSession(null);
  },

  /** The current access token (for websocket tickets), or null. */
  token() {
    return accessToken;
  },

  /** Merges fresh fields (a PATCH /me answer, an xp.granted frame) into the user. */
  update(fields) {
    if (!currentUser) return;
    const previous = currentUser;
    currentUser = { ...currentUser, ...fields };
    notify(previous);
  },
};
