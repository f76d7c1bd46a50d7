// The websocket protocol questpath.v1 (docs/protocol.md), with no UI code: tickets,
// connect, reconnect with backoff, request/reply by id/re, and the app-wide learner
// connection.

import { api, auth, ApiError } from './api.js';

const SUBPROTOCOL = 'questpath.v1';
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10_000;
const REQUEST_TIMEOUT_MS = 20_000;

/** An `error` frame answering a request, or a request that could not get an answer. */
export class SocketError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'SocketError';
    this.code = code;
  }
}

/**
 * One websocket connection that keeps itself connected until close() is called.
 *
 * Every server frame goes to the `on(type)` listeners (and `on('*')`), replies included;
 * request() additionally resolves with the reply (the first frame whose `re` is the
 * request's id). An `error` frame answering a request rejects that request instead of
 * reaching the 'error' listeners. Frames sent while (re)connecting wait for the next
 * `hello`, so a session is resumed before anything else is said.
 */
export class GameSocket extends EventTarget {
  constructor({ ticket, url } = {}) {
    super();
    if (typeof ticket !== 'function') throw new TypeError('GameSocket needs a ticket function');
    this.ticket = ticket;
    this.url = url || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws`;
    this.status = 'closed';
    this.hello = null;
    this._ws = null;
    this._wanted = false;
    this._attempt = 0;
    this._timer = null;
    this._seq = 0;
    this._pending = new Map();
    this._queue = [];
    this._handlers = new Map();
    this._generation = 0;
    this._onOnline = () => {
      // Back online: do not wait out the backoff.
      if (this._wanted && this.status === 'reconnecting' && this._timer) {
        clearTimeout(this._timer);
        this._timer = null;
        this._open();
      }
    };
  }

  /** Starts connecting (no-op when already connected or connecting). */
  connect() {
    if (this._wanted) return;
    this._wanted = true;
    this._attempt = 0;
    window.addEventListener('online', this._onOnline);
    this._open();
  }

  /** Closes with 1000 and stops reconnecting; pending requests and queued frames fail. */
  close() {
    this._wanted = false;
    this._generation += 1;
    window.removeEventListener('online', this._onOnline);
    clearTimeout(this._timer);
    this._timer = null;
    const ws = this._ws;
    this._ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
    this._failAll('connection_lost', 'The connection was closed.');
    this._setStatus('closed');
  }

  /** Listens to server frames of one `type` ('*' for all); returns an unsubscribe function. */
  on(type, fn) {
    let set = this._handlers.get(type);
    if (!set) this._handlers.set(type, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Sends a frame and resolves with its reply, or rejects with a SocketError. */
  request(type, fields = {}) {
    const id = String(++this._seq);
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, sent: false, timer: null };
      const fail = (err) => {
        clearTimeout(entry.timer);
        this._pending.delete(id);
        this._queue = this._queue.filter((q) => q.frame.id !== id);
        reject(err);
      };
      entry.timer = setTimeout(
        () => fail(new SocketError('timeout', 'The server did not answer in time.')),
        REQUEST_TIMEOUT_MS,
      );
      this._pending.set(id, entry);
      this._transmit({ ...fields, type, id }, fail, () => {
        entry.sent = true;
      });
    });
  }

  /** Sends a frame without waiting for an answer. */
  send(type, fields = {}) {
    this._transmit({ ...fields, type }, () => {});
  }

  _transmit(frame, fail, onSent) {
    if (!this._wanted) {
      fail(new SocketError('not_connected', 'Not connected to the game server.'));
      return;
    }
    if (this.status === 'open' && this._ws && this._ws.readyState === WebSocket.OPEN) {
      this._ws.send(JSON.stringify(frame));
      if (onSent) onSent();
    } else {
      this._queue.push({ frame, fail, onSent });
    }
  }

  _setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.dispatchEvent(new Event('status'));
  }

  async _open() {
    const generation = ++this._generation;
    this._setStatus(this._attempt === 0 && !this.hello ? 'connecting' : 'reconnecting');
    let ticket;
    try {
      ticket = await this.ticket();
    } catch (err) {
      if (generation !== this._generation) return;
      if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 404)) {
        // Signed out, or the room is gone: nothing to reconnect to.
        this.close();
        this.dispatchEvent(Object.assign(new Event('ticketerror'), { error: err }));
        return;
      }
      this._scheduleReconnect();
      return;
    }
    if (generation !== this._generation) return;
    let ws;
    try {
      ws = new WebSocket(`${this.url}?ticket=${encodeURIComponent(ticket)}`, SUBPROTOCOL);
    } catch (err) {
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    ws.onmessage = (event) => this._receive(event.data);
    ws.onclose = (event) => {
      if (this._ws !== ws) return;
      this._ws = null;
      this._failAll('connection_lost', 'The connection was lost before the server answered.', false);
      if (!this._wanted) {
        this._setStatus('closed');
        return;
      }
      // 1012: the server is restarting; another instance can take us at once.
      this._scheduleReconnect(event.code === 1012 ? 0 : undefined);
    };
  }

  _scheduleReconnect(delay) {
    if (!this._wanted) return;
    this._setStatus('reconnecting');
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this._attempt);
    this._attempt += 1;
    const wait = delay ?? Math.round(base * (0.75 + Math.random() * 0.5));
    clearTimeout(this._timer);
    this._timer = setTimeout(() => {
      this._timer = null;
      this._open();
    }, wait);
  }

  _receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== 'string') return;
    if (frame.type === 'hello') {
      this.hello = frame;
      this._attempt = 0;
      this._setStatus('open');
      this._flushQueue();
    }
    const pending = frame.re != null ? this._pending.get(String(frame.re)) : null;
    if (pending) {
      this._pending.delete(String(frame.re));
      clearTimeout(pending.timer);
      if (frame.type === 'error') {
        pending.reject(new SocketError(frame.code, frame.message));
        this._emit('*', frame);
        return;
      }
      pending.resolve(frame);
    }
    this._emit(frame.type, frame);
    this._emit('*', frame);
  }

  _emit(type, frame) {
    const set = this._handlers.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(frame);
      } catch (err) {
        console.error(err);
      }
    }
  }

  _flushQueue() {
    const queue = this._queue;
    this._queue = [];
    for (const { frame, fail, onSent } of queue) this._transmit(frame, fail, onSent);
  }

  // A drop mid-game (`everything` false) fails the requests already sent (their answer
  // is lost with the connection) and keeps the queued ones for the next connection;
  // close() fails everything.
  _failAll(code, message, everything = true) {
    for (const [id, pending] of [...this._pending]) {
      if (!everything && !pending.sent) continue;
      clearTimeout(pending.timer);
      this._pending.delete(id);
      pending.reject(new SocketError(code, message));
    }
    if (everything) {
      const queue = this._queue;
      this._queue = [];
      for (const { fail } of queue) fail(new SocketError(code, message));
    }
  }
}

// ---- the reconnect banner: which sockets in use are reconnecting ----

const watched = new Set();
const bannerListeners = new Set();

function bannerChanged() {
  for (const fn of [...bannerListeners]) fn(connectionBanner.reconnecting);
}

/** Lets the app's "Reconnecting…" banner cover this socket; returns an unwatch function. */
export function watchSocket(sock) {
  if (watched.has(sock)) return () => unwatch(sock);
  watched.add(sock);
  sock.addEventListener('status', bannerChanged);
  bannerChanged();
  return () => unwatch(sock);
}

function unwatch(sock) {
  if (!watched.delete(sock)) return;
  sock.removeEventListener('status', bannerChanged);
  bannerChanged();
}

/** What the shell's banner shows: `reconnecting` is true while any watched socket is. */
export const connectionBanner = {
  get reconnecting() {
    for (const sock of watched) if (sock.status === 'reconnecting') return true;
    return false;
  },
  subscribe(fn) {
    bannerListeners.add(fn);
    return () => bannerListeners.delete(fn);
  },
};

// ---- the signed-in learner's connection ----

let learner = null;

/** The app-wide connection of the signed-in learner (connected on sign-in, closed on sign-out). */
export function learnerSocket() {
  if (!learner) {
    learner = new GameSocket({
      ticket: async () => (await api.post('/ws/ticket')).ticket,
    });
    watchSocket(learner);
  }
  return learner;
}

auth.subscribe((user, previous) => {
  if (user && previous && user.id === previous.id) return;
  if (learner && learner.status !== 'closed') learner.close();
  if (user) {
    // A different account on this tab gets a fresh connection (and a fresh hello).
    learner = learner || learnerSocket();
    learner.hello = null;
    learner.connect();
  }
});
