// The signed-in learner's streak, daily goal, unread notifications and league cohort,
// kept current from the REST API and the learner socket (docs/protocol.md, "Streaks and
// the daily goal", "Notifications", "Weekly leagues"). No UI code: screens read it with
// engagement.subscribe() (ui.js wraps it in a hook).
//
// The session's user (auth.user) does not carry the streak, so it lives here: fetched on
// sign-in and after every reconnection (frames sent while a connection was down are not
// sent again), then moved by `streak.updated`, `notification` and `league.standings`.

import { api, auth } from './api.js';
import { learnerSocket } from './socket.js';

const EMPTY = {
  loaded: false,
  time_zone: null,
  daily_goal: null,
  email_verified: false,
  streak: null, // {current, longest, freezes, today, today_xp, goal_reached}
  unread: 0,
  // The latest `league.standings` frame (the League page and Home's card merge it with
  // GET /leagues/current), and the last notification pushed.
  standings: null,
  lastNotification: null,
};

let state = { ...EMPTY };
let userId = null;
let seq = 0;
const listeners = new Set();

function set(fields) {
  state = { ...state, ...fields };
  for (const fn of [...listeners]) {
    try {
      fn(state);
    } catch (err) {
      console.error(err);
    }
  }
}

/** Applies a GET or PATCH /api/v1/me answer. */
function applyMe(me) {
  set({
    loaded: true,
    time_zone: me.time_zone,
    daily_goal: me.daily_goal,
    email_verified: !!me.email_verified,
    streak: me.streak,
  });
}

async function load() {
  const mine = ++seq;
  try {
    const [me, page] = await Promise.all([api.get('/me'), api.get('/notifications?limit=1')]);
    if (mine !== seq || !auth.user) return;
    applyMe(me);
    set({ unread: page.unread });
  } catch (err) {
    // The screens that need these numbers show their own errors; the next hello retries.
    if (mine === seq) console.warn('engagement: could not load the streak', err);
  }
}

export const engagement = {
  get state() {
    return state;
  },
  /** fn(state) after every change; returns an unsubscribe function. */
  subscribe(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
  /** Fetches /me and the unread count again. */
  reload: load,
  /** Merges a GET/PATCH /me answer (the profile's settings form). */
  applyMe(me) {
    applyMe(me);
    auth.update({ email_verified: !!me.email_verified });
  },
  setUnread(unread) {
    set({ unread: Math.max(0, unread) });
  },
  setEmailVerified(verified) {
    set({ email_verified: verified });
    auth.update({ email_verified: verified });
  },
};

auth.subscribe((user) => {
  const id = user ? user.id : null;
  if (id === userId) {
    if (user && user.email_verified != null && user.email_verified !== state.email_verified && state.loaded) {
      set({ email_verified: !!user.email_verified });
    }
    return;
  }
  userId = id;
  seq += 1;
  state = { ...EMPTY };
  set({});
  if (user) load();
});

const sock = learnerSocket();

// A reconnection may have missed frames: read the numbers again (the first hello of a
// session comes right after the sign-in's own load, which covers it).
let hellos = 0;
sock.on('hello', () => {
  hellos += 1;
  if (hellos > 1 && auth.user) load();
});
auth.subscribe((user, previous) => {
  if (!user || !previous || user.id !== previous.id) hellos = 0;
});

sock.on('streak.updated', (f) => {
  set({
    daily_goal: f.daily_goal ?? state.daily_goal,
    streak: {
      current: f.streak,
      longest: f.longest,
      freezes: f.freezes,
      today: f.today,
      today_xp: f.today_xp,
      goal_reached: f.goal_reached,
    },
  });
});

sock.on('notification', (f) => {
  set({ unread: f.unread, lastNotification: f.notification });
});

sock.on('league.standings', (f) => {
  set({ standings: f });
});

// ---- words shared by the screens ----

export const TIERS = ['bronze', 'silver', 'gold', 'sapphire', 'ruby', 'emerald', 'diamond'];

export const tierName = (tier) => (tier ? tier.charAt(0).toUpperCase() + tier.slice(1) : '');

export const DAILY_GOALS = [
  { xp: 10, label: 'Casual' },
  { xp: 20, label: 'Regular' },
  { xp: 30, label: 'Serious' },
  { xp: 50, label: 'Intense' },
];
