// Home: the learner's level and XP, a new goal (with its roadmap job followed live),
// and the goals list.

import { html, useState, useEffect, useUser, toast, describeError } from '../../ui.js';
import { api } from '../../api.js';
import { useAsync, Loading, ErrorBox, XpBar, Icon, titleCase, fmt } from './common.js';
import { useJob, isTerminal, pendingJobs } from './jobs.js';
import { StreakCard } from './streak.js';
import { LeagueCard } from './league.js';

const GOAL_MIN = 10;
const GOAL_MAX = 500;

export function Home() {
  const user = useUser();
  return user ? html`<${Dashboard} user=${user} />` : html`<${Welcome} />`;
}

function Welcome() {
  return html`<section class="page narrow welcome">
    <img class="welcome-logo" src="/icons/icon.svg" alt="" width="96" height="96" />
    <h1 tabindex="-1">Learn anything, one level at a time</h1>
    <p class="lead">Tell QuestPath what you want to learn. It builds a roadmap of levels; read each topic,
      pass the timed quiz, earn XP and climb the leaderboard.</p>
    <div class="welcome-actions">
      <a class="button button-primary button-large" href="#/signup">Get started</a>
      <a class="button button-secondary button-large" href="#/login">I have an account</a>
    </div>
    <div class="card welcome-join">
      <h2>Playing a live quiz?</h2>
      <p>Got a code from your teacher or host? Join the game; no account needed.</p>
      <a class="button button-secondary" href="#/join">Join a game</a>
    </div>
  </section>`;
}

function Dashboard({ user }) {
  const name = user.display_name || user.email.split('@')[0];
  const [jobs, setJobs] = useState(pendingJobs.list);
  const goals = useGoals();

  const started = (job, description) => {
    pendingJobs.add({ ...job, description });
    setJobs(pendingJobs.list());
  };
  const finished = (job) => {
    if (job.status === 'done') goals.reload();
  };
  const dismiss = (id) => {
    pendingJobs.remove(id);
    setJobs(pendingJobs.list());
  };

  return html`<section class="page">
    <h1 tabindex="-1">Hi, ${name}!</h1>
    <div class="engage-grid">
      <${StreakCard} />
      <${LeagueCard} />
    </div>
    <${Progress} user=${user} />
    <${NewGoal} onStarted=${started} />
    ${jobs.length > 0 && html`<section aria-labelledby="jobs-heading" class="stack">
      <h2 id="jobs-heading" class="visually-hidden">Roadmaps being generated</h2>
      ${jobs.map((job) => html`<${JobCard} key=${job.id} initial=${job} onFinished=${finished} onDismiss=${dismiss} />`)}
    </section>`}
    <${GoalList} goals=${goals} />
  </section>`;
}

function Progress({ user }) {
  const stats = useAsync(() => api.get('/me/stats'), [user.total_xp]);
  const s = stats.data;
  return html`<section class="card dashboard" aria-label="Your progress">
    <${XpBar} totalXp=${user.total_xp} level=${user.level} />
    <dl class="stats">
      <div><dt>Total XP</dt><dd>${fmt(user.total_xp)}</dd></div>
      <div><dt>Levels passed</dt><dd>${s ? `${s.levels_completed} / ${s.total_levels}` : '–'}</dd></div>
      <div><dt>Overall</dt><dd>${s ? `${s.completion_percent}%` : '–'}</dd></div>
    </dl>
    <div class="dashboard-links">
      <a class="button button-secondary" href="#/leaderboard"><${Icon} name="trophy" size=${20} /> Leaderboard</a>
      <a class="button button-secondary" href="#/join"><${Icon} name="play" size=${20} /> Join a live game</a>
      <a class="button button-secondary" href="#/host"><${Icon} name="host" size=${20} /> Host a game</a>
    </div>
  </section>`;
}

function NewGoal({ onStarted }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const length = text.trim().length;
  const tooShort = length > 0 && length < GOAL_MIN;

  const submit = async (e) => {
    e.preventDefault();
    if (length < GOAL_MIN) {
      setError(`Describe your goal in at least ${GOAL_MIN} characters.`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const { job } = await api.post('/goals', { description: text.trim() });
      onStarted(job, text.trim());
      setText('');
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return html`<section class="card" aria-labelledby="new-goal-heading">
    <h2 id="new-goal-heading">Start a new goal</h2>
    <form class="form" onSubmit=${submit} novalidate>
      <div class="field">
        <label for="goal-description">What do you want to learn?</label>
        <textarea id="goal-description" rows="3" maxlength=${GOAL_MAX} required
          placeholder="e.g. Learn the basics of Spanish for a trip"
          aria-describedby="goal-hint${error ? ' goal-error' : ''}" aria-invalid=${error ? 'true' : undefined}
          value=${text} onInput=${(e) => setText(e.currentTarget.value)}></textarea>
        <p class="hint" id="goal-hint">
          ${GOAL_MIN} to ${GOAL_MAX} characters. <span class=${tooShort ? 'counter counter-warn' : 'counter'}>${length} / ${GOAL_MAX}</span>
        </p>
        ${error && html`<p class="field-error" id="goal-error" role="alert">${error}</p>`}
      </div>
      <button class="button button-primary" type="submit" disabled=${busy}>${busy ? 'Creating…' : 'Create my roadmap'}</button>
    </form>
  </section>`;
}

const STEPS = [
  { key: 'queued', label: 'Queued' },
  { key: 'generating', label: 'Writing levels' },
  { key: 'saving', label: 'Saving' },
  { key: 'done', label: 'Ready' },
];

function stepIndex(job) {
  if (job.status === 'done') return 3;
  if (job.status === 'running') return job.step === 'saving' ? 2 : 1;
  return 0;
}

function jobMessage(job) {
  switch (job.status) {
    case 'queued':
      return 'Waiting for a roadmap writer…';
    case 'running':
      return job.step === 'saving' ? 'Saving your levels…' : 'Writing your roadmap…';
    case 'done':
      return 'Your roadmap is ready!';
    case 'failed':
      return `Generation failed${job.reason ? `: ${job.reason}` : ''}. Try again with another description.`;
    default:
      return titleCase(job.status);
  }
}

function JobCard({ initial, onFinished, onDismiss }) {
  const job = useJob(initial);
  const done = isTerminal(job);
  useEffect(() => {
    if (!done) return;
    onFinished(job);
    if (job.status === 'done') toast('Your roadmap is ready.', 'success');
    else toast('A roadmap could not be generated.', 'error');
  }, [done]);
  const current = stepIndex(job);
  return html`<article class=${`card job job-${job.status}`} aria-label="Roadmap generation">
    <p class="job-goal">${initial.description ? `“${initial.description}”` : 'New goal'}</p>
    <p class="job-status" aria-live="polite">${jobMessage(job)}</p>
    ${job.status !== 'failed' && html`<ol class="steps">
      ${STEPS.map((step, i) => html`<li class=${i < current || job.status === 'done' ? 'step step-done' : i === current ? 'step step-current' : 'step'}
        aria-current=${i === current && !done ? 'step' : undefined}>${step.label}</li>`)}
    </ol>`}
    <div class="row">
      ${job.status === 'done' && job.goal_id && html`<a class="button button-primary" href=${`#/goals/${job.goal_id}`}
        onClick=${() => onDismiss(job.id)}>Open roadmap</a>`}
      ${done && html`<button type="button" class="button button-ghost" onClick=${() => onDismiss(job.id)}>Dismiss</button>`}
    </div>
  </article>`;
}

function useGoals() {
  const [extra, setExtra] = useState({ items: [], cursor: undefined, loadingMore: false });
  const first = useAsync(() => api.get('/goals?limit=20'), []);
  useEffect(() => setExtra({ items: [], cursor: undefined, loadingMore: false }), [first.data]);
  const items = [...(first.data ? first.data.items : []), ...extra.items];
  const cursor = extra.cursor !== undefined ? extra.cursor : first.data && first.data.next_cursor;
  const more = async () => {
    setExtra((x) => ({ ...x, loadingMore: true }));
    try {
      const page = await api.get(`/goals?limit=20&after=${encodeURIComponent(cursor)}`);
      setExtra((x) => ({ items: [...x.items, ...page.items], cursor: page.next_cursor, loadingMore: false }));
    } catch (err) {
      toast(describeError(err), 'error');
      setExtra((x) => ({ ...x, loadingMore: false }));
    }
  };
  return { ...first, items, cursor, more, loadingMore: extra.loadingMore };
}

const STATUS_LABEL = { not_started: 'Not started', in_progress: 'In progress', completed: 'Completed' };

function GoalList({ goals }) {
  return html`<section aria-labelledby="goals-heading">
    <h2 id="goals-heading">Your goals</h2>
    ${goals.error && html`<${ErrorBox} error=${goals.error} retry=${goals.reload} />`}
    ${goals.loading && !goals.data && html`<${Loading} label="Loading your goals…" />`}
    ${goals.data && goals.items.length === 0 && html`<p class="empty">No goals yet. Describe what you want to learn above and we will build a roadmap for you.</p>`}
    <ul class="goal-list">
      ${goals.items.map((g) => html`<li key=${g.id}>
        <a class="card goal-card" href=${`#/goals/${g.id}`}>
          <span class="goal-title">${g.title}</span>
          <span class="goal-meta">${titleCase(g.category)} · ${titleCase(g.difficulty)} · ${g.level_count} levels</span>
          <span class=${`badge badge-${g.status}`}>${STATUS_LABEL[g.status] || titleCase(g.status)}</span>
        </a>
      </li>`)}
    </ul>
    ${goals.cursor && html`<button type="button" class="button button-secondary" disabled=${goals.loadingMore} onClick=${goals.more}>
      ${goals.loadingMore ? 'Loading…' : 'Show more goals'}
    </button>`}
  </section>`;
}
