// Home's streak card: the flame with the days kept, the freezes held, and today's XP
// against the daily goal (live through streak.updated, see engagement.js).

import { html, useEngagement } from '../../ui.js';
import { ProgressBar, Icon, fmt } from './common.js';

export function Flame({ lit = true, size = 40 }) {
  return html`<svg class=${`flame${lit ? ' flame-lit' : ''}`} width=${size} height=${size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
    <path class="flame-outer" d="M12 2c.6 3.2 2.4 5 4.2 6.9C18 10.8 20 12.9 20 16a8 8 0 0 1-16 0c0-2.6 1.2-4.6 2.9-6.2.2 1.7.9 3 2.1 3.9C9 9.2 10.2 5.3 12 2Z"/>
    <path class="flame-inner" d="M12 12.5c.4 1.6 1.4 2.4 2.2 3.3.7.8 1.3 1.6 1.3 2.7a3.5 3.5 0 0 1-7 0c0-1.3.7-2.4 1.7-3.1.1.8.4 1.3 1 1.7.1-1.8.3-3.3.8-4.6Z"/>
  </svg>`;
}

const days = (n) => (n === 1 ? '1 day' : `${fmt(n)} days`);

export function StreakCard() {
  const e = useEngagement();
  const s = e.streak;
  if (!e.loaded || !s) {
    return html`<section class="card streak-card" aria-labelledby="streak-heading">
      <h2 id="streak-heading">Streak</h2>
      <p class="loading"><span class="spinner" aria-hidden="true"></span>Loading your streak…</p>
    </section>`;
  }
  const goal = e.daily_goal || 0;
  const xp = Math.max(0, s.today_xp);
  const left = Math.max(0, goal - xp);
  return html`<section class=${`card streak-card${s.goal_reached ? ' streak-reached' : ''}`} aria-labelledby="streak-heading">
    <h2 id="streak-heading">Streak</h2>
    <div class="streak-main">
      <${Flame} lit=${s.current > 0 || s.goal_reached} />
      <p class="streak-days"><strong>${days(s.current)}</strong><span class="visually-hidden"> in a row</span></p>
    </div>
    <dl class="streak-facts">
      <div><dt>Longest</dt><dd>${days(s.longest)}</dd></div>
      <div><dt>Freezes</dt><dd>${s.freezes} of 2</dd></div>
    </dl>
    <div class="goal-progress">
      <p class="goal-progress-text">
        <span>Today's goal</span>
        <span><strong>${fmt(xp)} / ${fmt(goal)} XP</strong></span>
      </p>
      <${ProgressBar} value=${Math.min(xp, goal)} max=${goal} label="Today's XP toward your daily goal" />
      <p class="goal-state" aria-live="polite">
        ${s.goal_reached
          ? html`<${Icon} name="check" size=${20} /> Daily goal reached! Come back tomorrow to keep your streak.`
          : xp === 0 && s.current === 0
            ? `Earn ${fmt(goal)} XP today to start a streak.`
            : `${fmt(left)} XP to go today.`}
      </p>
    </div>
    <p class="hint">A freeze covers a missed day by itself; one is earned per 7 days kept.${' '}
      <a href="#/profile">Change your daily goal</a></p>
  </section>`;
}

