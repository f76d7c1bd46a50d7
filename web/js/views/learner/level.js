// A level's topics with their explanations; tick each one, then take the quiz.

import { html, useState, toast, describeError } from '../../ui.js';
import { api } from '../../api.js';
import { useAsync, Loading, ErrorBox, ProgressBar, Icon } from './common.js';

export function Level({ params, query }) {
  const level = useAsync(() => api.get(`/levels/${encodeURIComponent(params.levelId)}`), [params.levelId]);
  const [saving, setSaving] = useState({});
  // The level answer has no goal id, so the roadmap link comes from where we came from.
  const back = query.goal ? `#/goals/${encodeURIComponent(query.goal)}` : '#/';
  const backLabel = query.goal ? 'Roadmap' : 'All goals';
  const backLink = html`<p><a class="back-link" href=${back}><${Icon} name="back" size=${20} /> ${backLabel}</a></p>`;

  if (level.error) {
    return html`<section class="page narrow">${backLink}<h1 tabindex="-1">Level</h1>
      <${ErrorBox} error=${level.error} retry=${level.reload} /></section>`;
  }
  if (!level.data) return html`<section class="page narrow">${backLink}<${Loading} label="Loading the level…" /></section>`;

  const l = level.data;
  const done = l.topics.filter((t) => t.completed).length;
  const locked = l.status === 'locked';

  const toggle = async (topic, completed) => {
    setSaving((s) => ({ ...s, [topic.index]: true }));
    // Show the tick at once; the server's answer (the whole level) replaces it.
    level.setData((d) => ({ ...d, topics: d.topics.map((t) => (t.index === topic.index ? { ...t, completed } : t)) }));
    try {
      level.setData(await api.put(`/levels/${encodeURIComponent(l.id)}/topics/${topic.index}`, { completed }));
    } catch (err) {
      level.setData((d) => ({ ...d, topics: d.topics.map((t) => (t.index === topic.index ? { ...t, completed: !completed } : t)) }));
      toast(describeError(err), 'error');
    } finally {
      setSaving((s) => ({ ...s, [topic.index]: false }));
    }
  };

  const quizHref = `#/quiz/${l.id}${query.goal ? `?goal=${encodeURIComponent(query.goal)}` : ''}`;
  return html`<section class="page narrow level-page">
    ${backLink}
    <header>
      <p class="eyebrow">Level ${l.order} · ${l.xp_reward} XP</p>
      <h1 tabindex="-1">${l.title}</h1>
      <p>${l.description}</p>
    </header>
    ${locked
      ? html`<p class="notice"><${Icon} name="lock" /> This level is locked. Pass the previous level's quiz to open it.</p>`
      : html`<p class="topics-progress" aria-live="polite">${done} of ${l.topics.length} topics done</p>
        <${ProgressBar} value=${done} max=${l.topics.length} label="Topics done" />`}
    <ol class="topics">
      ${l.topics.map((t) => html`<li key=${t.index} class=${t.completed ? 'card topic topic-done' : 'card topic'}>
        <h2 class="topic-name">${t.name}</h2>
        ${t.completed
          ? html`<details class="topic-details">
              <summary>Read the explanation again<span class="visually-hidden">: ${t.name}</span></summary>
              <p class="topic-explanation">${t.explanation}</p>
            </details>`
          : html`<p class="topic-explanation">${t.explanation}</p>`}
        <label class="check">
          <input type="checkbox" checked=${t.completed} disabled=${locked || saving[t.index]}
            onChange=${(e) => toggle(t, e.currentTarget.checked)} />
          <span>${t.completed ? 'Done' : 'Mark as done'}<span class="visually-hidden">: ${t.name}</span></span>
        </label>
      </li>`)}
    </ol>
    <div class="quiz-cta card">
      ${l.status === 'completed' && html`<p><${Icon} name="check" /> You passed this level. You can take the quiz again for a little extra XP once a day.</p>`}
      ${l.quiz_available
        ? html`<a class="button button-primary button-large" href=${quizHref}><${Icon} name="play" /> ${l.status === 'completed' ? 'Retake the quiz' : 'Start the quiz'}</a>`
        : !locked && html`<p>Tick every topic to unlock the quiz.</p>
          <button type="button" class="button button-primary button-large" disabled>Start the quiz</button>`}
    </div>
  </section>`;
}
