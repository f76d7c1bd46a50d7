// Notifications (#/notifications): newest first, paged; each kind said in words with a
// link where one helps; mark one or all read. New ones arrive live (`notification`
// frames through engagement.js) at the top of the list.

import { html, useEffect, useState, useEngagement, toast, describeError } from '../../ui.js';
import { api } from '../../api.js';
import { engagement, tierName } from '../../engagement.js';
import { Loading, ErrorBox, Icon, fmt } from './common.js';

const PAGE = 20;

const ordinal = (n) => {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return `${n}${s[(v - 20) % 10] || s[v] || s[0]}`;
};

const END_REASON = {
  finished: 'ended',
  ended_by_host: 'was ended by the host',
  host_left: 'ended when the host left',
  abandoned: 'ended (abandoned)',
};

/** {title, body, link: {href, label}} for one notification. */
export function describeNotification(n) {
  const d = n.data || {};
  switch (n.kind) {
    case 'level_up':
      return {
        icon: 'star',
        title: `You reached level ${d.level}!`,
        body: `${fmt(d.total_xp)} XP in all. Keep going to reach level ${d.level + 1}.`,
        link: { href: '#/profile', label: 'See your progress' },
      };
    case 'room_ended': {
      const place = d.rank ? `You finished ${ordinal(d.rank)} of ${d.players}` : 'You played';
      return {
        icon: 'play',
        title: `The game “${d.title || d.code}” ${END_REASON[d.end_reason] || 'ended'}`,
        body: `${place} with ${fmt(d.score)} points${d.xp ? ` and earned ${fmt(d.xp)} XP` : ''}.`,
        link: { href: '#/leaderboard', label: 'See the leaderboard' },
      };
    }
    case 'league_result': {
      const title = d.outcome === 'promoted'
        ? `Promoted to the ${tierName(d.tier_after)} league!`
        : d.outcome === 'demoted'
          ? `Moved down to the ${tierName(d.tier_after)} league`
          : `You stayed in the ${tierName(d.tier_after || d.tier_before)} league`;
      return {
        icon: 'trophy',
        title,
        body: `Week ${d.week}: you finished ${ordinal(d.rank)} in your cohort with ${fmt(d.xp)} XP.`,
        link: { href: '#/league', label: 'Open this week’s league' },
      };
    }
    case 'streak_at_risk':
      return {
        icon: 'clock',
        title: `Your ${d.streak}-day streak is at risk`,
        body: `Reach your daily goal today (${d.local_date}) to keep it.`,
        link: { href: '#/', label: 'Earn XP now' },
      };
    default:
      return { icon: 'star', title: 'Something happened on QuestPath', body: '', link: null };
  }
}

function when(iso) {
  try {
    return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  } catch {
    return iso;
  }
}

export function Notifications() {
  const { lastNotification } = useEngagement();
  const [state, setState] = useState({ items: [], cursor: null, loading: true, error: null, more: false });
  const [busy, setBusy] = useState(false);

  const load = async (after) => {
    setState((s) => ({ ...s, loading: true, error: null }));
    try {
      const page = await api.get(`/notifications?limit=${PAGE}${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      setState((s) => {
        const items = after ? [...s.items, ...page.items.filter((n) => !s.items.some((m) => m.id === n.id))] : page.items;
        return { items, cursor: page.next_cursor, loading: false, error: null };
      });
      engagement.setUnread(page.unread);
    } catch (error) {
      setState((s) => ({ ...s, loading: false, error }));
    }
  };
  useEffect(() => {
    load(null);
  }, []);
  // A new one while the page is open goes on top.
  useEffect(() => {
    if (!lastNotification) return;
    setState((s) => (s.items.some((n) => n.id === lastNotification.id) ? s : { ...s, items: [lastNotification, ...s.items] }));
  }, [lastNotification && lastNotification.id]);

  const markRead = async (n) => {
    try {
      await api.post(`/notifications/${encodeURIComponent(n.id)}/read`);
      setState((s) => ({ ...s, items: s.items.map((m) => (m.id === n.id ? { ...m, read: true } : m)) }));
      if (!n.read) engagement.setUnread(engagement.state.unread - 1);
    } catch (err) {
      toast(describeError(err), 'error');
    }
  };
  const markAll = async () => {
    setBusy(true);
    try {
      await api.post('/notifications/read-all');
      setState((s) => ({ ...s, items: s.items.map((m) => ({ ...m, read: true })) }));
      engagement.setUnread(0);
      toast('All notifications are marked read.', 'success');
    } catch (err) {
      toast(describeError(err), 'error');
    } finally {
      setBusy(false);
    }
  };

  const unread = state.items.filter((n) => !n.read).length;
  const { unread: unreadTotal } = useEngagement();
  return html`<section class="page narrow notifications-page">
    <h1 tabindex="-1">Notifications</h1>
    <div class="row notif-bar">
      <p class="board-meta" aria-live="polite">${unreadTotal === 0 ? 'Nothing unread.' : unreadTotal === 1 ? '1 unread' : `${unreadTotal} unread`}</p>
      <button type="button" class="button button-secondary" disabled=${busy || (unread === 0 && unreadTotal === 0)} onClick=${markAll}>Mark all as read</button>
    </div>
    ${state.error && html`<${ErrorBox} error=${state.error} retry=${() => load(null)} />`}
    ${state.loading && state.items.length === 0 && html`<${Loading} label="Loading your notifications…" />`}
    ${!state.loading && !state.error && state.items.length === 0 && html`<p class="empty">No notifications yet. Level-ups, league results, finished games and streak reminders show up here.</p>`}
    <ul class="notif-list">
      ${state.items.map((n) => {
        const d = describeNotification(n);
        return html`<li key=${n.id} class=${`card notif${n.read ? '' : ' notif-unread'}`}>
          <span class="notif-icon" aria-hidden="true"><${Icon} name=${d.icon} size=${22} /></span>
          <div class="notif-body">
            <p class="notif-title">${!n.read && html`<span class="notif-dot" aria-hidden="true"></span><span class="visually-hidden">Unread: </span>`}${d.title}</p>
            ${d.body && html`<p class="notif-text">${d.body}</p>`}
            <p class="notif-meta"><time datetime=${n.created_at}>${when(n.created_at)}</time></p>
            <div class="row">
              ${d.link && html`<a href=${d.link.href} onClick=${() => !n.read && markRead(n)}>${d.link.label}</a>`}
              ${!n.read && html`<button type="button" class="button button-ghost button-small" onClick=${() => markRead(n)}>Mark as read<span class="visually-hidden">: ${d.title}</span></button>`}
            </div>
          </div>
        </li>`;
      })}
    </ul>
    ${state.cursor && html`<button type="button" class="button button-secondary" disabled=${state.loading} onClick=${() => load(state.cursor)}>
      ${state.loading ? 'Loading…' : 'Show older notifications'}
    </button>`}
  </section>`;
}
