// The host's side of a room over the signed-in learner's socket: room.join with the
// code (again after every reconnect), the room's frames folded into one state object,
// and the host commands as requests.
import { learnerSocket } from '../../socket.js';
import { clockFrom } from '../play/clock.js';
import { roomMessage } from '../play/messages.js';
import { endLearnerSession } from '../play/session.js';

const HOSTING_KEY = 'questpath.hosting';

/** The room this tab is hosting ({code, title}), so the host screen can be found again. */
export function hostingNow() {
  try {
    return JSON.parse(sessionStorage.getItem(HOSTING_KEY) || 'null');
  } catch {
    return null;
  }
}

function rememberHosting(room) {
  try {
    sessionStorage.setItem(HOSTING_KEY, JSON.stringify({ code: room.code, title: room.title }));
  } catch {
    // No storage: the dashboard just will not offer a way back.
  }
}

function forgetHosting(code) {
  try {
    const now = hostingNow();
    if (!now || now.code === code) sessionStorage.removeItem(HOSTING_KEY);
  } catch {
    // Nothing stored.
  }
}

const GONE = new Set(['room_not_found', 'room_ended']);

export class HostSession extends EventTarget {
  constructor(code) {
    super();
    this.code = code;
    this.sock = learnerSocket();
    this.offs = [];
    this.disposed = false;
    this.state = {
      status: 'joining', // joining | in | failed | ended
      error: null,
      room: null,
      phase: 'lobby',
      players: 0,
      roster: [], // [{player_id, name, guest, present}] in arrival order
      question: null,
      clock: null,
      answered: null, // {question, answered, expected}
      closed: null, // the last room.question_closed
      scoreboard: [],
      ended: null,
    };
  }

  set(patch) {
    this.state = { ...this.state, ...patch };
    this.dispatchEvent(new Event('change'));
  }

  start() {
    // The learner's socket may still hold a player seat in another game: hosting this
    // one replaces it (room frames carry no code to tell them apart).
    endLearnerSession();
    const on = (type, fn) => this.offs.push(this.sock.on(type, (f) => !this.disposed && fn(f)));
    on('hello', () => {
      if (this.state.status === 'joining' || this.state.status === 'in') this.join().catch(() => {});
    });
    on('room.joined', (f) => this.snapshot(f.room));
    on('room.state', (f) => this.snapshot(f.room));
    on('room.roster', (f) => this.roster(f));
    on('room.lobby', (f) => this.set({ players: f.players }));
    on('room.question', (f) =>
      this.set({
        phase: 'question',
        question: f,
        clock: clockFrom(f.remaining_ms, f.paused, f.time_limit_ms),
        answered: { question: f.index, answered: 0, expected: null },
        closed: null,
      }),
    );
    on('room.answered', (f) => this.set({ answered: f }));
    on('room.paused', (f) => this.pause(f, true));
    on('room.resumed', (f) => this.pause(f, false));
    on('room.question_closed', (f) =>
      this.set({ phase: 'reveal', closed: f, scoreboard: f.scoreboard, players: f.players, clock: null }),
    );
    on('room.ended', (f) => {
      this.set({ status: 'ended', phase: 'ended', ended: f, clock: null, players: f.players });
      forgetHosting(this.code);
    });
    return this.join().catch(() => {});
  }

  async join() {
    try {
      const frame = await this.sock.request('room.join', { code: this.code });
      if (frame && frame.room) this.snapshot(frame.room);
      return frame;
    } catch (err) {
      if (err && err.code === 'already_in_room' && this.state.status === 'joining') {
        // This connection still sits in another game: hosting this one is the intent.
        await this.sock.request('room.leave');
        return this.join();
      }
      if (err && GONE.has(err.code)) {
        forgetHosting(this.code);
        this.set({ status: 'failed', error: { code: err.code, message: roomMessage(err) } });
      } else if (err && err.code && err.code !== 'connection_lost' && err.code !== 'timeout') {
        this.set({ status: 'failed', error: { code: err.code, message: roomMessage(err) } });
      }
      throw err;
    }
  }

  snapshot(room) {
    if (!room || room.code !== this.code) return;
    if (room.role !== 'host') {
      // room.join seated this learner as a player: give the seat back at once.
      this.sock.send('room.leave');
      this.set({
        status: 'failed',
        error: { code: 'not_host', message: 'This game has another host. To play in it, join it from the Join page.' },
      });
      return;
    }
    rememberHosting(room);
    const patch = {
      status: room.phase === 'ended' ? 'ended' : 'in',
      error: null,
      room,
      phase: room.phase,
      players: room.players,
      scoreboard: room.scoreboard || [],
    };
    const q = room.question;
    if (q) {
      patch.question = q;
      patch.clock = clockFrom(q.remaining_ms, q.paused, q.time_limit_ms);
      // The host's snapshot carries the answered count of the open question.
      if (typeof room.answered === 'number') {
        const expected = this.state.answered?.question === q.index ? this.state.answered.expected : null;
        patch.answered = { question: q.index, answered: room.answered, expected };
      } else if (!this.state.answered || this.state.answered.question !== q.index) {
        patch.answered = null;
      }
    } else {
      patch.clock = null;
    }
    // The host's snapshot lists every seat: a reloaded host screen shows and can kick
    // everyone; room.roster frames carry the changes from here.
    if (Array.isArray(room.roster)) {
      patch.roster = room.roster.map((s) => ({
        player_id: s.player_id, name: s.name, guest: s.guest, present: s.connected,
      }));
    }
    this.set(patch);
  }

  roster(f) {
    const list = new Map(this.state.roster.map((p) => [p.player_id, p]));
    for (const p of f.joined) list.set(p.player_id, { ...p, present: true });
    for (const p of f.left) {
      if (p.reason === 'disconnected') {
        const seat = list.get(p.player_id);
        if (seat) list.set(p.player_id, { ...seat, present: false });
      } else if (p.reason === 'kicked' || this.state.phase === 'lobby') {
        list.delete(p.player_id);
      } else {
        const seat = list.get(p.player_id);
        if (seat) list.set(p.player_id, { ...seat, present: false });
      }
    }
    this.set({ roster: [...list.values()], players: f.players });
  }

  pause(f, paused) {
    const q = this.state.question;
    if (!q || q.index !== f.question) return;
    this.set({ question: { ...q, paused }, clock: clockFrom(f.remaining_ms, paused, q.time_limit_ms) });
  }

  /** A host command (`room.start`, `room.next`, ...); rejects with a readable message. */
  async command(type, fields = {}) {
    try {
      return await this.sock.request(type, fields);
    } catch (err) {
      throw Object.assign(new Error(roomMessage(err)), { code: err && err.code });
    }
  }

  dispose() {
    this.disposed = true;
    this.offs.forEach((off) => off());
    this.offs = [];
  }
}
