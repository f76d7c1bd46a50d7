// Small pieces the learner screens share: data loading, status messages, icons and
// formatting.

import { html, useCallback, useEffect, useRef, useState, describeError } from '../../ui.js';

/**
 * Runs `load()` on mount and whenever `deps` change. `data` keeps the last value while
 * reloading; `setData` lets a screen apply an answer it already has (a PUT's result).
 */
export function useAsync(load, deps) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const seq = useRef(0);
  const run = useCallback(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    Promise.resolve()
      .then(load)
      .then(
        (data) => mine === seq.current && setState({ data, error: null, loading: false }),
        (error) => mine === seq.current && setState((s) => ({ ...s, error, loading: false })),
      );
  }, deps);
  useEffect(() => {
    run();
    return () => {
      seq.current += 1;
    };
  }, [run]);
  const setData = useCallback((update) => {
    setState((s) => ({ ...s, data: typeof update === 'function' ? update(s.data) : update }));
  }, []);
  return { ...state, reload: run, setData };
}

export function Loading({ label = 'Loading…' }) {
  return html`<p class="loading" aria-live="polite"><span class="spinner" aria-hidden="true"></span>${label}</p>`;
}

export function ErrorBox({ error, retry }) {
  return html`<div class="notice notice-error" role="alert">
    <p>${describeError(error)}</p>
    ${retry && html`<button type="button" class="button button-secondary" onClick=${retry}>Try again</button>`}
  </div>`;
}

/** A form's field error, tied to its input with aria-describedby. */
export function FieldError({ id, message }) {
  if (!message) return null;
  return html`<p class="field-error" id=${id}>${message}</p>`;
}

export const XP_PER_LEVEL = 100;

export function levelProgress(totalXp) {
  const xp = Math.max(0, totalXp || 0);
  return { into: xp % XP_PER_LEVEL, needed: XP_PER_LEVEL };
}

export function XpBar({ totalXp, level, label }) {
  const { into, needed } = levelProgress(totalXp);
  return html`<div class="xp-progress">
    <div class="xp-progress-text">
      <span><strong>Level ${level}</strong></span>
      <span>${into} / ${needed} XP to level ${level + 1}</span>
    </div>
    <div class="progress" role="progressbar" aria-label=${label || `Progress to level ${level + 1}`}
      aria-valuemin="0" aria-valuemax=${needed} aria-valuenow=${into}>
      <span class="progress-fill" style=${{ width: `${(into / needed) * 100}%` }}></span>
    </div>
  </div>`;
}

export function ProgressBar({ value, max, label }) {
  const pct = max > 0 ? Math.round((value / max) * 100) : 0;
  return html`<div class="progress" role="progressbar" aria-label=${label}
    aria-valuemin="0" aria-valuemax=${max} aria-valuenow=${value}>
    <span class="progress-fill" style=${{ width: `${pct}%` }}></span>
  </div>`;
}

const numberFormat = new Intl.NumberFormat();
export const fmt = (n) => numberFormat.format(n ?? 0);

export function formatDate(iso) {
  try {
    return new Date(iso).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
  } catch {
    return iso;
  }
}

/** "2 days 5 h", "3 h 12 min", "4 min" until a moment. */
export function timeUntil(iso, now = Date.now()) {
  const ms = new Date(iso).getTime() - now;
  if (!Number.isFinite(ms) || ms <= 0) return 'now';
  const min = Math.floor(ms / 60000);
  const days = Math.floor(min / 1440);
  const hours = Math.floor((min % 1440) / 60);
  if (days > 0) return `${days} day${days === 1 ? '' : 's'} ${hours} h`;
  if (hours > 0) return `${hours} h ${min % 60} min`;
  return `${Math.max(1, min)} min`;
}

export const titleCase = (s) => (s ? s.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()) : '');

// ---- icons (decorative; the text beside them carries the meaning) ----

export function Icon({ name, size = 24 }) {
  const paths = ICONS[name] ? ICONS[name]() : null;
  return html`<svg class="icon" width=${size} height=${size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">${paths}</svg>`;
}

const ICONS = {
  lock: () => html`<path fill="currentColor" d="M12 2a5 5 0 0 0-5 5v3H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-8a2 2 0 0 0-2-2h-1V7a5 5 0 0 0-5-5Zm-3 5a3 3 0 1 1 6 0v3H9V7Zm3 7a2 2 0 0 1 1 3.7V19h-2v-1.3A2 2 0 0 1 12 14Z"/>`,
  check: () => html`<path fill="currentColor" d="M9.5 16.2 5.3 12l-1.4 1.4 5.6 5.6L20.1 8.4 18.7 7z"/>`,
  star: () => html`<path fill="currentColor" d="m12 2.5 2.9 6.1 6.6.8-4.9 4.6 1.3 6.6L12 17.3l-5.9 3.3 1.3-6.6-4.9-4.6 6.6-.8z"/>`,
  play: () => html`<path fill="currentColor" d="M8 5v14l11-7z"/>`,
  trophy: () => html`<path fill="currentColor" d="M7 3h10v2h4v3a5 5 0 0 1-4.6 5 5 5 0 0 1-3.4 2.9V18h3v3H8v-3h3v-2.1A5 5 0 0 1 7.6 13 5 5 0 0 1 3 8V5h4V3Zm0 4H5v1a3 3 0 0 0 2 2.8V7Zm10 0v3.8A3 3 0 0 0 19 8V7h-2Z"/>`,
  clock: () => html`<path fill="currentColor" d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20Zm0 2a8 8 0 1 1 0 16 8 8 0 0 1 0-16Zm-1 3v6l5 3 1-1.7-4-2.3V7h-2Z"/>`,
  back: () => html`<path fill="currentColor" d="M20 11H7.8l5.6-5.6L12 4l-8 8 8 8 1.4-1.4L7.8 13H20z"/>`,
  host: () => html`<path fill="currentColor" d="M3 4h18v12h-7v2h3v2H7v-2h3v-2H3V4Zm2 2v8h14V6H5Zm3 2h8v2H8V8Z"/>`,
  cross: () => html`<path fill="currentColor" d="M18.3 5.7 16.9 4.3 12 9.2 7.1 4.3 5.7 5.7 10.6 12l-4.9 4.9 1.4 1.4 4.9-4.9 4.9 4.9 1.4-1.4-4.9-4.9z"/>`,
};

/** The answer shapes (Kahoot's convention): colour AND shape per option. */
export function OptionShape({ value }) {
  let shape;
  if (value === 'A') shape = html`<path d="M12 3 22 20H2z" />`;
  else if (value === 'B') shape = html`<path d="M12 2 22 12 12 22 2 12z" />`;
  else if (value === 'D') shape = html`<rect x="3" y="3" width="18" height="18" rx="1" />`;
  else shape = html`<circle cx="12" cy="12" r="10" />`;
  return html`<svg class="option-shape" width="28" height="28" viewBox="0 0 24 24" aria-hidden="true" focusable="false" fill="currentColor">${shape}</svg>`;
}

export const SHAPE_NAMES = { A: 'triangle', B: 'diamond', C: 'circle', D: 'square' };

/** Only this app's hash routes are followed after sign-in (no open redirects). */
export function safeNextHash(next) {
  return typeof next === 'string' && next.startsWith('#/') && !next.startsWith('#//') ? next : '#/';
}
