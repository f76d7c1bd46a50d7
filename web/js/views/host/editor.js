// The quiz editor: a title, a description and up to 100 questions, each with two to
// four options (exactly one correct), its time and points, and an explanation. The
// checks mirror the server's limits so most mistakes are caught before saving; what
// the server still refuses is shown from its problem+json (detail and field errors).
import { api, ApiError } from '../../api.js';
import { html, navigate, toast, useEffect, useRef, useState } from '../../ui.js';
import { LETTERS, Shape } from '../play/answers.js';

export const LIMITS = {
  title: 120,
  description: 1000,
  questions: 100,
  question: 500,
  option: 200,
  explanation: 1000,
  minSecs: 5,
  maxSecs: 300,
};

let nextKey = 1;

function blankQuestion() {
  return { key: nextKey++, question: '', options: ['', '', '', ''], correct: 0, explanation: '', time: '', points: 1 };
}

function fromSaved(q) {
  const correct = LETTERS.indexOf(String(q.correct_option || 'A').toUpperCase());
  return {
    key: nextKey++,
    question: q.question || '',
    options: [...(q.options || [])],
    correct: correct < 0 ? 0 : correct,
    explanation: q.explanation || '',
    time: q.time_limit_secs == null ? '' : String(q.time_limit_secs),
    points: q.points == null ? 1 : q.points,
  };
}

/** The options that count: empty ones at the end (C, D) are left out, down to two. */
function filledOptions(options) {
  const out = options.slice();
  while (out.length > 2 && !out[out.length - 1].trim()) out.pop();
  return out;
}

function toSaved(q) {
  const out = {
    question: q.question.trim(),
    options: filledOptions(q.options).map((o) => o.trim()),
    correct_option: LETTERS[q.correct],
    points: Number(q.points),
  };
  if (q.explanation.trim()) out.explanation = q.explanation.trim();
  if (String(q.time).trim() !== '') out.time_limit_secs = Number(q.time);
  return out;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

function textProblem(value, max, what, required = true) {
  const v = value.trim();
  if (!v) return required ? `${what} is empty.` : null;
  if ([...v].length > max) return `${what} is longer than ${max} characters.`;
  if (CONTROL.test(v)) return `${what} contains a control character.`;
  return null;
}

/** Every problem of the quiz, keyed by field id ('title', 'q-3-option-1', ...). */
export function validateQuiz(quiz) {
  const errors = {};
  const titleProblem = textProblem(quiz.title, LIMITS.title, 'The title');
  if (titleProblem) errors.title = titleProblem;
  const descProblem = textProblem(quiz.description, LIMITS.description, 'The description', false);
  if (descProblem) errors.description = descProblem;
  if (quiz.questions.length === 0) errors.questions = 'Add at least one question.';
  if (quiz.questions.length > LIMITS.questions) errors.questions = `A quiz has at most ${LIMITS.questions} questions.`;
  quiz.questions.forEach((q, i) => {
    const n = i + 1;
    const id = `q-${q.key}`;
    const qp = textProblem(q.question, LIMITS.question, `Question ${n}`);
    if (qp) errors[`${id}-question`] = qp;
    const options = filledOptions(q.options);
    options.forEach((o, j) => {
      const op = textProblem(o, LIMITS.option, `Question ${n}, option ${LETTERS[j]}`);
      if (op) errors[`${id}-option-${j}`] = op;
    });
    const seen = new Map();
    options.forEach((o, j) => {
      const k = o.trim().toLowerCase();
      if (!k) return;
      if (seen.has(k)) errors[`${id}-option-${j}`] = `Question ${n}: options ${LETTERS[seen.get(k)]} and ${LETTERS[j]} are the same.`;
      else seen.set(k, j);
    });
    if (!(q.correct >= 0 && q.correct < options.length)) {
      errors[`${id}-correct`] = `Question ${n}: mark one of the filled options as correct.`;
    }
    const ep = textProblem(q.explanation, LIMITS.explanation, `Question ${n}'s explanation`, false);
    if (ep) errors[`${id}-explanation`] = ep;
    if (String(q.time).trim() !== '') {
      const secs = Number(q.time);
      if (!Number.isInteger(secs) || secs < LIMITS.minSecs || secs > LIMITS.maxSecs) {
        errors[`${id}-time`] = `Question ${n}: the time is ${LIMITS.minSecs} to ${LIMITS.maxSecs} seconds.`;
      }
    }
    if (![0, 1, 2].includes(Number(q.points))) errors[`${id}-points`] = `Question ${n}: points are 0, 1 or 2.`;
  });
  return errors;
}

/** Maps a server field name ("questions[2].options[1]", "title") to an editor field id. */
function fieldId(field, questions) {
  if (field === 'title' || field === 'description') return field;
  const m = /^questions\[(\d+)\](?:\.(\w+)(?:\[(\d+)\])?)?/.exec(field || '');
  if (!m) return null;
  const q = questions[Number(m[1])];
  if (!q) return null;
  const id = `q-${q.key}`;
  const part = m[2];
  if (part === 'options' && m[3] != null) return `${id}-option-${m[3]}`;
  if (part === 'options') return `${id}-option-0`;
  if (part === 'correct_option') return `${id}-correct`;
  if (part === 'time_limit_secs') return `${id}-time`;
  if (part === 'points') return `${id}-points`;
  if (part === 'explanation') return `${id}-explanation`;
  return `${id}-question`;
}

function focusField(id) {
  requestAnimationFrame(() => {
    const el = document.getElementById(id);
    if (el) el.focus();
  });
}

export function QuizEditor({ params }) {
  const quizId = params && params.quizId;
  const [quiz, setQuiz] = useState(() =>
    quizId ? null : { title: '', description: '', questions: [blankQuestion()] },
  );
  const [loadError, setLoadError] = useState(null);
  const [errors, setErrors] = useState({});
  const [serverError, setServerError] = useState(null);
  const [saving, setSaving] = useState(false);
  const [dirty, setDirty] = useState(false);
  const [tried, setTried] = useState(false);
  const summary = useRef(null);

  useEffect(() => {
    if (!quizId) return;
    let live = true;
    api
      .get(`/quizzes/${encodeURIComponent(quizId)}`)
      .then((saved) => {
        if (!live) return;
        setQuiz({
          title: saved.title || '',
          description: saved.description || '',
          questions: (saved.questions || []).map(fromSaved),
        });
      })
      .catch((err) => live && setLoadError(err));
    return () => {
      live = false;
    };
  }, [quizId]);

  if (loadError) {
    return html`<section class="page host-page">
      <h1>Quiz not available</h1>
      <p role="alert">${loadError.status === 404 ? 'This quiz does not exist, or it is not yours.' : loadError.message}</p>
      <p><a class="room-btn" href="#/host">Back to your quizzes</a></p>
    </section>`;
  }
  if (!quiz) return html`<section class="page host-page"><p role="status">Loading the quiz…</p></section>`;

  const update = (next) => {
    setQuiz(next);
    setDirty(true);
    if (tried) setErrors(validateQuiz(next));
  };
  const setField = (name, value) => update({ ...quiz, [name]: value });
  const setQuestion = (i, patch) => {
    const questions = quiz.questions.slice();
    questions[i] = { ...questions[i], ...patch };
    update({ ...quiz, questions });
  };
  const addQuestion = () => {
    const q = blankQuestion();
    update({ ...quiz, questions: [...quiz.questions, q] });
    focusField(`q-${q.key}-question`);
  };
  const removeQuestion = (i) => {
    const questions = quiz.questions.filter((_, j) => j !== i);
    update({ ...quiz, questions });
    const next = questions[i] || questions[i - 1];
    focusField(next ? `q-${next.key}-legend` : 'add-question');
  };
  const moveQuestion = (i, by) => {
    const j = i + by;
    if (j < 0 || j >= quiz.questions.length) return;
    const questions = quiz.questions.slice();
    [questions[i], questions[j]] = [questions[j], questions[i]];
    update({ ...quiz, questions });
    const key = questions[j].key;
    const edge = j === 0 || j === questions.length - 1;
    focusField(edge ? `q-${key}-legend` : `q-${key}-${by < 0 ? 'up' : 'down'}`);
  };

  const save = async (event) => {
    event.preventDefault();
    setTried(true);
    setServerError(null);
    const found = validateQuiz(quiz);
    setErrors(found);
    if (Object.keys(found).length) {
      requestAnimationFrame(() => summary.current && summary.current.focus());
      return;
    }
    const body = { title: quiz.title.trim(), description: quiz.description.trim(), questions: quiz.questions.map(toSaved) };
    setSaving(true);
    try {
      const saved = quizId
        ? await api.put(`/quizzes/${encodeURIComponent(quizId)}`, body)
        : await api.post('/quizzes', body);
      setDirty(false);
      toast(`Saved “${saved.title}”.`, 'success');
      if (!quizId) navigate(`#/host/quizzes/${saved.quiz_id}`);
    } catch (err) {
      const fromServer = {};
      if (err instanceof ApiError) {
        for (const [field, message] of Object.entries(err.fields || {})) {
          const id = fieldId(field, quiz.questions);
          if (id) fromServer[id] = message;
        }
      }
      setErrors(fromServer);
      setServerError(err instanceof ApiError ? err.detail : err.message);
      requestAnimationFrame(() => summary.current && summary.current.focus());
    } finally {
      setSaving(false);
    }
  };

  const problems = Object.entries(errors);
  return html`<section class="page host-page editor">
    <p class="host-crumbs"><a href="#/host">Hosting</a> / ${quizId ? 'Edit quiz' : 'New quiz'}</p>
    <h1>${quizId ? 'Edit quiz' : 'New quiz'}</h1>
    <form onSubmit=${save} novalidate>
      ${problems.length || serverError
        ? html`<div class="form-errors" role="alert" tabindex="-1" ref=${summary}>
            <h2>${serverError ? 'The quiz was not saved' : `Fix ${problems.length === 1 ? 'this' : `these ${problems.length}`} before saving`}</h2>
            ${serverError ? html`<p>${serverError}</p>` : null}
            ${problems.length
              ? html`<ul>
                  ${problems.map(
                    ([id, message]) => html`<li key=${id}>
                      <a href=${`#${id}`} onClick=${(e) => { e.preventDefault(); focusField(id === 'questions' ? 'add-question' : id); }}>${message}</a>
                    </li>`,
                  )}
                </ul>`
              : null}
          </div>`
        : null}
      <div class="field">
        <label for="title">Title</label>
        <input id="title" type="text" maxlength=${LIMITS.title} value=${quiz.title} required
          aria-invalid=${errors.title ? 'true' : 'false'} aria-describedby=${errors.title ? 'title-error' : undefined}
          onInput=${(e) => setField('title', e.currentTarget.value)} />
        ${errors.title ? html`<p id="title-error" class="field-error">${errors.title}</p>` : null}
      </div>
      <div class="field">
        <label for="description">Description <span class="field-optional">(optional)</span></label>
        <textarea id="description" rows="2" maxlength=${LIMITS.description} value=${quiz.description}
          aria-invalid=${errors.description ? 'true' : 'false'} aria-describedby=${errors.description ? 'description-error' : undefined}
          onInput=${(e) => setField('description', e.currentTarget.value)}></textarea>
        ${errors.description ? html`<p id="description-error" class="field-error">${errors.description}</p>` : null}
      </div>
      <h2 class="editor-count">Questions (${quiz.questions.length})</h2>
      <ol class="q-list">
        ${quiz.questions.map(
          (q, i) => html`<li key=${q.key}>
            <${QuestionCard} q=${q} index=${i} count=${quiz.questions.length} errors=${errors}
              onChange=${(patch) => setQuestion(i, patch)}
              onMove=${(by) => moveQuestion(i, by)}
              onRemove=${() => removeQuestion(i)} />
          </li>`,
        )}
      </ol>
      ${errors.questions ? html`<p class="field-error">${errors.questions}</p>` : null}
      <div class="editor-actions">
        <button type="button" id="add-question" class="room-btn" disabled=${quiz.questions.length >= LIMITS.questions}
          onClick=${addQuestion}>Add a question</button>
        <span class="pj-spacer"></span>
        ${quizId && !dirty
          ? html`<a class="room-btn" href=${`#/host/rooms/new?quiz=${encodeURIComponent(quizId)}`}>Host this quiz</a>`
          : null}
        <button type="submit" class="room-btn room-btn--primary" disabled=${saving} aria-busy=${saving ? 'true' : 'false'}>
          ${saving ? 'Saving…' : 'Save quiz'}
        </button>
      </div>
    </form>
  </section>`;
}

function QuestionCard({ q, index, count, errors, onChange, onMove, onRemove }) {
  const id = `q-${q.key}`;
  const n = index + 1;
  const err = (name) => errors[`${id}-${name}`];
  const described = (name) => (err(name) ? `${id}-${name}-error` : undefined);
  const setOption = (j, value) => {
    const options = q.options.slice();
    options[j] = value;
    onChange({ options });
  };
  const removeOption = (j) => {
    const options = q.options.filter((_, k) => k !== j);
    let correct = q.correct;
    if (j === q.correct) correct = -1;
    else if (j < q.correct) correct -= 1;
    onChange({ options, correct });
    focusField(`${id}-option-${Math.min(j, options.length - 1)}`);
  };
  const addOption = () => {
    onChange({ options: [...q.options, ''] });
    focusField(`${id}-option-${q.options.length}`);
  };
  return html`<fieldset class="q-card">
    <legend id=${`${id}-legend`} tabindex="-1">Question ${n}</legend>
    <div class="field">
      <label for=${`${id}-question`}>Question</label>
      <textarea id=${`${id}-question`} rows="2" maxlength=${LIMITS.question} value=${q.question}
        aria-invalid=${err('question') ? 'true' : 'false'} aria-describedby=${described('question')}
        onInput=${(e) => onChange({ question: e.currentTarget.value })}></textarea>
      ${err('question') ? html`<p id=${`${id}-question-error`} class="field-error">${err('question')}</p>` : null}
    </div>
    <fieldset class="q-options" aria-describedby=${err('correct') ? `${id}-correct-error` : undefined}>
      <legend>Options: mark the correct one</legend>
      <p class="field-hint">Two to four. Empty options at the end are left out.</p>
      ${q.options.map(
        (o, j) => html`<div class=${`q-option answer--${LETTERS[j]}`} key=${j}>
          <span class="q-option-mark"><${Shape} letter=${LETTERS[j]} /><span class="answer-letter">${LETTERS[j]}</span></span>
          <label class="sr-only" for=${`${id}-option-${j}`}>Option ${LETTERS[j]}</label>
          <input id=${`${id}-option-${j}`} class="q-option-text" type="text" maxlength=${LIMITS.option} value=${o}
            aria-invalid=${err(`option-${j}`) ? 'true' : 'false'} aria-describedby=${described(`option-${j}`)}
            onInput=${(e) => setOption(j, e.currentTarget.value)} />
          <label class="q-correct">
            <input type="radio" name=${`${id}-correct`} checked=${q.correct === j}
              aria-label=${`Correct: option ${LETTERS[j]}`}
              onChange=${() => onChange({ correct: j })} />
            <span>Correct</span>
          </label>
          ${q.options.length > 2
            ? html`<button type="button" class="room-btn room-btn--quiet room-btn--small"
                aria-label=${`Remove option ${LETTERS[j]} of question ${n}`} onClick=${() => removeOption(j)}>Remove</button>`
            : null}
          ${err(`option-${j}`) ? html`<p id=${`${id}-option-${j}-error`} class="field-error q-option-error">${err(`option-${j}`)}</p>` : null}
        </div>`,
      )}
      ${err('correct') ? html`<p id=${`${id}-correct-error`} class="field-error">${err('correct')}</p>` : null}
      ${q.options.length < 4
        ? html`<button type="button" class="room-btn room-btn--small" onClick=${addOption}>Add option ${LETTERS[q.options.length]}</button>`
        : null}
    </fieldset>
    <div class="q-row">
      <div class="field">
        <label for=${`${id}-time`}>Seconds to answer</label>
        <input id=${`${id}-time`} type="number" inputmode="numeric" min=${LIMITS.minSecs} max=${LIMITS.maxSecs} step="1"
          placeholder="Room's default" value=${q.time}
          aria-invalid=${err('time') ? 'true' : 'false'} aria-describedby=${`${id}-time-hint${err('time') ? ` ${id}-time-error` : ''}`}
          onInput=${(e) => onChange({ time: e.currentTarget.value })} />
        <p id=${`${id}-time-hint`} class="field-hint">${LIMITS.minSecs} to ${LIMITS.maxSecs}; empty uses the room's setting.</p>
        ${err('time') ? html`<p id=${`${id}-time-error`} class="field-error">${err('time')}</p>` : null}
      </div>
      <div class="field">
        <label for=${`${id}-points`}>Points</label>
        <select id=${`${id}-points`} value=${String(q.points)} onChange=${(e) => onChange({ points: Number(e.currentTarget.value) })}>
          <option value="1">Standard</option>
          <option value="2">Double</option>
          <option value="0">No points</option>
        </select>
      </div>
    </div>
    <div class="field">
      <label for=${`${id}-explanation`}>Explanation <span class="field-optional">(optional, shown after the question)</span></label>
      <textarea id=${`${id}-explanation`} rows="2" maxlength=${LIMITS.explanation} value=${q.explanation}
        aria-invalid=${err('explanation') ? 'true' : 'false'} aria-describedby=${described('explanation')}
        onInput=${(e) => onChange({ explanation: e.currentTarget.value })}></textarea>
      ${err('explanation') ? html`<p id=${`${id}-explanation-error`} class="field-error">${err('explanation')}</p>` : null}
    </div>
    <div class="q-actions">
      <button type="button" id=${`${id}-up`} class="room-btn room-btn--small" disabled=${index === 0}
        aria-label=${`Move up: question ${n}`} onClick=${() => onMove(-1)}>Move up</button>
      <button type="button" id=${`${id}-down`} class="room-btn room-btn--small" disabled=${index === count - 1}
        aria-label=${`Move down: question ${n}`} onClick=${() => onMove(1)}>Move down</button>
      <span class="pj-spacer"></span>
      <button type="button" class="room-btn room-btn--danger room-btn--small" disabled=${count === 1}
        aria-label=${`Remove question ${n}`} onClick=${onRemove}>Remove question</button>
    </div>
  </fieldset>`;
}
