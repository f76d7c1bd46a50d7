// Test 5 (issue 15): axe-core on every screen, no serious or critical violation.
//
// The scenario tests scan the screens they pass through (quiz, projector, phone) at
// the width they play at. This test visits every route at both widths, 360 px (the
// phone layout with its tab bar) and 1280 px, signed out and signed in with data on
// every screen (a roadmap with a passed level, a saved quiz, a finished game).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newPerson, newLearner, registerApi, createGoalApi, passLevelsApi, apiCall,
  checkA11y, screenshot, scenario, timer, PHONE, DESKTOP,
} from './harness.js';
import { signIn } from './steps.js';

let server;
let browser;

before(async () => {
  server = await startServer({ name: 'a11y' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

/** Scans the page at 360 and at 1280 px. */
async function scanBoth(page, screen) {
  for (const vp of [PHONE, DESKTOP]) {
    await page.setViewportSize(vp);
    await checkA11y(page, `${screen} @${vp.width}`);
  }
}

test('accessibility: every screen at 360 and 1280 px has no serious or critical axe violation', { timeout: 120_000 }, async () => {
  const done = timer('a11y');
  // A learner with something on every screen.
  const me = newLearner('axe');
  const token = (await registerApi(server, me)).access_token;
  const goal = await createGoalApi(server, token, 'Learn UI and UX design for mobile apps');
  await passLevelsApi(server, token, goal, 1);
  const quiz = await apiCall(server, token, 'POST', '/api/v1/quizzes', {
    title: 'Capitals',
    description: 'Four European capitals.',
    questions: [
      { question: 'Capital of France?', options: ['Paris', 'Lyon', 'Nice'], correct_option: 'A', explanation: 'Paris.' },
      { question: 'Capital of Italy?', options: ['Milan', 'Rome'], correct_option: 'B', time_limit_secs: 30, points: 2 },
    ],
  });
  const levels = goal.roadmap.levels.slice().sort((a, b) => a.order - b.order);

  const visitor = await newPerson(browser, server, { label: 'visitor', viewport: PHONE });
  const learner = await newPerson(browser, server, { label: 'learner', viewport: PHONE });
  await scenario([visitor.watcher, learner.watcher], async () => {
    // Signed out.
    const v = visitor.page;
    const signedOut = [
      ['#/login', { name: 'Sign in', level: 1 }],
      ['#/signup', { name: 'Create your account' }],
      ['#/join', { name: 'Join a game' }],
      ['#/join/ABCDEF', { name: 'Join a game' }],
      ['#/no/such/page', { name: 'Page not found' }],
      // The pages mails link to (issue 18), here with links that are not valid.
      ['#/forgot-password', { name: 'Reset your password' }],
      ['#/reset-password?token=not-a-real-token', { name: 'Choose a new password' }],
      ['#/verify-email?token=not-a-real-token', { name: 'Confirm your email' }],
      ['#/unsubscribe?token=not-a-real-token', { name: 'Unsubscribe' }],
    ];
    for (const [hash, heading] of signedOut) {
      await v.goto(`/${hash}`);
      await v.getByRole('heading', heading).first().waitFor();
      await scanBoth(v, `signed out ${hash}`);
    }
    // A form's error state too.
    await v.goto('/#/login');
    await v.getByRole('button', { name: 'Sign in' }).click();
    await v.getByRole('alert').first().waitFor();
    await scanBoth(v, 'login with errors');
    await v.goto('/#/join');
    await v.getByRole('button', { name: 'Next' }).click();
    await v.getByRole('alert').first().waitFor();
    await scanBoth(v, 'join with an error');
    await v.goto('/#/verify-email?token=not-a-real-token');
    await v.getByRole('alert').first().waitFor();
    await scanBoth(v, 'verify email: invalid link');
    await v.goto('/#/unsubscribe?token=not-a-real-token');
    await v.getByRole('button', { name: 'Unsubscribe' }).click();
    await v.getByRole('alert').first().waitFor();
    await scanBoth(v, 'unsubscribe: invalid link');
    await v.goto('/#/forgot-password');
    await v.getByRole('button', { name: 'Send me a reset link' }).click();
    await v.getByRole('alert').first().waitFor();
    await scanBoth(v, 'forgot password with an error');

    // Signed in.
    const p = learner.page;
    await signIn(p, me);
    const screens = [
      ['#/', { name: `Hi, ${me.display_name}!` }],
      [`#/goals/${goal.id}`, { name: goal.title }],
      [`#/levels/${levels[0].id}?goal=${goal.id}`, { name: levels[0].title, level: 1 }],
      [`#/levels/${levels[1].id}?goal=${goal.id}`, { name: levels[1].title, level: 1 }],
      [`#/levels/${levels[2].id}?goal=${goal.id}`, { name: levels[2].title, level: 1 }],
      ['#/leaderboard', { name: 'Leaderboard' }],
      ['#/leaderboard?board=weekly', { name: 'Leaderboard' }],
      ['#/profile', { name: 'Your profile' }],
      ['#/league', { name: 'League', level: 1 }],
      ['#/notifications', { name: 'Notifications', level: 1 }],
      ['#/host', { name: 'Hosting' }],
      ['#/host/quizzes/new', { name: 'New quiz' }],
      [`#/host/quizzes/${quiz.quiz_id}`, { name: 'Edit quiz' }],
      ['#/host/rooms/new', { name: 'Host a game' }],
      ['#/join', { name: 'Join a game' }],
    ];
    for (const [hash, heading] of screens) {
      await p.goto(`/${hash}`);
      await p.getByRole('heading', heading).first().waitFor();
      // Let the screen's data arrive (its loading notices go away).
      await p.getByText(/^Loading/).first().waitFor({ state: 'hidden' });
      await scanBoth(p, hash);
    }
    await p.setViewportSize(PHONE);
    await screenshot(p, 'host-dashboard');

    // The quiz editor's error summary, and the game form's other sources.
    await p.goto('/#/host/quizzes/new');
    await p.getByRole('button', { name: 'Save quiz' }).click();
    await p.getByRole('alert').first().waitFor();
    await scanBoth(p, 'quiz editor with errors');
    await p.goto('/#/host/rooms/new');
    for (const source of ['One of my levels', 'A subject from the catalog']) {
      await p.getByLabel(source).check();
      await p.getByLabel('Level', { exact: true }).waitFor();
      await scanBoth(p, `new game from ${source}`);
    }

    // A quiz blocked by unticked topics (level 2 is open but its topics are not done).
    await p.goto(`/#/quiz/${levels[1].id}?goal=${goal.id}`);
    await p.getByRole('alert').first().waitFor();
    assert.match(await p.getByRole('alert').first().innerText(), /topic/i);
    await scanBoth(p, 'quiz refused (topics not done)');
  });
  await visitor.context.close();
  await learner.context.close();
  done();
});
