// The solo quiz over the websocket, on the server's clock.
//
// The countdown always starts from the `remaining_ms` of the latest frame (the server
// computes it from its own deadline), and only counts down locally between frames; a
// reconnect asks `session.state` again, so the shown time is the time actually left.

import { html, useEffect, useRef, useState, navigate, toast, describeError } from '../../ui.js';
import { learnerSocket } from '../../socket.js';
import { Icon, OptionShape, SHAPE_NAMES, Loading, fmt } from './common.js';

const ANNOUNCE_AT = [30, 10, 5];

function useQuizState(initial) {
  const ref = useRef(initial);
  const [, setTick] = useState(0);
  const update = (patch) => {
    ref.current = { ...ref.current, ...(typeof patch === 'function' ? patch(ref.current) : patch) };
    setTick((t) => t + 1);
  };
  return [ref, update];
}

/** Milliseconds left on the server's clock for a question frame received at `receivedAt`. */
function remainingOf(q, now = performance.now()) {
  if (!q) return 0;
  // `now` may predate the frame for one render (a tick taken before it arrived).
  const elapsed = Math.max(0, now - q.receivedAt);
  return Math.max(0, Math.min(q.remaining_ms, q.time_limit_ms || Infinity) - elapsed);
}

function useCountdown(q, active) {
  const [now, setNow] = useState(performance.now());
  useEffect(() => {
    if (!q || !active) return undefined;
    setNow(performance.now());
    const id = setInterval(() => setNow(performance.now()), 250);
    return () => clearInterval(id);
  }, [q, active]);
  return remainingOf(q, now);
}

const formatClock = (ms) => {
  const s = Math.ceil(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

export function Quiz({ params, query }) {
  const levelId = params.levelId;
  const sock = learnerSocket();
  // Every question of the running quiz by position, each with its feedback once it
  // came. `view` is the position on screen: the learner reads a feedback for as long
  // as they like while later frames (the next question, even its time-out) queue up.
  const [st, update] = useQuizState({
    phase: 'connecting', // connecting | play | result | blocked | other | gone
    quizId: null,
    steps: {},
    view: null,
    result: null,
    error: null,
    other: null,
  });
  const [announcement, setAnnouncement] = useState('');
  const levelHref = `#/levels/${levelId}${query.goal ? `?goal=${encodeURIComponent(query.goal)}` : ''}`;
  const roadmapHref = query.goal ? `#/goals/${encodeURIComponent(query.goal)}` : '#/';

  const adopt = (frame) => {
    const q = { ...frame, receivedAt: performance.now() };
    const s = st.current;
    if (frame.quiz_id !== s.quizId) {
      update({ phase: 'play', quizId: frame.quiz_id, steps: { [frame.position]: { question: q } }, view: frame.position, result: null, error: null });
      return;
    }
    const steps = { ...s.steps, [frame.position]: { ...s.steps[frame.position], question: q } };
    const shown = s.steps[s.view];
    // Without a feedback on screen, follow the server (a feedback missed while offline).
    const view = shown && shown.feedback ? s.view : frame.position;
    update({ phase: s.phase === 'result' ? 'result' : 'play', steps, view, error: null });
  };

  const start = async () => {
    update({ phase: 'connecting', quizId: null, steps: {}, view: null, result: null, error: null });
    try {
      await sock.request('quiz.start', { level_id: levelId });
    } catch (err) {
      if (err.code === 'quiz_in_progress') {
        resume();
        return;
      }
      update({ phase: 'blocked', error: err });
    }
  };

  // Asks the server what is open: resumes this level's quiz, or starts one when none runs.
  const resume = async ({ startIfNone = true } = {}) => {
    try {
      const frame = await sock.request('session.state');
      if (frame.type !== 'quiz.question') return;
      if (frame.level_id !== levelId) update({ phase: 'other', other: frame });
      else adopt(frame);
    } catch (err) {
      if (err.code !== 'no_quiz') {
        if (startIfNone) update({ phase: 'blocked', error: err });
      } else if (startIfNone) {
        start();
      } else if (!st.current.result) {
        update({ phase: 'gone' });
      }
    }
  };

  useEffect(() => {
    const offs = [
      sock.on('quiz.question', (frame) => {
        if (frame.level_id === levelId) adopt(frame);
      }),
      sock.on('quiz.feedback', (frame) => {
        const s = st.current;
        const step = s.steps[frame.position];
        if (frame.quiz_id !== s.quizId || !step) return;
        update({ steps: { ...s.steps, [frame.position]: { ...step, feedback: frame } } });
        if (frame.position !== s.view) return;
        const right = step.question.options.find((o) => o.value === frame.correct_option);
        const answer = right ? ` The answer is ${right.value}: ${right.text}.` : '';
        setAnnouncement(frame.correct ? 'Correct!' : `${frame.timed_out ? 'Time is up.' : 'Not quite.'}${answer}`);
      }),
      sock.on('quiz.result', (frame) => {
        const s = st.current;
        if (frame.level_id !== levelId || (s.quizId && frame.quiz_id !== s.quizId)) return;
        const shown = s.steps[s.view];
        update({ result: frame, phase: shown && shown.feedback ? s.phase : 'result' });
      }),
      // After a reconnection (not the first hello: the mount's own request covers it),
      // ask again: the open question with its time left, or the end of the quiz.
      sock.on('hello', () => {
        if (st.current.phase === 'play') resume({ startIfNone: false });
      }),
    ];
    if (sock.status === 'closed') sock.connect();
    resume();
    return () => offs.forEach((off) => off());
  }, [levelId]);

  const s = st.current;
  const step = s.view != null ? s.steps[s.view] : null;
  const q = step ? step.question : null;
  const fb = step ? step.feedback || null : null;
  const positions = Object.keys(s.steps).map(Number).sort((a, b) => a - b);
  const nextPos = positions.find((p) => p > s.view);
  const nextStep = nextPos != null ? s.steps[nextPos] : null;
  const chosen = step ? step.chosen || null : null;
  const asking = s.phase === 'play' && q && !fb;
  const answering = asking && chosen != null;
  const remaining = useCountdown(q, asking);
  const nextRemaining = useCountdown(nextStep && nextStep.question, s.phase === 'play' && !!fb && !!nextStep && !nextStep.feedback);
  const timeUp = asking && remaining <= 0;

  // Spoken time warnings at a few steps, not every second.
  const spoken = useRef(new Set());
  useEffect(() => {
    spoken.current = new Set();
  }, [s.quizId, s.view]);
  useEffect(() => {
    if (!asking || chosen != null) return;
    const secs = Math.ceil(remaining / 1000);
    if (secs <= 0 && !spoken.current.has(0)) {
      spoken.current.add(0);
      setAnnouncement('Time is up.');
      return;
    }
    for (const mark of ANNOUNCE_AT) {
      if (secs <= mark && secs > mark - 1.5 && !spoken.current.has(mark)) {
        spoken.current.add(mark);
        setAnnouncement(`${mark} seconds left.`);
      }
    }
  }, [Math.ceil(remaining / 1000), asking, chosen]);

  const setChosen = (position, option) => {
    const cur = st.current;
    if (!cur.steps[position]) return;
    update({ steps: { ...cur.steps, [position]: { ...cur.steps[position], chosen: option } } });
  };

  const choose = async (option) => {
    const cur = st.current;
    const shown = cur.steps[cur.view];
    if (cur.phase !== 'play' || !shown || shown.feedback || shown.chosen || remainingOf(shown.question) <= 0) return;
    const { position, quiz_id: quizId } = shown.question;
    setChosen(position, option);
    setAnnouncement(`Answer ${option} locked in.`);
    try {
      await sock.request('quiz.answer', { position, option });
    } catch (err) {
      if (err.code === 'late_answer') {
        setAnnouncement('Too late: the time for this question ran out.');
      } else if (err.code === 'wrong_question') {
        resume({ startIfNone: false });
      } else if (st.current.quizId === quizId) {
        // The answer may not have reached the server: let the learner answer again.
        const again = st.current.steps[position];
        if (again && !again.feedback) setChosen(position, null);
        toast(describeError(err), 'error');
      }
    }
  };

  const proceed = () => {
    const cur = st.current;
    const next = Object.keys(cur.steps).map(Number).sort((a, b) => a - b).find((p) => p > cur.view);
    if (next != null) update({ view: next });
    else if (cur.result) update({ phase: 'result' });
  };

  const [quitting, setQuitting] = useState(false);
  const abandon = async () => {
    try {
      await sock.request('quiz.abandon');
      return true;
    } catch (err) {
      if (err.code === 'no_quiz') return true;
      toast(describeError(err), 'error');
      return false;
    }
  };
  const quit = async () => {
    if (await abandon()) navigate(levelHref);
  };
  const abandonOtherAndStart = async () => {
    if (await abandon()) start();
  };

  const announcer = html`<p class="visually-hidden" aria-live="polite" aria-atomic="true">${announcement}</p>`;
  const backLink = html`<p><a class="back-link" href=${levelHref}><${Icon} name="back" size=${20} /> Back to the level</a></p>`;

  if (s.phase === 'connecting' || (s.phase === 'play' && !q)) {
    return html`<section class="page narrow quiz-page">${backLink}<h1 tabindex="-1">Quiz</h1>
      <${Loading} label="Getting your quiz ready…" />${announcer}</section>`;
  }
  if (s.phase === 'blocked') {
    return html`<section class="page narrow quiz-page">${backLink}<h1 tabindex="-1">Quiz</h1>
      <div class="notice notice-error" role="alert"><p>${blockedMessage(s.error)}</p></div>
      <p><a class="button button-primary" href=${levelHref}>Back to the level</a></p></section>`;
  }
  if (s.phase === 'other') {
    return html`<section class="page narrow quiz-page"><h1 tabindex="-1">Quiz</h1>
      <div class="notice"><p>You have a quiz running on another level (question ${s.other.position + 1} of ${s.other.total}).
        Finish it first, or drop it without XP to start this one.</p></div>
      <div class="row">
        <a class="button button-primary" href=${`#/quiz/${s.other.level_id}`}>Continue that quiz</a>
        <button type="button" class="button button-secondary" onClick=${abandonOtherAndStart}>Drop it and start this one</button>
      </div></section>`;
  }
  if (s.phase === 'gone') {
    return html`<section class="page narrow quiz-page"><h1 tabindex="-1">Quiz</h1>
      <div class="notice"><p>This quiz is no longer running (it ended while you were away).</p></div>
      <div class="row">
        <button type="button" class="button button-primary" onClick=${start}>Start again</button>
        <a class="button button-secondary" href=${levelHref}>Back to the level</a>
      </div></section>`;
  }
  if (s.phase === 'result') {
    return html`<${Result} result=${s.result} levelHref=${levelHref} roadmapHref=${roadmapHref} retry=${start} />${announcer}`;
  }

  const fraction = q.time_limit_ms > 0 ? remaining / q.time_limit_ms : 0;
  const urgent = remaining <= 10_000;
  const correctText = fb && (q.options.find((o) => o.value === fb.correct_option) || {}).text;

  return html`<section class="page narrow quiz-page">
    <div class="quiz-top">
      <p class="quiz-position">Question ${q.position + 1} of ${q.total}</p>
      ${!fb && html`<div class=${`timer${urgent ? ' timer-urgent' : ''}${timeUp ? ' timer-up' : ''}`}>
        <${Icon} name="clock" size=${20} />
        <span role="timer" aria-label="Time left">${formatClock(remaining)}</span>
      </div>`}
    </div>
    ${!fb && html`<div class="time-bar" aria-hidden="true"><span class=${urgent ? 'time-fill time-fill-urgent' : 'time-fill'} style=${{ width: `${fraction * 100}%` }}></span></div>`}
    <h1 class="question" id="question-text" tabindex="-1">${q.question}</h1>
    <div class="options" role="group" aria-labelledby="question-text">
      ${q.options.map((o) => {
        const isChosen = chosen === o.value;
        const isCorrect = fb && fb.correct_option === o.value;
        const isWrong = fb && isChosen && !isCorrect;
        const cls = ['option', `option-${o.value}`, isChosen && 'option-chosen', isCorrect && 'option-correct', isWrong && 'option-wrong', fb && !isCorrect && !isChosen && 'option-dim']
          .filter(Boolean).join(' ');
        return html`<button type="button" key=${`${s.quizId}-${q.position}-${o.value}`} class=${cls} disabled=${!!fb || answering || timeUp}
          aria-pressed=${isChosen ? 'true' : 'false'} onClick=${() => choose(o.value)}>
          <${OptionShape} value=${o.value} />
          <span class="option-letter" aria-hidden="true">${o.value}</span>
          <span class="option-text">${o.text}<span class="visually-hidden"> (${SHAPE_NAMES[o.value]})</span></span>
          ${isCorrect && html`<span class="option-mark"><${Icon} name="check" /><span class="visually-hidden">Correct answer</span></span>`}
          ${isWrong && html`<span class="option-mark"><${Icon} name="cross" /><span class="visually-hidden">Your answer</span></span>`}
        </button>`;
      })}
    </div>
    ${answering && html`<p class="quiz-wait">Answer locked in. Checking…</p>`}
    ${timeUp && !answering && html`<p class="quiz-wait">Time is up! Waiting for the answer…</p>`}
    ${fb && html`<${Feedback} feedback=${fb} correctText=${correctText} hasResult=${!!s.result && nextStep == null}
      next=${nextStep} nextRemaining=${nextRemaining} proceed=${proceed} />`}
    <div class="quiz-quit">
      ${quitting
        ? html`<p>Quit this quiz? You earn no XP for it.</p>
          <div class="row">
            <button type="button" class="button button-danger" onClick=${quit}>Quit quiz</button>
            <button type="button" class="button button-ghost" onClick=${() => setQuitting(false)}>Keep playing</button>
          </div>`
        : html`<button type="button" class="button button-ghost" onClick=${() => setQuitting(true)}>Quit…</button>`}
    </div>
    ${announcer}
  </section>`;
}

function Feedback({ feedback, correctText, hasResult, next, nextRemaining, proceed }) {
  const buttonRef = useRef(null);
  const ready = hasResult || next;
  useEffect(() => {
    if (buttonRef.current) buttonRef.current.focus();
  }, [feedback, !!ready]);
  const kind = feedback.correct ? 'correct' : 'wrong';
  const title = feedback.correct ? 'Correct!' : feedback.timed_out ? 'Time is up!' : 'Not quite.';
  let clock = null;
  if (next && !hasResult) {
    clock = next.feedback
      ? 'The next question ran out of time while you were reading.'
      : `The next question's clock is running: ${formatClock(nextRemaining)} left`;
  }
  return html`<div class=${`feedback feedback-${kind}`}>
    <p class="feedback-title">
      <${Icon} name=${feedback.correct ? 'check' : 'cross'} /> ${title}
      ${!feedback.correct && html` <span class="feedback-answer">The answer is ${feedback.correct_option}: ${correctText}.</span>`}
    </p>
    ${feedback.explanation && html`<p class="feedback-explanation">${feedback.explanation}</p>`}
    ${ready
      ? html`<div class="feedback-next">
          <button type="button" class="button button-primary button-large" ref=${buttonRef} onClick=${proceed}>
            ${hasResult ? 'See your result' : 'Next question'}
          </button>
          ${clock && html`<span class="hint">${clock}</span>`}
        </div>`
      : html`<p class="hint">Loading the next question…</p>`}
  </div>`;
}

function blockedMessage(err) {
  switch (err && err.code) {
    case 'topics_incomplete':
      return 'Tick every topic of this level first, then take the quiz.';
    case 'level_locked':
      return 'This level is locked. Pass the previous level first.';
    case 'not_found':
      return 'This level does not exist or is not yours.';
    default:
      return describeError(err);
  }
}

function Result({ result, levelHref, roadmapHref, retry }) {
  const headingRef = useRef(null);
  useEffect(() => {
    if (headingRef.current) headingRef.current.focus();
  }, []);
  const passed = result.passed;
  return html`<section class=${`page narrow quiz-page result ${passed ? 'result-passed' : 'result-failed'}`}>
    ${passed && html`<div class="celebrate" aria-hidden="true">${[...Array(12)].map((_, i) => html`<span class=${`spark spark-${i}`}></span>`)}</div>`}
    <div class="result-badge" aria-hidden="true"><${Icon} name=${passed ? 'trophy' : 'star'} size=${56} /></div>
    <h1 tabindex="-1" ref=${headingRef}>${passed ? 'Level passed!' : 'Not quite there yet'}</h1>
    <p class="result-score">${result.correct} of ${result.total} correct · ${result.score}%</p>
    ${!passed && html`<p>You need 80% to pass. Review the topics and try again.</p>`}
    <dl class="stats result-stats">
      <div><dt>XP earned</dt><dd>+${fmt(result.xp_earned)}</dd></div>
      <div><dt>Total XP</dt><dd>${fmt(result.total_xp)}</dd></div>
      <div><dt>Your level</dt><dd>${result.player_level}</dd></div>
    </dl>
    ${result.level_up && html`<p class="notice notice-success"><${Icon} name="star" /> Level up! You are now level ${result.player_level}.</p>`}
    ${result.next_level_unlocked && html`<p class="notice notice-success"><${Icon} name="play" /> The next level is unlocked.</p>`}
    ${passed && result.xp_earned === 0 && html`<p class="hint">Repeat passes earn a little XP once a day.</p>`}
    <div class="row">
      <a class="button button-primary" href=${roadmapHref}>${result.next_level_unlocked ? 'On to the next level' : 'Back to the roadmap'}</a>
      ${!passed && html`<a class="button button-secondary" href=${levelHref}>Review topics</a>`}
      <button type="button" class="button button-ghost" onClick=${retry}>${passed ? 'Play again' : 'Try again'}</button>
    </div>
  </section>`;
}
