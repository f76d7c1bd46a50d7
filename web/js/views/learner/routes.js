// The learner's screens (home greets signed-out visitors itself). `auth: true` routes send signed-out visitors to #/login and
// back; `guestOnly` routes send signed-in ones home (or to `?next=`).

import { Login, Signup } from './auth.js';
import { Home } from './home.js';
import { Roadmap } from './roadmap.js';
import { Level } from './level.js';
import { Quiz } from './quiz.js';
import { Profile } from './profile.js';
import { Leaderboard } from './leaderboard.js';
import { League } from './league.js';
import { Notifications } from './notifications.js';
import { ForgotPassword, ResetPassword, VerifyEmail, Unsubscribe } from './email.js';

export const routes = [
  { path: '/', view: Home, title: 'Home' },
  { path: '/login', view: Login, guestOnly: true, title: 'Sign in' },
  { path: '/signup', view: Signup, guestOnly: true, title: 'Sign up' },
  { path: '/goals/:goalId', view: Roadmap, auth: true, title: 'Roadmap' },
  { path: '/levels/:levelId', view: Level, auth: true, title: 'Level' },
  { path: '/quiz/:levelId', view: Quiz, auth: true, title: 'Quiz' },
  { path: '/leaderboard', view: Leaderboard, auth: true, title: 'Leaderboard' },
  { path: '/profile', view: Profile, auth: true, title: 'Profile' },
  { path: '/league', view: League, auth: true, title: 'League' },
  { path: '/notifications', view: Notifications, auth: true, title: 'Notifications' },
  // The pages mails link to work signed in or out.
  { path: '/forgot-password', view: ForgotPassword, title: 'Reset your password' },
  { path: '/reset-password', view: ResetPassword, title: 'Choose a new password' },
  { path: '/verify-email', view: VerifyEmail, title: 'Confirm your email' },
  { path: '/unsubscribe', view: Unsubscribe, title: 'Unsubscribe' },
];
