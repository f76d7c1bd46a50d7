// A question's clock as the server states it: `remaining_ms` when the frame arrived,
// counted down locally from that moment (never from a guess of the deadline), frozen
// while the host pauses.
import { html, useEffect, useRef, useState } from '../../ui.js';

/** A clock from a frame's `remaining_ms` (and the question's `time_limit_ms`). */
export function clockFrom(remainingMs, paused = false, limitMs = 0) {
  const ms = Math.max(0, Number(remainingMs) || 0);
  return {
    deadline: performance.now() + ms,
    paused: Boolean(paused),
    frozenMs: ms,
    limitMs: Number(limitMs) || 0,
  };
}

export function msLeft(clock) {
  if (!clock) return 0;
  if (clock.paused) return clock.frozenMs;
  return Math.max(0, clock.deadline - performance.now());
}

/** Milliseconds left on `clock`, re-rendering a few times a second while it runs. */
export function useMsLeft(clock) {
  const [, tick] = useState(0);
  useEffect(() => {
    if (!clock || clock.paused) return undefined;
    const timer = setInterval(() => {
      tick((n) => n + 1);
      if (msLeft(clock) <= 0) clearInterval(timer);
    }, 200);
    return () => clearInterval(timer);
  }, [clock]);
  return msLeft(clock);
}

/**
 * The seconds left, big. role=timer is not announced on every tick; a separate polite
 * live region speaks only at 10 s, 5 s and the end, so a screen reader is not flooded.
 */
export function Countdown({ clock, className = '', label = 'Time left' }) {
  const left = useMsLeft(clock);
  const secs = Math.ceil(left / 1000);
  const [spoken, setSpoken] = useState('');
  const last = useRef(null);
  useEffect(() => {
    let say = null;
    if (clock && clock.paused) say = 'Paused';
    else if (secs === 0) say = "Time's up";
    else if (secs === 10 || secs === 5) say = `${secs} seconds left`;
    if (say && say !== last.current) {
      last.current = say;
      setSpoken(say);
    }
  }, [secs, clock]);
  const total = clock ? Math.max(1, clock.limitMs || 0) : 1;
  const urgent = !clock?.paused && secs <= 5;
  return html`<div class=${`countdown ${urgent ? 'countdown--urgent' : ''} ${className}`}>
    <span role="timer" aria-label=${`${label}: ${secs} seconds`} class="countdown-secs"
      >${secs}</span
    >
    ${clock && clock.limitMs
      ? html`<span class="countdown-bar" aria-hidden="true"
          ><span class="countdown-fill" style=${{ width: `${Math.min(100, (left / total) * 100)}%` }}></span
        ></span>`
      : null}
    <span class="sr-only" aria-live="polite">${spoken}</span>
  </div>`;
}
