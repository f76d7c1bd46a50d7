// The four answers as every room screen shows them: a colour AND a shape AND a letter,
// so colour-blind players and a washed-out projector still tell them apart.
import { html } from '../../ui.js';

export const LETTERS = ['A', 'B', 'C', 'D'];

export const ANSWERS = {
  A: { colour: 'red', shape: 'triangle' },
  B: { colour: 'blue', shape: 'diamond' },
  C: { colour: 'yellow', shape: 'circle' },
  D: { colour: 'green', shape: 'square' },
};

// Functions, not shared vnodes: preact must not see one vnode in two places.
const PATHS = {
  triangle: () => html`<polygon points="12,2.5 22.5,21 1.5,21" />`,
  diamond: () => html`<polygon points="12,1.5 22.5,12 12,22.5 1.5,12" />`,
  circle: () => html`<circle cx="12" cy="12" r="10" />`,
  square: () => html`<rect x="2.5" y="2.5" width="19" height="19" rx="1.5" />`,
};

/** The shape of answer `letter`, decorative (the letter and text carry the meaning). */
export function Shape({ letter, className = '' }) {
  const answer = ANSWERS[letter] || ANSWERS.A;
  return html`<svg
    class=${`answer-shape ${className}`}
    viewBox="0 0 24 24"
    aria-hidden="true"
    focusable="false"
  >${PATHS[answer.shape]()}</svg>`;
}

/** "red triangle", for text that names an answer without its colour alone. */
export function answerLook(letter) {
  const answer = ANSWERS[letter];
  return answer ? `${answer.colour} ${answer.shape}` : '';
}

/** The text of option `letter` among `options` ([{value, text}]), or ''. */
export function optionText(options, letter) {
  const option = (options || []).find((o) => o.value === letter);
  return option ? option.text : '';
}

/** 1 -> "1st", 22 -> "22nd". */
export function ordinal(n) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${{ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] || 'th'}`;
}

/** The key an answer is chosen with: 1-4 or A-D. */
export function letterForKey(key) {
  const k = String(key).toUpperCase();
  if (LETTERS.includes(k)) return k;
  const n = Number(k);
  return n >= 1 && n <= 4 ? LETTERS[n - 1] : null;
}

export function prefersReducedMotion() {
  return window.matchMedia('(prefers-reduced-motion: reduce)').matches;
}
