// The projector: one 1280x720 screen, no scrolling, readable from the back of a
// classroom. Lobby (huge code, link, QR, names arriving), each question with its
// countdown and answered count, the answer distribution, the scoreboard with rank
// changes, and the podium, with the host's controls along the bottom.
import { html, toast, useEffect, useRef, useState } from '../../ui.js';
import { LETTERS, Shape, ordinal, prefersReducedMotion } from '../play/answers.js';
import { Countdown } from '../play/clock.js';
import { normalizeCode } from '../play/session.js';
import { download } from './download.js';
import { HostSession } from './session.js';

function useHostState(session) {
  const [state, setState] = useState(session.state);
  useEffect(() => {
    const update = () => setState(session.state);
    session.addEventListener('change', update);
    update();
    return () => session.removeEventListener('change', update);
  }, [session]);
  return state;
}

export function HostRoom({ params }) {
  const code = normalizeCode(params && params.code);
  const [session] = useState(() => (code ? new HostSession(code) : null));
  useEffect(() => {
    if (!session) return undefined;
    session.start();
    return () => session.dispose();
  }, [session]);
  if (!session) {
    return html`<div class="projector projector--message">
      <h1>No such game</h1>
      <p>“${params && params.code}” is not a game code.</p>
      <a class="room-btn room-btn--primary" href="#/host">Back to hosting</a>
    </div>`;
  }
  return html`<${Projector} session=${session} />`;
}

function Projector({ session }) {
  const state = useHostState(session);
  const { status, phase, room } = state;
  const [step, setStep] = useState('chart'); // reveal: the distribution, then the scoreboard
  const [busy, setBusy] = useState(false);
  const [confirmEnd, setConfirmEnd] = useState(false);
  const [showPlayers, setShowPlayers] = useState(false);
  const closedIndex = state.closed ? state.closed.question : null;
  useEffect(() => setStep('chart'), [closedIndex]);
  useEffect(() => {
    if (phase !== 'question' && phase !== 'reveal') setShowPlayers(false);
  }, [phase]);

  const run = async (type, fields) => {
    if (busy) return;
    setBusy(true);
    try {
      await session.command(type, fields);
    } catch (err) {
      toast(err.message, 'error');
    } finally {
      setBusy(false);
    }
  };
  const kick = async (player) => {
    try {
      await session.command('room.kick', { player_id: player.player_id });
      toast(`${player.name} was removed from the game.`, 'info');
    } catch (err) {
      toast(err.message, 'error');
    }
  };

  if (status === 'joining') {
    return html`<div class="projector projector--message"><p class="pj-wait" role="status">Opening the game…</p></div>`;
  }
  if (status === 'failed') {
    return html`<div class="projector projector--message">
      <h1>Can't host this game</h1>
      <p role="alert">${state.error && state.error.message}</p>
      <div class="pj-row">
        <a class="room-btn room-btn--primary" href="#/host">Back to hosting</a>
        <a class="room-btn" href="#/host/rooms/new">Host a new game</a>
      </div>
    </div>`;
  }

  let stage;
  if (phase === 'lobby') stage = html`<${Lobby} state=${state} onKick=${kick} />`;
  else if (phase === 'question' && state.question) stage = html`<${QuestionStage} state=${state} />`;
  else if (phase === 'reveal' && state.closed && step === 'chart') stage = html`<${Distribution} state=${state} />`;
  else if (phase === 'reveal') stage = html`<${Scoreboard} rows=${state.scoreboard} />`;
  else stage = html`<${Podium} state=${state} />`;

  const q = state.question;
  const lastQuestion = room && state.closed && state.closed.question + 1 >= room.question_count;
  let controls;
  if (confirmEnd) {
    controls = html`<p class="pj-confirm" role="alert">End the game for everyone now?</p>
      <button type="button" class="room-btn room-btn--danger" disabled=${busy}
        onClick=${() => { setConfirmEnd(false); run('room.end'); }}>Yes, end the game</button>
      <button type="button" class="room-btn" onClick=${() => setConfirmEnd(false)}>Keep playing</button>`;
  } else if (phase === 'lobby') {
    controls = html`<button type="button" class="room-btn room-btn--primary room-btn--big"
        disabled=${busy || state.players === 0} onClick=${() => run('room.start')}>
        Start game
      </button>
      ${state.players === 0 ? html`<span class="pj-note">Waiting for the first player…</span>` : null}
      <span class="pj-spacer"></span>
      <button type="button" class="room-btn room-btn--quiet" onClick=${() => setConfirmEnd(true)}>End game</button>`;
  } else if (phase === 'question') {
    const paused = q && q.paused;
    controls = html`${paused
        ? html`<button type="button" class="room-btn room-btn--primary" disabled=${busy} onClick=${() => run('room.resume')}>Resume</button>`
        : html`<button type="button" class="room-btn" disabled=${busy} onClick=${() => run('room.pause')}>Pause</button>`}
      <button type="button" class="room-btn" disabled=${busy} onClick=${() => run('room.close_question')}>Show answers now</button>
      <button type="button" class="room-btn" disabled=${busy} onClick=${() => run('room.skip')}>Skip question</button>
      <span class="pj-spacer"></span>
      <${PlayersToggle} state=${state} open=${showPlayers} onToggle=${() => setShowPlayers(!showPlayers)} />
      <button type="button" class="room-btn room-btn--quiet" onClick=${() => setConfirmEnd(true)}>End game</button>`;
  } else if (phase === 'reveal') {
    controls = html`${step === 'chart' && state.closed
        ? html`<button type="button" class="room-btn room-btn--primary room-btn--big" onClick=${() => setStep('scores')}>Scoreboard</button>`
        : html`<button type="button" class="room-btn room-btn--primary room-btn--big" disabled=${busy} onClick=${() => run('room.next')}>
            ${lastQuestion ? 'Final results' : 'Next question'}
          </button>`}
      <span class="pj-spacer"></span>
      <${PlayersToggle} state=${state} open=${showPlayers} onToggle=${() => setShowPlayers(!showPlayers)} />
      <button type="button" class="room-btn room-btn--quiet" onClick=${() => setConfirmEnd(true)}>End game</button>`;
  } else {
    controls = html`<${Downloads} state=${state} />
      <span class="pj-spacer"></span>
      <a class="room-btn" href="#/host/rooms/new">Host another game</a>
      <a class="room-btn room-btn--quiet" href="#/host">Done</a>`;
  }

  return html`<div class=${`projector projector--${phase}`}>
    <header class="pj-top">
      <h1 class="pj-title">${room ? room.title : ''}</h1>
      ${phase === 'question' || phase === 'reveal'
        ? html`<span class="pj-progress">Question ${(q ? q.index : 0) + 1} of ${room ? room.question_count : ''}</span>`
        : null}
      ${phase === 'question' || phase === 'reveal'
        ? html`<span class="pj-joinhint">Join at <strong>${location.host}/join/${session.code}</strong></span>`
        : null}
      <span class="pj-players">
        <${PersonIcon} /> ${state.players}<span class="sr-only"> ${state.players === 1 ? 'player' : 'players'}</span>
      </span>
    </header>
    <div class="pj-stage">${stage}</div>
    ${showPlayers ? html`<${PlayersPanel} state=${state} onKick=${kick} onClose=${() => setShowPlayers(false)} />` : null}
    <section class="pj-controls" aria-label="Host controls">${controls}</section>
  </div>`;
}

function PersonIcon() {
  return html`<svg class="pj-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
    <circle cx="12" cy="8" r="4.5" /><path d="M3 22c0-5 4-8 9-8s9 3 9 8z" />
  </svg>`;
}

function Lobby({ state, onKick }) {
  const code = state.room.code;
  const link = `${location.origin}/join/${code}`;
  // The newest names fill the space; the rest are counted, so nothing scrolls.
  const many = state.roster.length > 16;
  const roster = state.roster.slice(many ? -30 : -16);
  const hidden = state.roster.length - roster.length;
  return html`<div class="pj-lobby">
    <section class="pj-join" aria-label="How to join">
      <p class="pj-code-label">Join on your phone at</p>
      <p class="pj-join-line"><strong class="pj-link">${link}</strong></p>
      <p class="pj-code-label">or scan, or enter the game code</p>
      <p class="pj-code">
        <span>${code.slice(0, 3)}</span><span>${code.slice(3)}</span>
      </p>
      <img class="pj-qr" src=${`/api/v1/rooms/${code}/qr.svg`} width="240" height="240"
        alt=${`QR code: scan it to open ${link}`} />
    </section>
    <section class="pj-roster" aria-labelledby="pj-roster-title">
      <h2 id="pj-roster-title" class="pj-roster-title">
        ${state.players} ${state.players === 1 ? 'player' : 'players'}
        ${state.room.max_players && state.players >= state.room.max_players ? html` <span class="pj-note">(full)</span>` : null}
      </h2>
      ${roster.length === 0
        ? html`<p class="pj-waiting">Waiting for players to join…</p>`
        : html`<ul class=${`pj-names ${many ? 'pj-names--many' : ''}`} aria-live="polite" aria-relevant="additions">
            ${roster.map(
              (p) => html`<li key=${p.player_id} class=${`pj-name ${p.present === false ? 'pj-name--away' : ''}`}>
                <span>${p.name}</span>${p.present === false ? html`<span class="sr-only"> (offline)</span>` : null}
                <button type="button" class="pj-kick" aria-label=${`Remove ${p.name}`} title=${`Remove ${p.name}`}
                  onClick=${() => onKick(p)}>×</button>
              </li>`,
            )}
          </ul>`}
      ${hidden > 0 ? html`<p class="pj-note">and ${hidden} more</p>` : null}
      ${state.roster.length < state.players
        ? html`<p class="pj-note">${state.players - state.roster.length} more joined before this screen opened.</p>`
        : null}
    </section>
  </div>`;
}

// Long texts get smaller type so a question and its options always fit 1280x720.
function lengthClass(prefix, text, steps) {
  const n = [...(text || '')].length;
  const step = steps.findIndex((limit) => n > limit);
  return step < 0 ? '' : `${prefix}--${steps.length - step}`;
}

function QuestionStage({ state }) {
  const q = state.question;
  const longest = q.options.reduce((a, o) => (o.text.length > a.length ? o.text : a), '');
  const answered = state.answered && state.answered.question === q.index ? state.answered : null;
  return html`<div class="pj-question">
    <div class="pj-q-head">
      <${Countdown} clock=${state.clock} className="pj-countdown" />
      <h2 class=${`pj-q-text ${lengthClass('pj-len-q', q.question, [300, 160, 90])}`}>${q.question}</h2>
      <div class="pj-answered">
        <span class="pj-answered-count">${!answered ? '–' : answered.expected == null ? answered.answered : `${answered.answered}/${answered.expected}`}</span>
        <span class="pj-answered-label">answered</span>
      </div>
    </div>
    ${q.paused ? html`<p class="pj-paused" role="status">Paused</p>` : null}
    ${q.points !== 1
      ? html`<p class=${`points-badge points-badge--x${q.points}`}>${q.points === 0 ? 'No points' : 'Double points'}</p>`
      : null}
    <ul class=${`pj-options pj-options--${q.options.length} ${lengthClass('pj-len-o', longest, [120, 60, 30])}`} aria-label="Options">
      ${q.options.map(
        (o) => html`<li key=${o.value} class=${`pj-option answer--${o.value}`}>
          <${Shape} letter=${o.value} />
          <span class="answer-letter">${o.value}</span>
          <span class="pj-option-text">${o.text}</span>
        </li>`,
      )}
    </ul>
  </div>`;
}

function Distribution({ state }) {
  const closed = state.closed;
  const q = state.question && state.question.index === closed.question ? state.question : null;
  const letters = q ? q.options.map((o) => o.value) : LETTERS.filter((l) => closed.counts.some((c) => c.option === l));
  const count = (l) => (closed.counts.find((c) => c.option === l) || { count: 0 }).count;
  const max = Math.max(1, ...letters.map(count));
  const correctText = q ? (q.options.find((o) => o.value === closed.correct_option) || {}).text : '';
  return html`<div class="pj-reveal">
    <h2 class=${`pj-q-text pj-q-text--small ${lengthClass('pj-len-q', q ? q.question : '', [300, 160, 90])}`}>
      ${q ? q.question : `Question ${closed.question + 1}`}
    </h2>
    ${closed.skipped ? html`<p class="pj-skipped">Skipped: nobody scores on this question.</p>` : null}
    <figure class="pj-chart">
      <figcaption class="sr-only">
        Answers: ${letters.map((l) => `${l} ${count(l)}${l === closed.correct_option ? ' (correct)' : ''}`).join(', ')}.
      </figcaption>
      <div class="pj-bars" aria-hidden="true">
        ${letters.map((l) => {
          const n = count(l);
          const right = l === closed.correct_option && !closed.skipped;
          return html`<div key=${l} class=${`pj-bar-col ${right ? 'pj-bar-col--right' : 'pj-bar-col--wrong'}`}>
            <span class="pj-bar-count">${n}</span>
            <span class=${`pj-bar answer--${l}`} style=${{ height: `${Math.max(2, (n / max) * 100)}%` }}></span>
            <span class=${`pj-bar-label answer--${l}`}>
              <${Shape} letter=${l} /><span class="answer-letter">${l}</span>
              ${right ? html`<svg class="pj-check" viewBox="0 0 24 24" focusable="false"><path d="M5 12.5l4.5 4.5L19 7.5" /></svg>` : null}
            </span>
          </div>`;
        })}
      </div>
    </figure>
    ${closed.skipped
      ? null
      : closed.answered === 0
        ? html`<p class="pj-correct"><span>Nobody answered. The answer was</span>
            <span class=${`answer-chip answer--${closed.correct_option}`}><${Shape} letter=${closed.correct_option} /> ${closed.correct_option}</span>
            <strong>${correctText}</strong></p>`
      : html`<p class="pj-correct">
          <span class=${`answer-chip answer--${closed.correct_option}`}><${Shape} letter=${closed.correct_option} /> ${closed.correct_option}</span>
          <strong>${correctText}</strong>
          <span class="pj-correct-count">${count(closed.correct_option)} of ${closed.answered} answered right</span>
        </p>`}
    ${closed.explanation ? html`<p class="pj-explanation">${closed.explanation}</p>` : null}
  </div>`;
}

function RankChange({ row }) {
  if (row.previous_rank == null) return html`<span class="rank-move rank-move--new">new</span>`;
  const by = row.previous_rank - row.rank;
  if (by === 0) {
    return html`<span class="rank-move rank-move--same"><span aria-hidden="true">–</span><span class="sr-only">same place</span></span>`;
  }
  const up = by > 0;
  const n = Math.abs(by);
  return html`<span class=${`rank-move rank-move--${up ? 'up' : 'down'}`}
    ><span aria-hidden="true">${up ? '▲' : '▼'} ${n}</span
    ><span class="sr-only">${up ? 'up' : 'down'} ${n} ${n === 1 ? 'place' : 'places'}</span></span
  >`;
}

function Scoreboard({ rows }) {
  const top = (rows || []).slice(0, 5);
  return html`<div class="pj-scoreboard">
    <h2 class="pj-section-title">Scoreboard</h2>
    ${top.length === 0
      ? html`<p class="pj-waiting">No scores yet.</p>`
      : html`<ol class="pj-scores">
          ${top.map(
            (r) => html`<li key=${r.player_id} class="pj-score-row">
              <span class="pj-score-rank">${r.rank}</span>
              <${RankChange} row=${r} />
              <span class="pj-score-name">${r.name}</span>
              ${r.streak >= 2 ? html`<span class="pj-streak">${r.streak} in a row</span>` : null}
              <span class="pj-score-points">${r.score.toLocaleString()}</span>
            </li>`,
          )}
        </ol>`}
  </div>`;
}

function Podium({ state }) {
  const ended = state.ended;
  const podium = ended ? ended.podium : state.scoreboard.slice(0, 3);
  const [shown, setShown] = useState(() => (prefersReducedMotion() ? 3 : 0));
  useEffect(() => {
    if (shown >= 3) return undefined;
    const timer = setTimeout(() => setShown((n) => n + 1), shown === 0 ? 600 : 1400);
    return () => clearTimeout(timer);
  }, [shown]);
  const place = (rank) => podium.find((p) => p.rank === rank);
  // 3rd is revealed first, then 2nd, then 1st.
  const visible = (rank) => shown >= 4 - rank;
  const why = {
    ended_by_host: 'The host ended the game.',
    host_left: 'The game ended because the host was away.',
    abandoned: 'The game ended because everyone left.',
    unavailable: 'The game could not go on.',
  }[ended && ended.reason];
  return html`<div class="pj-podium-wrap">
    <h2 class="pj-section-title">${podium.length ? 'Podium' : 'Game over'}</h2>
    ${why ? html`<p class="pj-note">${why}</p>` : null}
    ${podium.length
      ? html`<ol class="pj-podium">
          ${[2, 1, 3].map((rank) => {
            const p = place(rank);
            if (!p) return html`<li key=${rank} class=${`pj-step pj-step--${rank} pj-step--empty`} aria-hidden="true"></li>`;
            const on = visible(rank);
            return html`<li key=${rank} class=${`pj-step pj-step--${rank} ${on ? 'pj-step--shown' : ''}`}
              aria-hidden=${on ? undefined : 'true'}>
              <span class="pj-step-name">${on ? p.name : ''}</span>
              <span class="pj-step-score">${on ? p.score.toLocaleString() : ''}</span>
              <span class="pj-step-block"><span class="pj-step-rank">${ordinal(rank)}</span></span>
            </li>`;
          })}
        </ol>`
      : html`<p class="pj-waiting">Nobody scored.</p>`}
    <p class="sr-only" aria-live="polite">
      ${podium
        .filter((p) => visible(p.rank))
        .sort((a, b) => b.rank - a.rank)
        .map((p) => `${ordinal(p.rank)}: ${p.name}, ${p.score} points.`)
        .join(' ')}
    </p>
    ${ended ? html`<p class="pj-note">${ended.players} ${ended.players === 1 ? 'player' : 'players'} took part.</p>` : null}
  </div>`;
}

function Downloads({ state }) {
  const [busy, setBusy] = useState(null);
  const ended = state.ended;
  const room = state.room;
  if (!room) return null;
  if (ended && !ended.results_saved) {
    return html`<span class="pj-note">The results could not be saved.</span>`;
  }
  const get = async (kind) => {
    setBusy(kind);
    try {
      const suffix = kind === 'csv' ? '.csv' : '';
      const name = await download(`/rooms/${room.room_id}/results${suffix}`, `questpath-room-${room.code}.${kind}`);
      toast(`Saved ${name}`, 'success');
    } catch (err) {
      toast(err.message || 'The results could not be downloaded.', 'error');
    } finally {
      setBusy(null);
    }
  };
  return html`<button type="button" class="room-btn room-btn--primary" disabled=${busy != null} onClick=${() => get('csv')}>
      Download results (CSV)
    </button>
    <button type="button" class="room-btn" disabled=${busy != null} onClick=${() => get('json')}>
      Download results (JSON)
    </button>`;
}

function PlayersToggle({ state, open, onToggle }) {
  return html`<button type="button" class="room-btn room-btn--quiet" aria-expanded=${open ? 'true' : 'false'}
    aria-controls="pj-players-panel" onClick=${onToggle}>Players (${state.players})</button>`;
}

function PlayersPanel({ state, onKick, onClose }) {
  const panel = useRef(null);
  useEffect(() => {
    const first = panel.current && panel.current.querySelector('button');
    if (first) first.focus();
    const onKey = (e) => e.key === 'Escape' && onClose();
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  return html`<section id="pj-players-panel" class="pj-panel" ref=${panel} aria-labelledby="pj-panel-title">
    <div class="pj-panel-head">
      <h2 id="pj-panel-title">Players</h2>
      <button type="button" class="room-btn room-btn--quiet" onClick=${onClose}>Close</button>
    </div>
    ${state.roster.length === 0
      ? html`<p class="pj-note">No names yet.</p>`
      : html`<ul class="pj-panel-list">
          ${state.roster.map(
            (p) => html`<li key=${p.player_id}>
              <span>${p.name}${p.present === false ? html` <span class="pj-note">(offline)</span>` : null}</span>
              <button type="button" class="room-btn room-btn--danger room-btn--small" aria-label=${`Remove ${p.name}`}
                onClick=${() => onKick(p)}>Remove</button>
            </li>`,
          )}
        </ul>`}
  </section>`;
}
