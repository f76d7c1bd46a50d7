// Host routes (signed in): saved quizzes and past games, the quiz editor, creating a
// game, and the projector screen of a running game.
import { HostDashboard } from './dashboard.js';
import { QuizEditor } from './editor.js';
import { NewRoom } from './new-room.js';
import { HostRoom } from './room.js';

export const routes = [
  { path: '/host', view: HostDashboard, auth: true, title: 'Hosting' },
  { path: '/host/quizzes/new', view: QuizEditor, auth: true, title: 'New quiz' },
  { path: '/host/quizzes/:quizId', view: QuizEditor, auth: true, title: 'Edit quiz' },
  { path: '/host/rooms/new', view: NewRoom, auth: true, title: 'Host a game' },
  { path: '/host/room/:code', view: HostRoom, auth: true, title: 'Host', bare: true },
];
