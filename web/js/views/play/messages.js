// Room error codes (socket `error` frames and problem+json `code`s) as sentences a
// player or host can act on. Anything else goes through the app's describeError.
import { describeError } from '../../ui.js';

const ROOM_MESSAGES = {
  room_not_found: 'No game is running with this code. Check the code on the screen.',
  room_full: 'This game is full: every seat is taken.',
  kicked: 'The host removed you from this game.',
  guests_not_allowed: 'This game is only for signed-in learners. Sign in to join it.',
  guest_only_rooms: 'A guest pass only plays the game it was made for.',
  room_ended: 'This game is over.',
  already_in_room: 'You are still in another game. Leave it first.',
  invalid_name: 'A name is 1 to 24 characters.',
  late_answer: 'Too late: the time for that question ran out.',
  already_answered: 'You already answered this question.',
  joined_late: 'You joined during this question. You play from the next one.',
  paused: 'The host paused the game. Wait until it goes on.',
  wrong_question: 'That question is already closed.',
  invalid_option: 'That answer is not one of the options.',
  wrong_phase: 'That is not possible at this point of the game.',
  not_host: 'Only the host of this game can do that.',
  not_in_room: 'You are not in this game any more. Join it again.',
  no_players: 'Nobody has joined yet. Wait for players before starting.',
  rooms_at_capacity: 'The server is hosting as many games as it can. Try again in a few minutes.',
  unavailable: 'The server could not do that just now. Try again in a moment.',
  rate_limited: 'Too many actions at once. Wait a second and try again.',
};

/** A human message for a room error (SocketError, ApiError or anything else). */
export function roomMessage(err) {
  const code = err && err.code;
  return (code && ROOM_MESSAGES[code]) || describeError(err);
}
