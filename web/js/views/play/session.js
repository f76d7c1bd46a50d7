// A player's seat in a room, independent of the screen showing it: the socket (the
// app-wide learner socket, or a guest socket of its own), the room's frames folded
// into one state object, and the guest's rejoin token in sessionStorage so a reload
// or a dropped connection gets the same seat back.
import { api, ApiError, auth } from '../../api.js';
import { GameSocket, learnerSocket, watchSocket } from '../../socket.js';
import { clockFrom } from './clock.js';
import { roomMessage } from './messages.js';

const GUEST_KEY = 'questpath.room-guest';
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTWXYZ23456789';

/** The code as the server reads it (any case, spaces and dashes ignored), or null. */
export function normalizeCode(typed) {
  const code = String(typed || '')
    .replace(/[\s-]/g, '')
    .toUpperCase();
  if (code.length !== 6) return null;
  return [...code].every((c) => CODE_ALPHABET.includes(c)) ? code : null;
}

/** A name as the server takes it: trimmed, 1 to 24 characters, no control characters. */
export function checkName(raw) {
  const name = String(raw || '').trim();
  if (!name) return { error: 'Enter a name the others will see.' };
  if ([...name].length > 24) return { error: 'A name is at most 24 characters.' };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return { error: 'A name cannot contain control characters.' };
  return { name };
}

/** The guest seat this tab holds for `code` ({code, rejoin_token, name}), or null. */
export function savedGuest(code) {
  try {
    const seat = JSON.parse(sessionStorage.getItem(GUEST_KEY) || 'null');
    return seat && seat.code === code && seat.rejoin_token ? seat : null;
  } catch {
    return null;
  }
}

function saveGuest(seat) {
  try {
    sessionStorage.setItem(
      GUEST_KEY,
      JSON.stringify({ code: seat.code, rejoin_token: seat.rejoin_token, name: seat.name }),
    );
  } catch {
    // Private mode without storage: the seat still lasts as long as the page.
  }
}

function forgetGuest(code) {
  try {
    const seat = JSON.parse(sessionStorage.getItem(GUEST_KEY) || 'null');
    if (!seat || seat.code === code) sessionStorage.removeItem(GUEST_KEY);
  } catch {
    // Nothing stored.
  }
}

// Codes after which the seat is gone for good: stop trying.
const FINAL_CODES = new Set(['room_not_found', 'room_ended', 'kicked', 'guests_not_allowed', 'room_full']);

const INITIAL = {
  // joining | in | failed | kicked | ended
  status: 'joining',
  error: null, // {code, message} when status is failed
  room: null, // the last snapshot (title, room_id, question_count, ...)
  phase: 'lobby', // lobby | question | reveal | ended (the server's phase)
  players: 0,
  you: null, // {player_id, name, guest, score, streak, rank, answered, first_question}
  question: null, // the open room.question
  clock: null,
  choice: null, // {index, option} picked on this device
  answer: null, // null | 'sending' | 'locked'
  notice: null, // a short message for the current question (late_answer, ...)
  closed: null, // the last room.question_closed
  result: null, // the last room.your_result
  final: null, // room.final
  ended: null, // room.ended
};

let current = null;

/**
 * Ends a learner's seat held by this tab, if any: called when the learner's socket is
 * about to be used for another room (hosting one), whose frames carry no room code.
 */
export function endLearnerSession() {
  if (current && !current.disposed && current.kind === 'learner') current.leave();
}

/** The session of this tab for `code`, if one is live. */
export function sessionFor(code) {
  return current && current.code === code && !current.disposed ? current : null;
}

/**
 * A seat in room `code`. `kind` is 'learner' (the app-wide socket of the signed-in
 * learner) or 'guest' (a socket of its own, tickets from the guest route).
 */
export class PlayerSession extends EventTarget {
  constructor(code, kind) {
    super();
    this.code = code;
    this.kind = kind;
    this.state = { ...INITIAL };
    this.offs = [];
    this.disposed = false;
    this.sock = null;
    this.guest = null; // {rejoin_token, name, ticket?}
    this.name = null;
    this.inflight = null; // index of the question whose answer is on its way
  }

  /** Makes this the tab's session, ending the previous one. */
  static start(code, kind) {
    if (current && !current.disposed) current.leave();
    current = new PlayerSession(code, kind);
    return current;
  }

  set(patch) {
    this.state = { ...this.state, ...patch };
    this.dispatchEvent(new Event('change'));
  }

  /**
   * Joins as a guest: `access` is the answer of POST /rooms/{code}/guests (a first
   * ticket), or null to trade the stored rejoin token for one.
   */
  joinAsGuest(access) {
    const stored = savedGuest(this.code);
    this.guest = access
      ? { rejoin_token: access.rejoin_token, name: access.name }
      : { rejoin_token: stored.rejoin_token, name: stored.name };
    saveGuest({ code: this.code, ...this.guest });
    let firstTicket = access ? access.ticket : null;
    const ticket = async () => {
      if (firstTicket) {
        const t = firstTicket;
        firstTicket = null;
        return t;
      }
      try {
        const fresh = await api.post(`/rooms/${encodeURIComponent(this.code)}/guests`, {
          rejoin_token: this.guest.rejoin_token,
        });
        this.guest.rejoin_token = fresh.rejoin_token;
        saveGuest({ code: this.code, ...this.guest });
        return fresh.ticket;
      } catch (err) {
        // The room is gone or the token is not for it: the seat cannot come back.
        if (err instanceof ApiError && [403, 404, 422].includes(err.status)) {
          this.fail(
            err.status === 404
              ? { code: 'room_ended', message: 'This game is over: it is no longer running.' }
              : { code: err.code || 'room_not_found', message: roomMessage(err) },
          );
        }
        throw err;
      }
    };
    this.sock = new GameSocket({ ticket });
    this.unwatch = watchSocket(this.sock);
    this.listen();
    this.sock.connect();
  }

  /**
   * Joins with the signed-in learner's socket (frames wait for its hello if it is
   * still connecting); resolves once seated. A connection still in another game
   * leaves that one first: joining this one is what the learner asked for.
   * `resume`: taking a seat back after a reload, so a vanished room means it ended.
   */
  async joinAsLearner(name, resume = false) {
    this.name = name || null;
    this.resumed = resume;
    this.sock = learnerSocket();
    this.listen();
    try {
      return await this.requestJoin();
    } catch (err) {
      if (!err || err.code !== 'already_in_room') throw err;
      await this.sock.request('room.leave');
      this.set({ status: 'joining', error: null });
      return this.requestJoin();
    }
  }

  listen() {
    const sock = this.sock;
    const on = (type, fn) => this.offs.push(sock.on(type, (frame) => !this.disposed && fn(frame)));
    // After every (re)connection: take the seat back. The server usually has already
    // (a room.joined without `re`); room.join of the same room is answered either way.
    on('hello', () => {
      if (this.state.status === 'joining' || this.state.status === 'in') this.requestJoin().catch(() => {});
    });
    on('room.joined', (f) => this.snapshot(f.room));
    on('room.state', (f) => this.snapshot(f.room));
    // Only a count: a late room.lobby must never move the screen back to the lobby.
    on('room.lobby', (f) => this.set({ players: f.players }));
    on('room.question', (f) => this.question(f));
    on('room.answer_ack', (f) => {
      const q = this.state.question;
      if (q && q.index === f.question) this.set({ answer: 'locked', notice: null });
    });
    on('room.paused', (f) => this.pause(f, true));
    on('room.resumed', (f) => this.pause(f, false));
    on('room.question_closed', (f) =>
      this.set({ phase: 'reveal', closed: f, players: f.players, clock: null, notice: null }),
    );
    on('room.your_result', (f) => {
      const you = this.state.you ? { ...this.state.you, score: f.score, streak: f.streak, rank: f.rank } : null;
      this.set({ result: f, you });
    });
    on('room.kicked', () => {
      this.set({ status: 'kicked', error: { code: 'kicked', message: roomMessage({ code: 'kicked' }) } });
      this.finish();
    });
    on('room.final', (f) => this.set({ final: f }));
    on('room.ended', (f) => {
      this.set({ status: 'ended', phase: 'ended', ended: f, clock: null, players: f.players });
      this.finish();
    });
  }

  async requestJoin() {
    const fields = { code: this.code };
    if (this.kind === 'learner' && this.name && !this.state.you) fields.name = this.name;
    try {
      const frame = await this.sock.request('room.join', fields);
      if (frame && frame.room) this.snapshot(frame.room);
      return frame;
    } catch (err) {
      if (err && err.code === 'room_not_found' && this.resumed) {
        // Coming back to a seat (reload, reconnect): the game has ended since.
        this.fail({ code: 'room_ended', message: 'This game is over: it is no longer running.' });
      } else if (err && (FINAL_CODES.has(err.code) || err.code === 'invalid_name')) {
        this.fail({ code: err.code, message: roomMessage(err) });
      }
      throw err;
    }
  }

  snapshot(room) {
    if (!room || room.code !== this.code) return;
    if (room.role === 'host') {
      this.fail({ code: 'host', message: 'You host this game: open it on the host screen.' });
      return;
    }
    const patch = {
      status: room.phase === 'ended' ? 'ended' : 'in',
      error: null,
      room,
      phase: room.phase,
      players: room.players,
      you: room.you,
    };
    if (room.you && this.kind === 'guest') this.guest.name = room.you.name;
    const q = room.question;
    if (q) {
      const same = this.state.question && this.state.question.index === q.index;
      patch.question = q;
      patch.clock = clockFrom(q.remaining_ms, q.paused, q.time_limit_ms);
      if (room.you && room.you.answered) {
        patch.answer = 'locked';
      } else if (!same || this.inflight !== q.index) {
        // Not counted (an answer lost with a dropped connection): answer again.
        patch.answer = null;
        patch.choice = null;
      }
      if (!same) {
        patch.choice = null;
        patch.notice = null;
        patch.result = null;
      }
    } else if (room.phase !== 'question') {
      patch.clock = null;
    }
    this.set(patch);
  }

  question(f) {
    this.set({
      phase: 'question',
      question: f,
      clock: clockFrom(f.remaining_ms, f.paused, f.time_limit_ms),
      choice: null,
      answer: null,
      notice: null,
      closed: null,
      result: null,
    });
  }

  pause(f, paused) {
    const q = this.state.question;
    if (!q || q.index !== f.question) return;
    this.set({
      question: { ...q, paused },
      clock: clockFrom(f.remaining_ms, paused, q.time_limit_ms),
    });
  }

  /** Sends the answer `option` (A-D) to the open question. */
  async answer(option) {
    const { question: q, answer, phase, clock, you } = this.state;
    if (!q || phase !== 'question' || answer || !clock || clock.paused) return;
    if (you && q.index < you.first_question) return;
    if (!(q.options || []).some((o) => o.value === option)) return;
    this.set({ choice: { index: q.index, option }, answer: 'sending', notice: null });
    this.inflight = q.index;
    let failure = null;
    try {
      await this.sock.request('room.answer', { question: q.index, option });
    } catch (err) {
      failure = err;
    }
    this.inflight = null;
    if (!this.state.question || this.state.question.index !== q.index) return;
    if (!failure || failure.code === 'already_answered') {
      this.set({ answer: 'locked' });
    } else if (failure.code === 'connection_lost' || failure.code === 'timeout') {
      // Whether it counted is unknown: the snapshot after reconnecting says
      // (you.answered); until then the choice stays shown as sending.
    } else {
      this.set({ answer: null, choice: null, notice: roomMessage(failure) });
    }
  }

  fail(error) {
    this.set({ status: error.code === 'kicked' ? 'kicked' : 'failed', error });
    this.finish();
  }

  /**
   * The seat is over (ended, kicked, refused): stop listening (the learner's socket
   * goes on to other games, whose frames are not this one's); a guest's socket and
   * token go.
   */
  finish() {
    this.offs.forEach((off) => off());
    this.offs = [];
    if (this.kind === 'guest') {
      forgetGuest(this.code);
      if (this.sock && this.sock.status !== 'closed') this.sock.close();
    }
  }

  /** The player leaves the game on purpose. */
  leave() {
    if (this.disposed) return;
    if (this.sock && this.state.status === 'in' && this.sock.status === 'open') {
      this.sock.send('room.leave');
    }
    if (this.kind === 'guest') forgetGuest(this.code);
    this.dispose();
  }

  dispose() {
    this.disposed = true;
    this.offs.forEach((off) => off());
    this.offs = [];
    if (this.kind === 'guest' && this.sock) {
      if (typeof this.unwatch === 'function') this.unwatch();
      this.sock.close();
    }
    if (current === this) current = null;
  }
}

/** Whether someone is signed in (the learner joins with their account). */
export function signedIn() {
  return Boolean(auth.user);
}
