// The player's phone during a game: waiting room, four big answer buttons, "answer
// locked", the outcome after each question, and the final place. Everything is drawn
// from the session's state, so a reload or reconnect (a fresh room snapshot) lands on
// the right screen with the seat's score.
import { html, navigate, useEffect, useRef, useState, useUser } from '../../ui.js';
import { Shape, letterForKey, optionText, ordinal } from './answers.js';
import { Countdown, useMsLeft } from './clock.js';
import { PlayerSession, normalizeCode, savedGuest, sessionFor } from './session.js';

function useSessionState(session) {
  const [state, setState] = useState(session ? session.state : null);
  useEffect(() => {
    if (!session) return undefined;
    setState(session.state);
    const update = () => setState(session.state);
    session.addEventListener('change', update);
    return () => session.removeEventListener('change', update);
  }, [session]);
  return state;
}

export function Play({ params }) {
  const code = normalizeCode(params && params.code);
  const user = useUser();
  const [session, setSession] = useState(() => (code ? sessionFor(code) : null));


  useEffect(() => {
    if (!code) {
      navigate('#/join');
      return;
    }
    const live = sessionFor(code);
    if (live) {
      setSession(live);
      return;
    }
    // A reload: the guest's rejoin token, or the learner's account, takes the seat back.
    if (savedGuest(code)) {
      const next = PlayerSession.start(code, 'guest');
      next.joinAsGuest(null);
      setSession(next);
    } else if (user) {
      const next = PlayerSession.start(code, 'learner');
      next.joinAsLearner(null, true).catch(() => {});
      setSession(next);
    } else {
      navigate(`#/join/${code}`);
    }
  }, [code, user && user.id]);

  const state = useSessionState(session);
  if (!session || !state) {
    return html`<div class="play"><p class="play-wait" role="status">Joining the game…</p></div>`;
  }
  return html`<${PlayScreen} session=${session} state=${state} />`;
}

function PlayScreen({ session, state }) {
  const { status, phase } = state;
  let body;
  let live = '';
  if (status === 'joining') {
    body = html`<div class="play-center"><p class="play-big">Joining the game…</p></div>`;
    live = 'Joining the game';
  } else if (status === 'failed' || status === 'kicked') {
    body = html`<${Refused} state=${state} code=${session.code} />`;
    live = state.error ? state.error.message : '';
  } else if (status === 'ended' || phase === 'ended') {
    body = html`<${Final} state=${state} />`;
    live = finalSentence(state);
  } else if (phase === 'lobby') {
    body = html`<${Lobby} session=${session} state=${state} />`;
    live = `You're in! ${state.players} ${state.players === 1 ? 'player' : 'players'}.`;
  } else if (phase === 'question' && state.question) {
    body = html`<${Question} session=${session} state=${state} />`;
    live = questionSentence(state);
  } else {
    body = html`<${Reveal} state=${state} />`;
    live = revealSentence(state);
  }
  return html`<div class=${`play play--${status === 'in' ? phase : status}`}>
    <${PlayBar} state=${state} />
    ${body}
    <p class="sr-only" aria-live="polite" aria-atomic="true">${live}</p>
  </div>`;
}

function PlayBar({ state }) {
  const { room, you, question, phase } = state;
  if (!room) return null;
  return html`<header class="play-bar">
    <span class="play-bar-title">${room.title}</span>
    ${phase === 'question' && question
      ? html`<span class="play-bar-progress">Question ${question.index + 1} of ${question.total}</span>`
      : null}
    ${you ? html`<span class="play-bar-score"><span class="sr-only">Your score: </span>${you.score.toLocaleString()} pts</span>` : null}
  </header>`;
}

function Lobby({ session, state }) {
  const { you, players, room } = state;
  return html`<section class="play-center play-lobby" aria-labelledby="lobby-title">
    <h1 id="lobby-title" class="play-big">You're in!</h1>
    ${you ? html`<p class="play-name">${you.name}</p>` : null}
    <p class="play-count">${players} ${players === 1 ? 'player' : 'players'} in the game</p>
    <p class="play-hint">Waiting for the host to start${room ? html` “${room.title}”` : ''}. See your name on the screen?</p>
    <button type="button" class="room-btn room-btn--quiet" onClick=${() => {
      session.leave();
      navigate('#/join');
    }}>Leave game</button>
  </section>`;
}

function Question({ session, state }) {
  const { question: q, clock, answer, choice, notice, you } = state;
  const left = useMsLeft(clock);
  const heading = useRef(null);
  const late = you && q.index < you.first_question;
  const paused = clock && clock.paused;
  const open = !answer && !late && !paused && left > 0;

  useEffect(() => {
    if (heading.current) heading.current.focus({ preventScroll: true });
  }, [q.index]);

  useEffect(() => {
    if (!open) return undefined;
    const onKey = (event) => {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      const target = event.target;
      if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
      const letter = letterForKey(event.key);
      if (letter && q.options.some((o) => o.value === letter)) {
        event.preventDefault();
        session.answer(letter);
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [open, q.index]);

  const top = html`<div class="play-q-top">
    <${Countdown} clock=${clock} className="play-countdown" />
    ${q.points !== 1
      ? html`<span class=${`points-badge points-badge--x${q.points}`}>${q.points === 0 ? 'No points' : 'Double points'}</span>`
      : null}
  </div>`;

  const text = html`<h1 class="play-q-text" tabindex="-1" ref=${heading}>${q.question}</h1>`;

  if (late) {
    return html`<section class="play-center">
      ${top}${text}
      <p class="play-big">Get ready!</p>
      <p class="play-hint">You joined during this question. You play from the next one.</p>
    </section>`;
  }
  if (answer) {
    const picked = choice && choice.index === q.index ? choice.option : null;
    return html`<section class="play-center play-locked">
      ${top}
      ${picked
        ? html`<div class=${`locked-answer answer--${picked}`}><${Shape} letter=${picked} /><span class="answer-letter">${picked}</span></div>`
        : null}
      <h1 class="play-big">${answer === 'locked' ? 'Answer locked' : 'Sending your answer…'}</h1>
      ${picked ? html`<p class="play-hint">You answered ${picked}: ${optionText(q.options, picked)}</p>` : null}
      <p class="play-hint">Waiting for the others…</p>
    </section>`;
  }
  return html`<section class="play-question" aria-labelledby="play-q-text">
    ${top}
    <h1 id="play-q-text" class="play-q-text" tabindex="-1" ref=${heading}>${q.question}</h1>
    ${paused
      ? html`<p class="play-paused">Paused by the host. Wait a moment…</p>`
      : left <= 0
        ? html`<p class="play-paused">Time's up!</p>`
        : null}
    ${notice ? html`<p class="play-notice" role="alert">${notice}</p>` : null}
    <div class=${`answer-grid answer-grid--${q.options.length}`} role="group" aria-label="Answers">
      ${q.options.map(
        (o, i) => html`<button
          type="button"
          key=${o.value}
          class=${`answer-btn answer--${o.value}`}
          aria-label=${`Answer ${o.value}: ${o.text}`}
          aria-keyshortcuts=${`${i + 1} ${o.value}`}
          disabled=${!open}
          onClick=${() => session.answer(o.value)}
        >
          <${Shape} letter=${o.value} />
          <span class="answer-letter">${o.value}</span>${' '}<span class="answer-text">${o.text}</span>
        </button>`,
      )}
    </div>
  </section>`;
}

function Reveal({ state }) {
  const { result, closed, you, question } = state;
  const correct = closed ? closed.correct_option : null;
  let verdict;
  if (closed && closed.skipped) {
    verdict = html`<p class="play-big">Question skipped</p><p class="play-hint">Nobody scores on this one.</p>`;
  } else if (result && closed && result.question === closed.question) {
    if (!result.answered) {
      verdict = html`<div class="verdict verdict--none"><${Mark} kind="none" /><p class="play-big">No answer</p></div>`;
    } else if (result.correct) {
      verdict = html`<div class="verdict verdict--right"><${Mark} kind="right" /><p class="play-big">Correct!</p></div>`;
    } else {
      verdict = html`<div class="verdict verdict--wrong"><${Mark} kind="wrong" /><p class="play-big">Not this time</p></div>`;
    }
  } else if (closed) {
    verdict = html`<p class="play-big">Time's up!</p><p class="play-hint">Counting the answers…</p>`;
  } else {
    verdict = html`<p class="play-big">Get ready for the next question</p>`;
  }
  const options = question ? question.options : [];
  return html`<section class="play-center play-reveal" aria-labelledby="reveal-title">
    <h1 id="reveal-title" class="sr-only">Result of this question</h1>
    ${verdict}
    ${result && closed && result.question === closed.question && !closed.skipped
      ? html`<dl class="play-stats">
          <div><dt>Points</dt><dd>+${result.points.toLocaleString()}</dd></div>
          ${result.streak_bonus
            ? html`<div><dt>Streak bonus</dt><dd>+${result.streak_bonus.toLocaleString()}</dd></div>`
            : null}
          <div><dt>Streak</dt><dd>${result.streak}</dd></div>
          <div><dt>Place</dt><dd>${ordinal(result.rank)} <${RankMove} rank=${result.rank} previous=${result.previous_rank} /></dd></div>
          <div><dt>Score</dt><dd>${result.score.toLocaleString()}</dd></div>
        </dl>`
      : you
        ? html`<dl class="play-stats">
            <div><dt>Score</dt><dd>${you.score.toLocaleString()}</dd></div>
            ${you.rank ? html`<div><dt>Place</dt><dd>${ordinal(you.rank)}</dd></div>` : null}
          </dl>`
        : null}
    ${correct && !closed.skipped
      ? html`<p class="play-correct">
          The answer was${' '}
          <span class=${`answer-chip answer--${correct}`}><${Shape} letter=${correct} /> ${correct}</span>${' '}
          ${optionText(options, correct)}
        </p>`
      : null}
    ${closed && closed.explanation ? html`<p class="play-explanation">${closed.explanation}</p>` : null}
  </section>`;
}

function RankMove({ rank, previous }) {
  if (previous == null || previous === rank) return null;
  const up = previous > rank;
  const by = Math.abs(previous - rank);
  return html`<span class=${`rank-move rank-move--${up ? 'up' : 'down'}`}
    ><span aria-hidden="true">${up ? '▲' : '▼'}${by}</span
    ><span class="sr-only">, ${up ? 'up' : 'down'} ${by} ${by === 1 ? 'place' : 'places'}</span></span
  >`;
}

function Mark({ kind }) {
  const path = {
    right: html`<path d="M6 12.5l4 4 8-9" />`,
    wrong: html`<path d="M7 7l10 10M17 7L7 17" />`,
    none: html`<path d="M7 12h10" />`,
  }[kind];
  return html`<svg class="verdict-mark" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
    <circle cx="12" cy="12" r="11" />${path}
  </svg>`;
}

function Final({ state }) {
  const { final, ended, you, room } = state;
  const podium = ended ? ended.podium : [];
  const players = ended ? ended.players : state.players;
  const reason = ended && ended.reason;
  const why = {
    ended_by_host: 'The host ended the game.',
    host_left: 'The host left, so the game ended.',
    abandoned: 'Everyone left, so the game ended.',
    unavailable: 'The game could not go on.',
  }[reason];
  return html`<section class="play-center play-final" aria-labelledby="final-title">
    ${final
      ? html`<p class="play-hint">Game over${room ? html` · ${room.title}` : ''}</p>
          <h1 id="final-title" class="play-huge">${ordinal(final.rank)} place</h1>
          <p class="play-count">of ${players} ${players === 1 ? 'player' : 'players'}</p>
          <dl class="play-stats">
            <div><dt>Score</dt><dd>${final.score.toLocaleString()}</dd></div>
            <div><dt>Correct</dt><dd>${final.correct} of ${final.answered}</dd></div>
            ${you && !you.guest ? html`<div><dt>XP earned</dt><dd>+${final.xp}</dd></div>` : null}
          </dl>`
      : html`<h1 id="final-title" class="play-big">Game over</h1>`}
    ${why ? html`<p class="play-hint">${why}</p>` : null}
    ${podium && podium.length
      ? html`<ol class="mini-podium" aria-label="Podium">
          ${podium.map(
            (p) => html`<li key=${p.player_id} class=${`mini-podium-${p.rank}`}>
              <span class="mini-podium-rank">${ordinal(p.rank)}</span>
              <span class="mini-podium-name">${p.name}</span>
              <span class="mini-podium-score">${p.score.toLocaleString()}</span>
            </li>`,
          )}
        </ol>`
      : null}
    <a class="room-btn room-btn--primary" href="#/join">Join another game</a>
  </section>`;
}

function Refused({ state, code }) {
  const error = state.error || { message: 'You are not in this game.' };
  return html`<section class="play-center play-refused">
    <h1 class="play-big">${state.status === 'kicked' ? 'Removed from the game' : "Can't play this game"}</h1>
    <p class="play-hint">${error.message}</p>
    ${error.code === 'guests_not_allowed'
      ? html`<a class="room-btn" href=${`#/login?next=${encodeURIComponent(`#/join/${code}`)}`}>Sign in</a>`
      : null}
    <a class="room-btn room-btn--primary" href="#/join">Join a game</a>
  </section>`;
}

function questionSentence(state) {
  const { question: q, answer, clock, you } = state;
  if (you && q.index < you.first_question) return 'You play from the next question.';
  if (answer === 'locked') return 'Answer locked. Waiting for the others.';
  if (clock && clock.paused) return 'The host paused the game.';
  return `Question ${q.index + 1} of ${q.total}.`;
}

function revealSentence(state) {
  const { result, closed } = state;
  if (closed && closed.skipped) return 'The host skipped this question.';
  if (!result || !closed || result.question !== closed.question) return '';
  const verdict = !result.answered ? 'No answer.' : result.correct ? 'Correct!' : 'Wrong.';
  return `${verdict} ${result.points} points. You are ${ordinal(result.rank)} with ${result.score} points.`;
}

function finalSentence(state) {
  const { final } = state;
  if (!final) return 'The game is over.';
  return `Game over. You finished ${ordinal(final.rank)} with ${final.score} points.`;
}
