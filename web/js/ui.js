// Shared UI helpers: the vendored preact + htm, toasts, error messages and navigation.
// No view code here, so every screen (learner, host, player) can import it.

import { ApiError, auth } from './api.js';
import { SocketError } from './socket.js';
import { engagement } from './engagement.js';
import { useEffect, useState } from '../vendor/preact-htm.js';

export {
  html,
  render,
  h,
  createContext,
  useState,
  useEffect,
  useRef,
  useMemo,
  useCallback,
  useContext,
} from '../vendor/preact-htm.js';

// htm's standalone bundle does not export preact's Fragment; a component that returns
// its children renders the same way.
export const Fragment = (props) => props.children;

const TOAST_MS = { info: 5000, success: 5000, warning: 7000, error: 8000 };

function toastRegion() {
  let region = document.getElementById('toasts');
  if (!region) {
    region = document.createElement('section');
    region.id = 'toasts';
    region.className = 'toasts';
    region.setAttribute('aria-label', 'Notifications');
    region.setAttribute('aria-live', 'polite');
    document.body.append(region);
  }
  return region;
}

/**
 * Shows a short message in the page's aria-live region. `kind` is 'info', 'success',
 * 'warning' or 'error' (errors are announced at once with role=alert).
 */
export function toast(message, kind = 'info') {
  const region = toastRegion();
  const item = document.createElement('div');
  item.className = `toast toast-${kind}`;
  if (kind === 'error') item.setAttribute('role', 'alert');
  const text = document.createElement('p');
  text.textContent = String(message);
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'toast-close';
  close.setAttribute('aria-label', 'Dismiss notification');
  close.textContent = '×';
  const dismiss = () => item.remove();
  close.addEventListener('click', dismiss);
  item.append(text, close);
  region.append(item);
  // Keep the stack short on small screens.
  while (region.children.length > 4) region.firstElementChild.remove();
  setTimeout(dismiss, TOAST_MS[kind] ?? TOAST_MS.info);
  return dismiss;
}

// Friendlier words for websocket error codes whose server message is terse.
const SOCKET_MESSAGES = {
  connection_lost: 'The connection was lost. Try again in a moment.',
  timeout: 'The server did not answer in time. Try again.',
  not_connected: 'Not connected to the game server.',
  rate_limited: 'Slow down a little and try again.',
  unavailable: 'The server could not do that just now. Try again.',
};

/** A message for people from an ApiError, a socket error (frame or SocketError) or anything else. */
export function describeError(err) {
  if (err == null) return 'Something went wrong.';
  if (err instanceof ApiError) {
    if (err.status === 0) return offlineOr('Cannot reach the server. Check your connection and try again.');
    return err.detail || err.message || `The server answered ${err.status}.`;
  }
  if (err instanceof SocketError || (typeof err === 'object' && err.type === 'error' && 'code' in err)) {
    return SOCKET_MESSAGES[err.code] || err.message || 'The game server refused that.';
  }
  if (err instanceof TypeError && /fetch|network/i.test(err.message)) {
    return offlineOr('Cannot reach the server. Check your connection and try again.');
  }
  if (typeof err === 'string') return err;
  return err.message || 'Something went wrong.';
}

function offlineOr(message) {
  return navigator.onLine === false
    ? 'You are offline. QuestPath needs a network connection for this.'
    : message;
}

/** The signed-in user (null when signed out); re-renders the component on every change. */
export function useUser() {
  const [user, setUser] = useState(auth.user);
  useEffect(() => {
    setUser(auth.user);
    return auth.subscribe((next) => setUser(next));
  }, []);
  return user;
}

/** A GameSocket's status ('connecting' | 'open' | 'reconnecting' | 'closed'), kept current. */
export function useSocketStatus(sock) {
  const [status, setStatus] = useState(sock ? sock.status : 'closed');
  useEffect(() => {
    if (!sock) return undefined;
    const update = () => setStatus(sock.status);
    update();
    sock.addEventListener('status', update);
    return () => sock.removeEventListener('status', update);
  }, [sock]);
  return status;
}

/** Goes to a hash route, e.g. navigate('#/host'). Re-renders even when already there. */
export function navigate(hash) {
  const target = hash.startsWith('#') ? hash : `#${hash.startsWith('/') ? '' : '/'}${hash}`;
  if (location.hash === target) {
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = target;
  }
}

/** The learner's streak, daily goal, unread count and league frame (engagement.js), kept current. */
export function useEngagement() {
  const [state, setState] = useState(engagement.state);
  useEffect(() => {
    setState(engagement.state);
    return engagement.subscribe(setState);
  }, []);
  return state;
}
