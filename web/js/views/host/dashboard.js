// Hosting home: saved quizzes (new, edit, host, export, import, delete) and the games
// this learner hosted, with their results to download.
import { api, ApiError } from '../../api.js';
import { html, toast, useEffect, useRef, useState } from '../../ui.js';
import { download } from './download.js';
import { hostingNow } from './session.js';

function formatDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? ''
    : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

const END_REASONS = {
  finished: 'Finished',
  ended_by_host: 'Ended early',
  host_left: 'Host left',
  abandoned: 'Abandoned',
};

export function HostDashboard() {
  const [quizzes, setQuizzes] = useState(null);
  const [rooms, setRooms] = useState(null);
  const [quizError, setQuizError] = useState(null);
  const [roomError, setRoomError] = useState(null);
  const [live] = useState(hostingNow);

  const loadQuizzes = () =>
    api
      .get('/quizzes')
      .then((r) => {
        setQuizzes(r.quizzes || []);
        setQuizError(null);
      })
      .catch((err) => setQuizError(err));
  const loadRooms = () =>
    api
      .get('/rooms')
      .then((r) => {
        setRooms(r.items || r.rooms || []);
        setRoomError(null);
      })
      .catch((err) => setRoomError(err));

  useEffect(() => {
    loadQuizzes();
    loadRooms();
  }, []);

  return html`<section class="page host-page">
    <div class="host-head">
      <h1>Hosting</h1>
      <a class="room-btn room-btn--primary" href="#/host/rooms/new">Host a game</a>
    </div>
    ${live
      ? html`<p class="host-live">
          A game is running: <strong>${live.title}</strong> (code ${live.code}).
          <a class="room-btn room-btn--small" href=${`#/host/room/${live.code}`}>Back to the game screen</a>
        </p>`
      : null}
    <${Quizzes} quizzes=${quizzes} error=${quizError} reload=${loadQuizzes} />
    <${Rooms} rooms=${rooms} error=${roomError} />
  </section>`;
}

function Quizzes({ quizzes, error, reload }) {
  const [confirming, setConfirming] = useState(null);
  const [busy, setBusy] = useState(false);
  const file = useRef(null);

  const remove = async (quiz) => {
    setBusy(true);
    try {
      await api.del(`/quizzes/${encodeURIComponent(quiz.quiz_id)}`);
      toast(`Deleted “${quiz.title}”.`, 'info');
      setConfirming(null);
      await reload();
    } catch (err) {
      toast(err.message, 'error');
    } finally {
      setBusy(false);
    }
  };

  const exportQuiz = async (quiz, kind) => {
    try {
      await download(`/quizzes/${encodeURIComponent(quiz.quiz_id)}/export.${kind}`, `${quiz.title}.${kind}`);
    } catch (err) {
      toast(err.message, 'error');
    }
  };

  const importFile = async (event) => {
    const chosen = event.currentTarget.files && event.currentTarget.files[0];
    event.currentTarget.value = '';
    if (!chosen) return;
    const csv = /\.csv$/i.test(chosen.name) || chosen.type === 'text/csv';
    const json = /\.json$/i.test(chosen.name) || chosen.type === 'application/json';
    if (!csv && !json) {
      toast('Choose a .json or .csv file exported from QuestPath (or written in the same format).', 'error');
      return;
    }
    if (chosen.size > 1024 * 1024) {
      toast('That file is too big to be a quiz (over 1 MB).', 'error');
      return;
    }
    setBusy(true);
    try {
      const body = await chosen.text();
      const title = chosen.name.replace(/\.(csv|json)$/i, '').slice(0, 120) || 'Imported quiz';
      const path = csv ? `/quizzes/import?title=${encodeURIComponent(title)}` : '/quizzes/import';
      const res = await api.raw(path, {
        method: 'POST',
        headers: { 'Content-Type': csv ? 'text/csv' : 'application/json' },
        body,
      });
      const saved = await res.json();
      toast(`Imported “${saved.title}” (${(saved.questions || []).length} questions).`, 'success');
      await reload();
    } catch (err) {
      const fields = err instanceof ApiError ? Object.values(err.fields || {}) : [];
      const why = [err.message, ...fields.filter((f) => f !== err.message)].join(' ');
      toast(`“${chosen.name}” was not imported: ${why}`, 'error');
    } finally {
      setBusy(false);
    }
  };

  return html`<section class="host-section" aria-labelledby="quizzes-title">
    <div class="host-section-head">
      <h2 id="quizzes-title">Your quizzes</h2>
      <a class="room-btn" href="#/host/quizzes/new">New quiz</a>
      <label class="room-btn room-btn--file">
        Import JSON or CSV
        <input ref=${file} type="file" class="sr-only" accept=".json,.csv,application/json,text/csv"
          disabled=${busy} onChange=${importFile} />
      </label>
    </div>
    ${error
      ? html`<p class="host-error" role="alert">${error.message} <button type="button" class="room-link-btn" onClick=${reload}>Try again</button></p>`
      : quizzes == null
        ? html`<p role="status">Loading your quizzes…</p>`
        : quizzes.length === 0
          ? html`<p class="host-empty">No quizzes yet. Write one with <a href="#/host/quizzes/new">New quiz</a>, import a file, or host a game from one of your levels.</p>`
          : html`<ul class="host-list">
              ${quizzes.map(
                (q) => html`<li key=${q.quiz_id} class="host-item">
                  <div class="host-item-main">
                    <a class="host-item-title" href=${`#/host/quizzes/${q.quiz_id}`}>${q.title}</a>
                    <span class="host-item-meta">${q.question_count} ${q.question_count === 1 ? 'question' : 'questions'} · updated ${formatDate(q.updated_at)}</span>
                  </div>
                  <div class="host-item-actions">
                    ${confirming === q.quiz_id
                      ? html`<span class="host-confirm" role="alert">Delete “${q.title}”?</span>
                          <button type="button" class="room-btn room-btn--danger room-btn--small" disabled=${busy} onClick=${() => remove(q)}>Delete</button>
                          <button type="button" class="room-btn room-btn--small" onClick=${() => setConfirming(null)}>Keep</button>`
                      : html`<a class="room-btn room-btn--primary room-btn--small" href=${`#/host/rooms/new?quiz=${q.quiz_id}`}
                            aria-label=${`Host ${q.title}`}>Host</a>
                          <a class="room-btn room-btn--small" href=${`#/host/quizzes/${q.quiz_id}`} aria-label=${`Edit ${q.title}`}>Edit</a>
                          <button type="button" class="room-btn room-btn--small" aria-label=${`JSON export of ${q.title}`}
                            onClick=${() => exportQuiz(q, 'json')}>JSON</button>
                          <button type="button" class="room-btn room-btn--small" aria-label=${`CSV export of ${q.title}`}
                            onClick=${() => exportQuiz(q, 'csv')}>CSV</button>
                          <button type="button" class="room-btn room-btn--quiet room-btn--small" aria-label=${`Delete ${q.title}`}
                            onClick=${() => setConfirming(q.quiz_id)}>Delete</button>`}
                  </div>
                </li>`,
              )}
            </ul>`}
  </section>`;
}

function Rooms({ rooms, error }) {
  const get = async (room, kind) => {
    try {
      const suffix = kind === 'csv' ? '.csv' : '';
      await download(`/rooms/${room.room_id}/results${suffix}`, `questpath-room-${room.code}.${kind}`);
    } catch (err) {
      toast(err.message, 'error');
    }
  };
  return html`<section class="host-section" aria-labelledby="rooms-title">
    <h2 id="rooms-title">Games you hosted</h2>
    ${error
      ? html`<p class="host-error" role="alert">${error.message}</p>`
      : rooms == null
        ? html`<p role="status">Loading your games…</p>`
        : rooms.length === 0
          ? html`<p class="host-empty">Finished games and their results appear here.</p>`
          : html`<ul class="host-list">
              ${rooms.map(
                (r) => html`<li key=${r.room_id} class="host-item">
                  <div class="host-item-main">
                    <span class="host-item-title">${r.title}</span>
                    <span class="host-item-meta">
                      ${formatDate(r.ended_at)} · ${r.players} ${r.players === 1 ? 'player' : 'players'} ·
                      ${END_REASONS[r.end_reason] || r.end_reason} · code ${r.code}
                    </span>
                  </div>
                  <div class="host-item-actions">
                    <button type="button" class="room-btn room-btn--small" aria-label=${`Results CSV of ${r.title}, ${formatDate(r.ended_at)}`}
                      onClick=${() => get(r, 'csv')}>Results CSV</button>
                    <button type="button" class="room-btn room-btn--small" aria-label=${`Results JSON of ${r.title}, ${formatDate(r.ended_at)}`}
                      onClick=${() => get(r, 'json')}>Results JSON</button>
                  </div>
                </li>`,
              )}
            </ul>`}
  </section>`;
}
