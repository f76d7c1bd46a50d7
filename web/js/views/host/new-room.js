// Creating a live game: its questions come from a saved quiz, one of the host's levels
// or a catalog subject's level; then the room's settings. The answer's code opens the
// projector screen.
import { api, ApiError } from '../../api.js';
import { html, navigate, useEffect, useRef, useState } from '../../ui.js';

const SOURCES = [
  { value: 'quiz', label: 'A saved quiz' },
  { value: 'level', label: 'One of my levels' },
  { value: 'catalog', label: 'A subject from the catalog' },
];

function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => {
    let live = true;
    setState({ data: null, error: null });
    load()
      .then((data) => live && setState({ data, error: null }))
      .catch((error) => live && setState({ data: null, error }));
    return () => {
      live = false;
    };
  }, deps);
  return state;
}

export function NewRoom({ query }) {
  const preset = query && query.quiz;
  const [source, setSource] = useState('quiz');
  const [quizId, setQuizId] = useState(preset || '');
  const [goalId, setGoalId] = useState('');
  const [levelId, setLevelId] = useState('');
  const [subject, setSubject] = useState('');
  const [subjectLevel, setSubjectLevel] = useState('');
  const [settings, setSettings] = useState({
    title: '',
    time: '20',
    scoring: 'speed',
    streak: true,
    guests: true,
    maxPlayers: '',
    points: '1',
  });
  const [errors, setErrors] = useState({});
  const [serverError, setServerError] = useState(null);
  const [busy, setBusy] = useState(false);
  const summary = useRef(null);

  const quizzes = useLoad(() => api.get('/quizzes').then((r) => r.quizzes || []), []);
  const goals = useLoad(
    () => (source === 'level' ? api.get('/goals?limit=100').then((r) => r.items || []) : Promise.resolve(null)),
    [source === 'level'],
  );
  const goal = useLoad(
    () => (source === 'level' && goalId ? api.get(`/goals/${encodeURIComponent(goalId)}`) : Promise.resolve(null)),
    [source === 'level' && goalId],
  );
  const catalog = useLoad(
    () => (source === 'catalog' ? api.get('/catalog').then((r) => r.subjects || []) : Promise.resolve(null)),
    [source === 'catalog'],
  );

  // Sensible first choices once the lists arrive.
  useEffect(() => {
    if (!quizId && quizzes.data && quizzes.data.length) setQuizId(quizzes.data[0].quiz_id);
  }, [quizzes.data]);
  useEffect(() => {
    if (!goalId && goals.data && goals.data.length) setGoalId(goals.data[0].id);
  }, [goals.data]);
  useEffect(() => {
    const levels = goal.data && goal.data.roadmap ? goal.data.roadmap.levels : [];
    if (levels.length && !levels.some((l) => l.id === levelId)) setLevelId(levels[0].id);
  }, [goal.data]);
  useEffect(() => {
    if (!subject && catalog.data && catalog.data.length) setSubject(catalog.data[0].slug);
  }, [catalog.data]);
  const subjectInfo = catalog.data ? catalog.data.find((s) => s.slug === subject) : null;
  useEffect(() => {
    if (subjectInfo && !subjectInfo.levels.some((l) => String(l.index) === subjectLevel)) {
      setSubjectLevel(subjectInfo.levels.length ? String(subjectInfo.levels[0].index) : '');
    }
  }, [subject, catalog.data]);

  const set = (name, value) => setSettings({ ...settings, [name]: value });

  const validate = () => {
    const found = {};
    if (source === 'quiz' && !quizId) found.quiz = 'Choose a saved quiz, or write one first.';
    if (source === 'level' && !levelId) found.level = 'Choose one of your levels.';
    if (source === 'catalog' && (!subject || subjectLevel === '')) found.catalog = 'Choose a subject and a level.';
    const title = settings.title.trim();
    if ([...title].length > 120) found.title = 'The title is at most 120 characters.';
    const secs = Number(settings.time);
    if (!Number.isInteger(secs) || secs < 5 || secs > 300) found.time = 'Seconds per question: 5 to 300.';
    if (settings.maxPlayers.trim() !== '') {
      const n = Number(settings.maxPlayers);
      if (!Number.isInteger(n) || n < 1) found.maxPlayers = 'Seats: a whole number, at least 1.';
    }
    return found;
  };

  const create = async (event) => {
    event.preventDefault();
    setServerError(null);
    const found = validate();
    setErrors(found);
    if (Object.keys(found).length) {
      requestAnimationFrame(() => summary.current && summary.current.focus());
      return;
    }
    const body = {
      question_time_secs: Number(settings.time),
      scoring: settings.scoring,
      streak_bonus: settings.streak,
      allow_guests: settings.guests,
    };
    if (settings.title.trim()) body.title = settings.title.trim();
    if (settings.maxPlayers.trim() !== '') body.max_players = Number(settings.maxPlayers);
    if (source === 'quiz') body.quiz_id = quizId;
    if (source === 'level') body.level_id = levelId;
    if (source === 'catalog') body.catalog = { subject, level: Number(subjectLevel) };
    // Saved quizzes carry points per question; levels and catalog levels take the room's.
    if (source === 'level' || source === 'catalog') body.points = Number(settings.points);
    setBusy(true);
    try {
      const room = await api.post('/rooms', body);
      navigate(`#/host/room/${room.code}`);
    } catch (err) {
      setBusy(false);
      const fields = {};
      if (err instanceof ApiError) {
        const map = { title: 'title', question_time_secs: 'time', max_players: 'maxPlayers', quiz_id: 'quiz', level_id: 'level', catalog: 'catalog' };
        for (const [field, message] of Object.entries(err.fields || {})) {
          const key = map[field] || map[field.split(/[.[]/)[0]];
          if (key) fields[key] = message;
        }
      }
      setErrors(fields);
      setServerError(err.message);
      requestAnimationFrame(() => summary.current && summary.current.focus());
    }
  };

  const fieldError = (name) => (errors[name] ? html`<p id=${`${name}-error`} class="field-error">${errors[name]}</p>` : null);
  const describedBy = (name, hint) => [hint, errors[name] ? `${name}-error` : null].filter(Boolean).join(' ') || undefined;

  let picker;
  if (source === 'quiz') {
    picker = quizzes.error
      ? html`<p class="host-error" role="alert">${quizzes.error.message}</p>`
      : !quizzes.data
        ? html`<p role="status">Loading your quizzes…</p>`
        : quizzes.data.length === 0
          ? html`<p class="host-empty">You have no saved quizzes yet. <a href="#/host/quizzes/new">Write one</a>, or pick another source.</p>`
          : html`<div class="field">
              <label for="room-quiz">Quiz</label>
              <select id="room-quiz" value=${quizId} aria-describedby=${describedBy('quiz')}
                onChange=${(e) => setQuizId(e.currentTarget.value)}>
                ${quizzes.data.map(
                  (q) => html`<option key=${q.quiz_id} value=${q.quiz_id}>${q.title} (${q.question_count} ${q.question_count === 1 ? 'question' : 'questions'})</option>`,
                )}
              </select>
            </div>`;
  } else if (source === 'level') {
    const levels = goal.data && goal.data.roadmap ? goal.data.roadmap.levels : [];
    picker = goals.error
      ? html`<p class="host-error" role="alert">${goals.error.message}</p>`
      : !goals.data
        ? html`<p role="status">Loading your goals…</p>`
        : goals.data.length === 0
          ? html`<p class="host-empty">You have no goals yet. <a href="#/">Create one</a> to get levels with quizzes.</p>`
          : html`<div class="field">
                <label for="room-goal">Goal</label>
                <select id="room-goal" value=${goalId} onChange=${(e) => setGoalId(e.currentTarget.value)}>
                  ${goals.data.map((g) => html`<option key=${g.id} value=${g.id}>${g.title}</option>`)}
                </select>
              </div>
              <div class="field">
                <label for="room-level">Level</label>
                ${goal.error
                  ? html`<p class="host-error" role="alert">${goal.error.message}</p>`
                  : !goal.data
                    ? html`<p role="status">Loading its levels…</p>`
                    : levels.length === 0
                      ? html`<p class="host-empty">This goal has no levels yet (its roadmap may still be generating).</p>`
                      : html`<select id="room-level" value=${levelId} aria-describedby=${describedBy('level')}
                          onChange=${(e) => setLevelId(e.currentTarget.value)}>
                          ${levels.map((l) => html`<option key=${l.id} value=${l.id}>Level ${l.order}: ${l.title}</option>`)}
                        </select>`}
              </div>`;
  } else {
    const categories = [];
    for (const s of catalog.data || []) {
      let group = categories.find((c) => c.name === s.category);
      if (!group) categories.push((group = { name: s.category, subjects: [] }));
      group.subjects.push(s);
    }
    picker = catalog.error
      ? html`<p class="host-error" role="alert">${catalog.error.message}</p>`
      : !catalog.data
        ? html`<p role="status">Loading the catalog…</p>`
        : catalog.data.length === 0
          ? html`<p class="host-empty">The catalog is empty on this server.</p>`
          : html`<div class="field">
                <label for="room-subject">Subject</label>
                <select id="room-subject" value=${subject} onChange=${(e) => setSubject(e.currentTarget.value)}>
                  ${categories.map(
                    (c) => html`<optgroup key=${c.name} label=${c.name}>
                      ${c.subjects.map((s) => html`<option key=${s.slug} value=${s.slug}>${s.title}</option>`)}
                    </optgroup>`,
                  )}
                </select>
              </div>
              <div class="field">
                <label for="room-subject-level">Level</label>
                <select id="room-subject-level" value=${subjectLevel} aria-describedby=${describedBy('catalog')}
                  onChange=${(e) => setSubjectLevel(e.currentTarget.value)}>
                  ${(subjectInfo ? subjectInfo.levels : []).map(
                    (l) => html`<option key=${l.index} value=${String(l.index)}>${l.title} (${l.question_count} ${l.question_count === 1 ? 'question' : 'questions'})</option>`,
                  )}
                </select>
              </div>`;
  }

  const problems = Object.values(errors);
  return html`<section class="page host-page new-room">
    <p class="host-crumbs"><a href="#/host">Hosting</a> / New game</p>
    <h1>Host a game</h1>
    <form onSubmit=${create} novalidate>
      ${problems.length || serverError
        ? html`<div class="form-errors" role="alert" tabindex="-1" ref=${summary}>
            <h2>The game was not created</h2>
            ${serverError && !problems.includes(serverError) ? html`<p>${serverError}</p>` : null}
            ${problems.length ? html`<ul>${problems.map((p) => html`<li key=${p}>${p}</li>`)}</ul>` : null}
          </div>`
        : null}
      <fieldset class="host-fieldset">
        <legend>Questions from</legend>
        <div class="choice-row">
          ${SOURCES.map(
            (s) => html`<label key=${s.value} class="choice">
              <input type="radio" name="source" value=${s.value} checked=${source === s.value}
                onChange=${() => setSource(s.value)} />
              <span>${s.label}</span>
            </label>`,
          )}
        </div>
        ${picker}
        ${fieldError(source === 'quiz' ? 'quiz' : source === 'level' ? 'level' : 'catalog')}
      </fieldset>
      <fieldset class="host-fieldset">
        <legend>Settings</legend>
        <div class="field">
          <label for="room-title">Title shown to players <span class="field-optional">(optional)</span></label>
          <input id="room-title" type="text" maxlength="120" value=${settings.title} placeholder="The quiz's or level's title"
            aria-invalid=${errors.title ? 'true' : 'false'} aria-describedby=${describedBy('title')}
            onInput=${(e) => set('title', e.currentTarget.value)} />
          ${fieldError('title')}
        </div>
        <div class="q-row">
          <div class="field">
            <label for="room-time">Seconds per question</label>
            <input id="room-time" type="number" inputmode="numeric" min="5" max="300" step="1" value=${settings.time}
              aria-invalid=${errors.time ? 'true' : 'false'} aria-describedby=${describedBy('time', 'room-time-hint')}
              onInput=${(e) => set('time', e.currentTarget.value)} />
            <p id="room-time-hint" class="field-hint">5 to 300. Quiz questions with their own time keep it.</p>
            ${fieldError('time')}
          </div>
          <div class="field">
            <label for="room-max">Seats <span class="field-optional">(optional)</span></label>
            <input id="room-max" type="number" inputmode="numeric" min="1" step="1" value=${settings.maxPlayers}
              placeholder="Server maximum"
              aria-invalid=${errors.maxPlayers ? 'true' : 'false'} aria-describedby=${describedBy('maxPlayers')}
              onInput=${(e) => set('maxPlayers', e.currentTarget.value)} />
            ${fieldError('maxPlayers')}
          </div>
        </div>
        <fieldset class="host-fieldset host-fieldset--inner">
          <legend>Scoring</legend>
          <label class="choice">
            <input type="radio" name="scoring" value="speed" checked=${settings.scoring === 'speed'}
              onChange=${() => set('scoring', 'speed')} />
            <span>Speed: 1000 points for an instant right answer, down to 500 at the deadline</span>
          </label>
          <label class="choice">
            <input type="radio" name="scoring" value="accuracy" checked=${settings.scoring === 'accuracy'}
              onChange=${() => set('scoring', 'accuracy')} />
            <span>Accuracy: 1000 points for every right answer</span>
          </label>
        </fieldset>
        ${(source === 'level' || source === 'catalog') && html`<div class="field">
          <label for="room-points">Points per question</label>
          <select id="room-points" value=${settings.points} onChange=${(e) => set('points', e.currentTarget.value)}>
            <option value="1">Standard</option>
            <option value="2">Double points</option>
            <option value="0">No points (practice)</option>
          </select>
        </div>`}
        <label class="choice">
          <input type="checkbox" checked=${settings.streak} onChange=${(e) => set('streak', e.currentTarget.checked)} />
          <span>Streak bonus: +100 per right answer in a row (up to +500)</span>
        </label>
        <label class="choice">
          <input type="checkbox" checked=${settings.guests} onChange=${(e) => set('guests', e.currentTarget.checked)} />
          <span>Let guests play with just a name (no account)</span>
        </label>
      </fieldset>
      <div class="editor-actions">
        <a class="room-btn room-btn--quiet" href="#/host">Cancel</a>
        <span class="pj-spacer"></span>
        <button type="submit" class="room-btn room-btn--primary room-btn--big" disabled=${busy} aria-busy=${busy ? 'true' : 'false'}>
          ${busy ? 'Creating…' : 'Create the game'}
        </button>
      </div>
    </form>
  </section>`;
}
