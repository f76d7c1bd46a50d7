// The shell: hash router, auth guard, top bar, reconnect/offline banner and the service
// worker. Screens live in views/*/routes.js.

import { html, render, useEffect, useRef, useState, useUser, useEngagement, toast, describeError, navigate } from './ui.js';
import { auth } from './api.js';
import { connectionBanner, learnerSocket } from './socket.js';
import { routes as learnerRoutes } from './views/learner/routes.js';
import { routes as hostRoutes } from './views/host/routes.js';
import { routes as playRoutes } from './views/play/routes.js';

const XP_PER_LEVEL = 100; // the server's rule: level = floor(total_xp / 100) + 1

const routes = [...learnerRoutes, ...hostRoutes, ...playRoutes].map((route) => ({
  ...route,
  segments: route.path.split('/').filter(Boolean),
}));

// The phone link in a room's QR code is a real path: /join/{code} -> #/join/{code};
// /join alone (typed from a projector) -> #/join.
const joinPath = location.pathname.match(/^\/join(?:\/([^/]+))?\/?$/);
if (joinPath) {
  history.replaceState(null, '', joinPath[1] ? `/#/join/${joinPath[1]}` : '/#/join');
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [pathPart, queryPart = ''] = raw.split('?');
  const path = pathPart.startsWith('/') ? pathPart : `/${pathPart}`;
  const query = Object.fromEntries(new URLSearchParams(queryPart));
  return { path, query, hash: `#${path}${queryPart ? `?${queryPart}` : ''}` };
}

function match(path) {
  const parts = path.split('/').filter(Boolean);
  for (const route of routes) {
    if (route.segments.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < parts.length; i += 1) {
      const seg = route.segments[i];
      if (seg.startsWith(':')) {
        try {
          params[seg.slice(1)] = decodeURIComponent(parts[i]);
        } catch {
          ok = false;
          break;
        }
      } else if (seg !== parts[i]) {
        ok = false;
        break;
      }
    }
    if (ok) return { route, params };
  }
  return null;
}

function useLocation() {
  const [loc, setLoc] = useState(parseHash);
  useEffect(() => {
    const onChange = () => setLoc(parseHash());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return loc;
}

function useOnline() {
  const [online, setOnline] = useState(navigator.onLine !== false);
  useEffect(() => {
    const up = () => setOnline(true);
    const down = () => setOnline(false);
    window.addEventListener('online', up);
    window.addEventListener('offline', down);
    return () => {
      window.removeEventListener('online', up);
      window.removeEventListener('offline', down);
    };
  }, []);
  return online;
}

function useReconnecting() {
  const [reconnecting, setReconnecting] = useState(connectionBanner.reconnecting);
  useEffect(() => connectionBanner.subscribe(setReconnecting), []);
  return reconnecting;
}

function Banner() {
  const online = useOnline();
  const reconnecting = useReconnecting();
  let message = '';
  if (!online) message = 'You are offline. QuestPath needs a network connection to play; it reconnects when you are back.';
  else if (reconnecting) message = 'Reconnecting…';
  return html`<div class=${`banner${message ? ' banner-visible' : ''}`} role="status">
    ${message && html`<span class="banner-spinner" aria-hidden="true"></span><span>${message}</span>`}
  </div>`;
}

function XpChip({ user }) {
  const into = Math.max(0, user.total_xp) % XP_PER_LEVEL;
  // The visible text is the link's name (no aria-label that would differ from it).
  return html`<a class="xp-chip" href="#/profile">
    <span class="xp-level">Lv ${user.level}</span>
    <span class="xp-bar" aria-hidden="true"><span class="xp-fill" style=${{ width: `${into}%` }}></span></span>
    <span class="xp-total">${user.total_xp} XP</span>
    <span class="visually-hidden">: your profile</span>
  </a>`;
}

const NAV_ICONS = {
  home: 'M12 3 2 11.5h3V21h6v-6h2v6h6v-9.5h3z',
  trophy: 'M7 3h10v2h4v3a5 5 0 0 1-4.6 5 5 5 0 0 1-3.4 2.9V18h3v3H8v-3h3v-2.1A5 5 0 0 1 7.6 13 5 5 0 0 1 3 8V5h4V3Zm0 4H5v1a3 3 0 0 0 2 2.8V7Zm10 0v3.8A3 3 0 0 0 19 8V7h-2Z',
  host: 'M3 4h18v12h-7v2h3v2H7v-2h3v-2H3V4Zm2 2v8h14V6H5Zm3 2h8v2H8V8Z',
  join: 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20Zm-2 5.5 7 4.5-7 4.5v-9Z',
  user: 'M12 2a5 5 0 1 1 0 10 5 5 0 0 1 0-10Zm0 12c5 0 9 2.2 9 5v3H3v-3c0-2.8 4-5 9-5Z',
  login: 'M10 4h9a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-9v-2h9V6h-9V4Zm1 3.5 4.5 4.5-4.5 4.5-1.4-1.4 2.1-2.1H3v-2h8.7L9.6 8.9 11 7.5Z',
  bell: 'M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z',
  signup: 'M10 4a4 4 0 1 1 0 8 4 4 0 0 1 0-8Zm0 10c4.4 0 8 1.8 8 4v2H2v-2c0-2.2 3.6-4 8-4Zm9-7h2v3h3v2h-3v3h-2v-3h-3v-2h3V7Z',
};

// The bell: unread notifications, kept live by `notification` frames (engagement.js).
function Bell({ current }) {
  const { unread } = useEngagement();
  const shown = unread > 99 ? '99+' : String(unread);
  // The name says the count in words; the badge shows it (the visible number is in the name).
  const name = unread > 0 ? `Notifications, ${shown} unread` : 'Notifications, none unread';
  return html`<a class="bell" href="#/notifications" aria-label=${name} aria-current=${current === '#/notifications' ? 'page' : undefined}>
    <svg class="bell-icon" width="24" height="24" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d=${NAV_ICONS.bell} /></svg>
    ${unread > 0 && html`<span class="bell-count">${shown}</span>`}
  </a>`;
}

function NavLink({ href, current, icon, wide, children }) {
  const active = current === href || (href !== '#/' && current.startsWith(`${href}/`));
  return html`<a href=${href} class=${wide ? 'nav-wide' : undefined} aria-current=${active ? 'page' : undefined}>
    <svg class="nav-icon" width="24" height="24" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d=${NAV_ICONS[icon]} /></svg>
    <span class="nav-label">${children}</span>
  </a>`;
}

function TopBar({ user, loc }) {
  const current = `#${loc.path}`;
  return html`<header class="topbar">
    <div class="topbar-inner">
      <a class="brand" href="#/"><img src="/icons/icon.svg" alt="" width="28" height="28" /><span>QuestPath</span></a>
      ${user && html`<${XpChip} user=${user} />`}
      ${user && html`<${Bell} current=${current} />`}
      <nav class="nav" aria-label="Main">
        ${user
          ? html`<${NavLink} href="#/" icon="home" current=${current}>Home<//>
              <${NavLink} href="#/leaderboard" icon="trophy" current=${current}>Leaderboard<//>
              <${NavLink} href="#/host" icon="host" wide current=${current}>Host<//>
              <${NavLink} href="#/join" icon="join" current=${current}>Join<//>
              <${NavLink} href="#/profile" icon="user" current=${current}>Profile<//>`
          : html`<${NavLink} href="#/join" icon="join" current=${current}>Join a game<//>
              <${NavLink} href="#/login" icon="login" current=${current}>Sign in<//>
              <${NavLink} href="#/signup" icon="signup" current=${current}>Sign up<//>`}
      </nav>
    </div>
  </header>`;
}

function NotFound() {
  return html`<section class="page narrow">
    <h1>Page not found</h1>
    <p>There is nothing at this address.</p>
    <p><a class="button" href="#/">Go home</a></p>
  </section>`;
}

function Redirect({ to }) {
  useEffect(() => {
    navigate(to);
  }, [to]);
  return null;
}

function App() {
  const loc = useLocation();
  const user = useUser();
  const mainRef = useRef(null);
  const firstRender = useRef(true);
  const found = match(loc.path);
  const route = found ? found.route : null;

  let view;
  if (!found) {
    view = html`<${NotFound} />`;
  } else if (route.auth && !user) {
    view = html`<${Redirect} to=${`#/login?next=${encodeURIComponent(loc.hash)}`} />`;
  } else if (route.guestOnly && user) {
    view = html`<${Redirect} to=${safeNext(loc.query.next)} />`;
  } else {
    const View = route.view;
    view = html`<${View} key=${loc.path} params=${found.params} query=${loc.query} />`;
  }

  useEffect(() => {
    document.title = route && route.title ? `${route.title} · QuestPath` : 'QuestPath';
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    // Move focus to the new screen so screen readers and keyboards start there.
    requestAnimationFrame(() => {
      const main = mainRef.current;
      if (!main || main.contains(document.activeElement)) return;
      const heading = main.querySelector('h1');
      (heading || main).focus({ preventScroll: false });
    });
    window.scrollTo(0, 0);
  }, [loc.path]);

  const bare = route && route.bare;
  return html`
    <a class="skip-link" href="#main" onClick=${(e) => {
      e.preventDefault();
      mainRef.current && mainRef.current.focus();
    }}>Skip to content</a>
    ${!bare && html`<${TopBar} user=${user} loc=${loc} />`}
    <${Banner} />
    <main id="main" class=${bare ? 'main main-bare' : 'main main-with-nav'} tabindex="-1" ref=${mainRef}>${view}</main>
  `;
}

/** Only same-app hash routes are followed after sign-in (no open redirects). */
export function safeNext(next) {
  return typeof next === 'string' && next.startsWith('#/') && !next.startsWith('#//') ? next : '#/';
}

// App-wide learner events: XP in the top bar, and leaderboard moves as toasts.
function listenToLearner() {
  const sock = learnerSocket();
  sock.on('xp.granted', (frame) => {
    auth.update({ total_xp: frame.total_xp, level: frame.player_level });
  });
  sock.on('leaderboard.rank', (frame) => {
    if (frame.rank == null || frame.rank === frame.previous_rank) return;
    const board = frame.board === 'weekly' ? 'this week’s' : 'the all-time';
    const moved = frame.previous_rank == null
      ? `You are on ${board} leaderboard at #${frame.rank}!`
      : frame.rank < frame.previous_rank
        ? `You climbed to #${frame.rank} on ${board} leaderboard!`
        : `You are now #${frame.rank} on ${board} leaderboard.`;
    toast(moved, frame.rank < (frame.previous_rank ?? Infinity) ? 'success' : 'info');
  });
  sock.on('daily_goal.reached', (frame) => {
    const days = frame.streak === 1 ? '1 day' : `${frame.streak} days`;
    toast(`Daily goal reached: ${frame.xp} of ${frame.daily_goal} XP today. Your streak: ${days}!`, 'success');
  });
  sock.on('streak.at_risk', (frame) => {
    const left = Math.max(0, frame.daily_goal - frame.today_xp);
    const days = frame.streak === 1 ? '1-day' : `${frame.streak}-day`;
    toast(`Your ${days} streak is at risk: earn ${left} more XP today to keep it.`, 'warning');
  });
}

function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js').catch((err) => {
      console.warn('Service worker not registered:', err);
    });
  });
}

async function start() {
  listenToLearner();
  registerServiceWorker();
  const root = document.getElementById('app');
  try {
    await auth.restore();
  } catch (err) {
    // The server is unreachable or busy: start signed out, say why, and sign back in
    // by itself once the server answers (the cookie is still there).
    toast(describeError(err), 'error');
    retryRestore();
  }
  root.textContent = '';
  render(html`<${App} />`, root);
}

function retryRestore(delay = 5000) {
  let timer = null;
  const attempt = () => {
    clearTimeout(timer);
    window.removeEventListener('online', attempt);
    auth.restore().catch(() => retryRestore(Math.min(delay * 2, 60_000)));
  };
  timer = setTimeout(attempt, delay);
  window.addEventListener('online', attempt);
}

start();
