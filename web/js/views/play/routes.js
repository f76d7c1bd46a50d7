// Player routes: joining by code or link, and the game on the phone. No sign-in needed
// (guests play with a name); a signed-in learner plays with their account.
import { Join } from './join.js';
import { Play } from './play.js';

export const routes = [
  { path: '/join', view: Join, title: 'Join a game' },
  { path: '/join/:code', view: Join, title: 'Join a game' },
  { path: '/play/:code', view: Play, title: 'Play', bare: true },
];
