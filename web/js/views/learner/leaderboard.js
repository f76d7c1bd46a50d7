// Leaderboards (all-time and this week): the top 10 kept live over the websocket, and
// the learner's own rank with their neighbours.

import { html, useEffect, useState, useUser, navigate } from '../../ui.js';
import { api, auth } from '../../api.js';
import { learnerSocket } from '../../socket.js';
import { useAsync, Loading, ErrorBox, Icon, timeUntil, fmt } from './common.js';

const BOARDS = [
  { key: 'alltime', label: 'All time' },
  { key: 'weekly', label: 'This week' },
];

export function Leaderboard({ query }) {
  const board = query.board === 'weekly' ? 'weekly' : 'alltime';
  const user = useUser();
  const page = useAsync(() => api.get(`/leaderboards/${board}?limit=10&around=me&k=2`), [board]);
  const [live, setLive] = useState(null);
  const [mine, setMine] = useState(null);

  useEffect(() => {
    const sock = learnerSocket();
    let lastReload = 0;
    setLive(null);
    setMine(null);
    const subscribe = () => {
      sock.request('leaderboard.subscribe', { board }).catch(() => {
        // The REST page stays on screen; the next reconnection subscribes again.
      });
    };
    const offs = [
      sock.on('leaderboard.top', (frame) => {
        if (frame.board !== board) return;
        setLive(frame);
        // Someone else's XP can move me without a leaderboard.rank of mine: outside the
        // top 10, ask for my standing again (at most every 2 s).
        if (!frame.entries.some((e) => e.user_id === auth.user?.id)) {
          const now = Date.now();
          if (now - lastReload >= 2000) {
            lastReload = now;
            setMine(null);
            page.reload();
          }
        }
      }),
      sock.on('leaderboard.rank', (frame) => {
        if (frame.board !== board) return;
        setMine(frame);
        page.reload();
      }),
      // A subscription ends with its connection: subscribe again after every hello.
      sock.on('hello', subscribe),
    ];
    if (sock.status === 'open') subscribe();
    return () => {
      offs.forEach((off) => off());
      if (sock.status === 'open') sock.send('leaderboard.unsubscribe', { board });
    };
  }, [board]);

  const data = page.data;
  const entries = live ? live.entries : data ? data.entries : [];
  const total = live ? live.total : data ? data.total : 0;
  const nextReset = (live && live.next_reset) || (data && data.next_reset);
  // The live top 10 is the freshest word on my rank when I am in it (a rival passing me
  // sends me no leaderboard.rank); else my last rank push, else the page.
  const topMe = entries.find((e) => e.user_id === user.id);
  const me = topMe
    ? { rank: topMe.rank, score: topMe.score }
    : mine
      ? { rank: mine.rank, score: mine.score }
      : data && data.me;
  const around = data && data.around ? data.around : [];
  const inTop = me && entries.some((e) => e.user_id === user.id);

  return html`<section class="page narrow leaderboard-page">
    <h1 tabindex="-1">Leaderboard</h1>
    <div class="segmented" role="group" aria-label="Board">
      ${BOARDS.map((b) => html`<button type="button" aria-pressed=${b.key === board ? 'true' : 'false'}
        onClick=${() => navigate(`#/leaderboard${b.key === 'weekly' ? '?board=weekly' : ''}`)}>${b.label}</button>`)}
    </div>
    <p class="board-meta">
      ${board === 'weekly' && nextReset ? html`Resets in ${timeUntil(nextReset)} (Monday 00:00 UTC). ` : ''}
      ${total === 1 ? '1 learner' : `${fmt(total)} learners`} on this board.${' '}
      ${live && html`<span class="live-dot">Live</span>`}
    </p>
    <section class="card my-rank" aria-label="Your rank">
      ${me
        ? html`<p class="my-rank-main"><${Icon} name="trophy" /> You are <strong>#${fmt(me.rank)}</strong> with ${fmt(me.score)} XP.</p>`
        : data && html`<p>You are not on this board yet. Pass a level's quiz to earn XP.</p>`}
    </section>
    ${page.error && html`<${ErrorBox} error=${page.error} retry=${page.reload} />`}
    ${!data && !page.error && html`<${Loading} label="Loading the leaderboard…" />`}
    ${data && html`<${Table} caption=${`Top ${Math.min(10, entries.length)}`} rows=${entries} userId=${user.id} />`}
    ${data && entries.length === 0 && html`<p class="empty">Nobody has earned XP on this board yet. Be the first!</p>`}
    ${me && !inTop && around.length > 0 && html`<${Table} caption="Around you" rows=${around} userId=${user.id} />`}
  </section>`;
}

function Table({ caption, rows, userId }) {
  if (rows.length === 0) return null;
  const id = `board-${caption.replace(/\W+/g, '-').toLowerCase()}`;
  return html`<h2 class="board-title" id=${id}>${caption}</h2>
  <table class="board" aria-labelledby=${id}>
    <thead><tr><th scope="col">Rank</th><th scope="col">Learner</th><th scope="col" class="num">XP</th></tr></thead>
    <tbody>
      ${rows.map((r) => html`<tr key=${r.user_id} class=${r.user_id === userId ? 'me' : undefined}
        aria-current=${r.user_id === userId ? 'true' : undefined}>
        <td><span class=${`rank rank-${r.rank}`}>${r.rank}</span></td>
        <td>${r.name}${r.user_id === userId ? html` <span class="you">(you)</span>` : ''}</td>
        <td class="num">${fmt(r.score)}</td>
      </tr>`)}
    </tbody>
  </table>`;
}
