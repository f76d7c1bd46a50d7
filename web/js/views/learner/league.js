// Weekly leagues: Home's league card and the League page (#/league): the learner's
// cohort with its promotion and demotion zones, live through `league.standings`
// (engagement.js), the time left in the week, and past weeks.

import { html, useEffect, useState, useUser, useEngagement, toast, describeError } from '../../ui.js';
import { api } from '../../api.js';
import { TIERS, tierName } from '../../engagement.js';
import { useAsync, Loading, ErrorBox, Icon, fmt } from './common.js';

/** Seconds as "2 days 5 h", "3 h 12 min", "4 min". */
function formatLeft(seconds) {
  if (!Number.isFinite(seconds) || seconds <= 0) return 'a few minutes (the week is being decided)';
  const min = Math.floor(seconds / 60);
  const d = Math.floor(min / 1440);
  const h = Math.floor((min % 1440) / 60);
  if (d > 0) return `${d} day${d === 1 ? '' : 's'} ${h} h`;
  if (h > 0) return `${h} h ${min % 60} min`;
  return `${Math.max(1, min)} min`;
}

/**
 * The learner's league this week: GET /leagues/current, with the latest
 * `league.standings` frame of the same week laid over it, and the time left counted
 * down from the server's `seconds_left` (not from the device's clock).
 */
function useLeague() {
  const user = useUser();
  const { standings: frame } = useEngagement();
  const current = useAsync(async () => {
    const data = await api.get('/leagues/current');
    return { ...data, fetchedAt: performance.now() };
  }, []);
  const [now, setNow] = useState(performance.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(performance.now()), 30_000);
    return () => clearInterval(timer);
  }, []);
  const data = current.data;
  // A frame of another week: the week turned over, read the new one.
  useEffect(() => {
    if (data && frame && frame.week !== data.week) current.reload();
  }, [frame && frame.week, data && data.week]);

  if (!data) return { ...current, league: null };
  const live = frame && frame.week === data.week ? frame : null;
  const cohort = data.cohort;
  const rows = live ? live.standings : cohort ? cohort.standings : [];
  const me = rows.find((r) => r.user_id === user.id) || (cohort && cohort.me) || null;
  const secondsLeft = data.seconds_left - (now - data.fetchedAt) / 1000;
  return {
    ...current,
    league: {
      week: data.week,
      tier: live ? live.tier : data.tier,
      placed: data.placed || !!live,
      cohortNumber: live ? live.cohort : cohort && cohort.number,
      promotion: live ? live.promotion_ranks : cohort ? cohort.promotion_ranks : 0,
      demotion: live ? live.demotion_ranks : cohort ? cohort.demotion_ranks : 0,
      rows,
      me,
      live: !!live,
      secondsLeft,
    },
  };
}

const ZONE_WORDS = { promotion: 'Promotion zone', stay: 'Safe zone', demotion: 'Demotion zone' };

function zoneSentence(league) {
  const { me, tier } = league;
  if (!me) return '';
  const i = TIERS.indexOf(tier);
  if (me.zone === 'promotion') return `In the promotion zone: you move up to ${tierName(TIERS[i + 1])} if the week ended now.`;
  if (me.zone === 'demotion') return `In the demotion zone: you move down to ${tierName(TIERS[i - 1])} if the week ended now.`;
  return `In the safe zone: you stay in ${tierName(tier)} if the week ended now.`;
}

export function LeagueCard() {
  const { league, error, reload } = useLeague();
  return html`<section class="card league-card" aria-labelledby="league-card-heading">
    <h2 id="league-card-heading">League</h2>
    ${error && html`<${ErrorBox} error=${error} retry=${reload} />`}
    ${!league && !error && html`<p class="loading"><span class="spinner" aria-hidden="true"></span>Loading your league…</p>`}
    ${league && html`
      <div class="league-main">
        <span class=${`tier-badge tier-${league.tier}`} aria-hidden="true"><${Icon} name="trophy" size=${28} /></span>
        <p class="league-tier"><strong>${tierName(league.tier)} league</strong></p>
      </div>
      ${league.placed && league.me
        ? html`<p class="league-rank">You are <strong>#${league.me.rank}</strong> of ${league.rows.length} with ${fmt(league.me.xp)} XP this week.</p>
          <p class=${`zone-note zone-note-${league.me.zone}`}>${zoneSentence(league)}</p>`
        : html`<p>Earn XP this week to join a ${tierName(league.tier)} cohort of up to 30 learners.</p>`}
      <p class="league-left"><${Icon} name="clock" size=${20} /> Week ends in ${formatLeft(league.secondsLeft)}</p>
      <a class="button button-secondary" href="#/league">Open the league</a>`}
  </section>`;
}

function ZoneMark({ zone }) {
  if (zone === 'promotion') {
    return html`<span class="zone-mark zone-up"><svg width="16" height="16" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="M12 4 4 14h5v6h6v-6h5z"/></svg> Up</span>`;
  }
  if (zone === 'demotion') {
    return html`<span class="zone-mark zone-down"><svg width="16" height="16" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="M12 20 4 10h5V4h6v6h5z"/></svg> Down</span>`;
  }
  return html`<span class="zone-mark zone-stay">Stay</span>`;
}

export function League() {
  const user = useUser();
  const { league, error, reload, loading } = useLeague();
  const i = league ? TIERS.indexOf(league.tier) : -1;
  return html`<section class="page narrow league-page">
    <h1 tabindex="-1">League</h1>
    ${error && html`<${ErrorBox} error=${error} retry=${reload} />`}
    ${!league && loading && html`<${Loading} label="Loading your league…" />`}
    ${league && html`
      <section class="card league-head" aria-label="This week">
        <div class="league-main">
          <span class=${`tier-badge tier-${league.tier}`} aria-hidden="true"><${Icon} name="trophy" size=${32} /></span>
          <div>
            <p class="league-tier"><strong>${tierName(league.tier)} league</strong></p>
            <p class="hint">Week ${league.week}${league.cohortNumber ? `, cohort ${league.cohortNumber}` : ''}</p>
          </div>
        </div>
        <p class="league-left"><${Icon} name="clock" size=${20} /> Ends in ${formatLeft(league.secondsLeft)} (Monday 00:00 UTC)</p>
        ${league.live && html`<p><span class="live-dot">Live</span></p>`}
        ${league.placed && league.me && html`<p class="league-rank">You are <strong>#${league.me.rank}</strong> with ${fmt(league.me.xp)} XP. ${zoneSentence(league)}</p>`}
        ${league.placed && html`<p class="hint">
          ${league.promotion === 1 ? `The leader moves up to ${tierName(TIERS[i + 1])}`
            : league.promotion > 1 ? `The top ${league.promotion} move up to ${tierName(TIERS[i + 1])}`
              : `${tierName(league.tier)} is the top league: nobody moves up`};${' '}
          ${league.demotion === 1 ? `the last one moves down to ${tierName(TIERS[i - 1])}.`
            : league.demotion > 1 ? `the last ${league.demotion} move down to ${tierName(TIERS[i - 1])}.`
              : 'nobody moves down this week.'}
        </p>`}
      </section>
      ${league.placed
        ? html`<${Standings} rows=${league.rows} userId=${user.id} />`
        : html`<p class="empty">You are not in a cohort this week yet. Pass a level's quiz: your first XP of the week places you in a ${tierName(league.tier)} cohort.</p>`}
    `}
    <${History} />
  </section>`;
}

function Standings({ rows, userId }) {
  return html`<h2 class="board-title" id="cohort-heading">Your cohort</h2>
  <table class="board league-board" aria-labelledby="cohort-heading">
    <thead><tr><th scope="col">Rank</th><th scope="col">Learner</th><th scope="col" class="num">XP</th><th scope="col">Zone</th></tr></thead>
    <tbody>
      ${rows.map((r) => html`<tr key=${r.user_id} class=${`zone-${r.zone}${r.user_id === userId ? ' me' : ''}`}
        aria-current=${r.user_id === userId ? 'true' : undefined}>
        <td><span class=${`rank rank-${r.rank}`}>${r.rank}</span></td>
        <td>${r.name}${r.user_id === userId ? html` <span class="you">(you)</span>` : ''}</td>
        <td class="num">${fmt(r.xp)}</td>
        <td><${ZoneMark} zone=${r.zone} /><span class="visually-hidden">: ${ZONE_WORDS[r.zone] || r.zone}</span></td>
      </tr>`)}
    </tbody>
  </table>`;
}

const OUTCOME = { promoted: 'Moved up', demoted: 'Moved down', stayed: 'Stayed' };

function History() {
  const first = useAsync(() => api.get('/leagues/history?limit=10'), []);
  const [extra, setExtra] = useState({ weeks: [], before: undefined, busy: false });
  const weeks = [...(first.data ? first.data.weeks : []), ...extra.weeks];
  const before = extra.before !== undefined ? extra.before : first.data && first.data.next_before;
  const more = async () => {
    setExtra((x) => ({ ...x, busy: true }));
    try {
      const page = await api.get(`/leagues/history?limit=10&before=${encodeURIComponent(before)}`);
      setExtra((x) => ({ weeks: [...x.weeks, ...page.weeks], before: page.next_before, busy: false }));
    } catch (err) {
      toast(describeError(err), 'error');
      setExtra((x) => ({ ...x, busy: false }));
    }
  };
  return html`<section aria-labelledby="history-heading" class="league-history">
    <h2 id="history-heading">Past weeks</h2>
    ${first.error && html`<${ErrorBox} error=${first.error} retry=${first.reload} />`}
    ${first.loading && !first.data && html`<${Loading} label="Loading past weeks…" />`}
    ${first.data && weeks.length === 0 && html`<p class="empty">No finished week yet. Results show here after each Monday.</p>`}
    ${weeks.length > 0 && html`<table class="board" aria-labelledby="history-heading">
      <thead><tr><th scope="col">Week</th><th scope="col">League</th><th scope="col" class="num">Place</th><th scope="col" class="num">XP</th><th scope="col">Result</th></tr></thead>
      <tbody>
        ${weeks.map((w) => html`<tr key=${w.week}>
          <td>${w.week}</td>
          <td>${tierName(w.tier)}</td>
          <td class="num">${w.rank} of ${w.cohort_size}</td>
          <td class="num">${fmt(w.xp)}</td>
          <td>${OUTCOME[w.outcome] || w.outcome}${w.outcome !== 'stayed' ? ` to ${tierName(w.tier_after)}` : ''}</td>
        </tr>`)}
      </tbody>
    </table>`}
    ${before && html`<button type="button" class="button button-secondary" disabled=${extra.busy} onClick=${more}>
      ${extra.busy ? 'Loading…' : 'Show earlier weeks'}
    </button>`}
  </section>`;
}
