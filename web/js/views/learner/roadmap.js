// A goal's roadmap as a path of level nodes: done, current (unlocked) and locked.

import { html, useState, navigate, toast, describeError } from '../../ui.js';
import { api } from '../../api.js';
import { useAsync, Loading, ErrorBox, ProgressBar, Icon, titleCase } from './common.js';

export function Roadmap({ params }) {
  const goal = useAsync(() => api.get(`/goals/${encodeURIComponent(params.goalId)}`), [params.goalId]);
  if (goal.error) {
    return html`<section class="page narrow">
      <p><a class="back-link" href="#/"><${Icon} name="back" size=${20} /> All goals</a></p>
      <h1 tabindex="-1">Roadmap</h1>
      <${ErrorBox} error=${goal.error} retry=${goal.reload} />
    </section>`;
  }
  if (!goal.data) return html`<section class="page"><${Loading} label="Loading the roadmap…" /></section>`;
  const g = goal.data;
  const levels = g.roadmap.levels.slice().sort((a, b) => a.order - b.order);
  const passed = levels.filter((l) => l.status === 'completed').length;
  const currentId = (levels.find((l) => l.status === 'unlocked' || l.status === 'in_progress') || {}).id;

  return html`<section class="page narrow roadmap">
    <p><a class="back-link" href="#/"><${Icon} name="back" size=${20} /> All goals</a></p>
    <header class="roadmap-head">
      <h1 tabindex="-1">${g.title}</h1>
      <p class="goal-meta">${titleCase(g.category)} · ${titleCase(g.difficulty)}</p>
      <p class="roadmap-description">${g.description}</p>
      <p class="roadmap-progress-text">${passed} of ${levels.length} levels passed</p>
      <${ProgressBar} value=${passed} max=${levels.length} label="Levels passed" />
    </header>
    ${passed === levels.length && levels.length > 0 && html`<p class="notice notice-success">
      <${Icon} name="trophy" /> You finished this roadmap. Well done!
    </p>`}
    <ol class="path" aria-label=${`${g.roadmap.name || 'Roadmap'}: ${levels.length} levels`}>
      ${levels.map((level, i) => html`<${PathNode} key=${level.id} level=${level} index=${i}
        goalId=${g.id} current=${level.id === currentId} />`)}
    </ol>
    <${DeleteGoal} goal=${g} />
  </section>`;
}

function PathNode({ level, index, goalId, current }) {
  const state = level.status === 'completed' ? 'done' : level.status === 'locked' ? 'locked' : current ? 'current' : 'open';
  const stateText = { done: 'Passed', locked: 'Locked', current: level.status === 'in_progress' ? 'Continue' : 'Start here', open: 'Unlocked' }[state];
  const icon = state === 'done' ? 'check' : state === 'locked' ? 'lock' : 'star';
  const content = html`
    <span class="node-circle"><${Icon} name=${icon} size=${state === 'current' ? 36 : 30} /></span>
    <span class="node-text">
      <span class="node-title">Level ${level.order}: ${level.title}</span>
      <span class="node-state">${stateText}${state !== 'locked' ? ` · ${level.xp_reward} XP` : ''}</span>
    </span>`;
  return html`<li class=${`path-step path-offset-${index % 4} state-${state}`}>
    ${state === 'locked'
      ? html`<div class="path-node" aria-disabled="true">${content}</div>`
      : html`<a class="path-node" href=${`#/levels/${level.id}?goal=${goalId}`}
          aria-current=${state === 'current' ? 'step' : undefined}>${content}</a>`}
  </li>`;
}

function DeleteGoal({ goal }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const remove = async () => {
    setBusy(true);
    try {
      await api.del(`/goals/${encodeURIComponent(goal.id)}`);
      toast(`Deleted “${goal.title}”.`, 'success');
      navigate('#/');
    } catch (err) {
      toast(describeError(err), 'error');
      setBusy(false);
    }
  };
  return html`<section class="danger-zone" aria-label="Delete this goal">
    ${confirming
      ? html`<p>Delete this goal with its roadmap and progress? This cannot be undone.</p>
        <div class="row">
          <button type="button" class="button button-danger" disabled=${busy} onClick=${remove}>${busy ? 'Deleting…' : 'Yes, delete goal'}</button>
          <button type="button" class="button button-ghost" onClick=${() => setConfirming(false)}>Keep it</button>
        </div>`
      : html`<button type="button" class="button button-ghost" onClick=${() => setConfirming(true)}>Delete goal…</button>`}
  </section>`;
}
