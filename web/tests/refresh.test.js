// Test 4 (issue 15): two tabs of one learner refresh at the same moment after the
// access token expired, and both stay signed in.
//
// The access token lives only in each tab's memory, so the tabs refresh with the one
// httpOnly cookie they share: on a 401 after expiry, and on every reload. The app
// serialises its own refreshes across tabs (Web Locks); the server's grace window for a
// just-rotated refresh token covers clients that cannot (two browsers on one profile,
// older clients), and the test presents one cookie twice at once to check it too.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newPerson, newLearner, registerApi, checkA11y, screenshotBoth, scenario, timer, sleep, WAIT_MS,
} from './harness.js';

const TTL_SECS = 2;
let server;
let browser;

before(async () => {
  server = await startServer({ name: 'refresh', env: { QUESTPATH_ACCESS_TOKEN_TTL_SECS: String(TTL_SECS) } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

/** Records every access token handed to a page and the status of every refresh. */
function trackAuth(page, log) {
  page.on('response', async (res) => {
    const path = new URL(res.url()).pathname;
    if (!/^\/api\/v1\/auth\/(login|register|refresh)$/.test(path)) return;
    if (path.endsWith('/refresh')) log.refreshes.push(res.status());
    if (res.ok()) {
      try {
        const body = await res.json();
        if (body.access_token) log.tokens.push(body.access_token);
      } catch {
        // A body already gone (the page navigated): nothing to record.
      }
    }
  });
}

/** Waits until the server refuses `token` (it expired), polling /me. */
async function waitExpired(token) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${server.baseURL}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status === 401) return;
    assert.equal(res.status, 200, `GET /me with a live token answered ${res.status}`);
    await sleep(250);
  }
  throw new Error('the access token did not expire within 60 s');
}

async function expectSignedIn(page, what) {
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Profile' }).waitFor({ timeout: WAIT_MS }).catch(() => {
    throw new Error(`${what}: not signed in (url ${page.url()})`);
  });
  assert.equal(await nav.getByRole('link', { name: 'Sign in' }).count(), 0, `${what}: a Sign in link is shown`);
  assert.ok(!page.url().includes('#/login'), `${what}: sent to the login page (${page.url()})`);
}

test('two tabs refresh at the same moment after the access token expired: both stay signed in', { timeout: 90_000 }, async () => {
  const done = timer('refresh');
  const learner = newLearner('tabs');
  await registerApi(server, learner);

  const { context, page: tab1, watcher } = await newPerson(browser, server, { label: 'tabs' });
  const log = { tokens: [], refreshes: [] };
  trackAuth(tab1, log);
  await scenario([watcher], async () => {

    // Sign in through the form (the login screen is also scanned by axe).
    await tab1.goto('/#/login');
    await tab1.getByRole('heading', { name: 'Sign in' }).waitFor();
    await checkA11y(tab1, 'login');
    await screenshotBoth(tab1, 'login');
    await tab1.getByLabel('Email').fill(learner.email);
    await tab1.getByLabel('Password').fill(learner.password);
    await tab1.getByRole('button', { name: 'Sign in' }).click();
    await tab1.getByRole('heading', { name: `Hi, ${learner.display_name}!` }).waitFor();
    // From here on every refresh must succeed (the signed-out start's 401 is expected).
    log.refreshes.length = 0;

    // A second tab of the same browser: it signs in from the shared cookie.
    const tab2 = await context.newPage();
    trackAuth(tab2, log);
    await tab2.goto('/#/profile');
    await expectSignedIn(tab2, 'tab 2 on open');
    await expectSignedIn(tab1, 'tab 1 after tab 2 opened');

    // 1. Both tokens expire; both tabs then call the API at the same moment (each gets
    //    a 401, refreshes and retries).
    await waitExpired(log.tokens.at(-1));
    const before1 = log.refreshes.length;
    await Promise.all([
      tab1.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Leaderboard' }).click(),
      tab2.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Leaderboard' }).click(),
    ]);
    for (const [tab, name] of [[tab1, 'tab 1'], [tab2, 'tab 2']]) {
      await tab.getByRole('heading', { name: 'Leaderboard' }).waitFor();
      await tab.getByRole('region', { name: 'Your rank' }).getByText(/not on this board yet|You are #/).waitFor();
      await expectSignedIn(tab, `${name} after the expired-token calls`);
    }
    assert.ok(log.refreshes.length > before1, 'the expired token caused no refresh');

    // 2. Both tabs reload at once: each starts with no token and refreshes with the
    //    same cookie at the same moment.
    await waitExpired(log.tokens.at(-1));
    await Promise.all([tab1.reload(), tab2.reload()]);
    await expectSignedIn(tab1, 'tab 1 after both reloaded');
    await expectSignedIn(tab2, 'tab 2 after both reloaded');

    // 3. One cookie presented twice at the same moment, without the app's lock (as two
    //    browsers or an older client would): the server's grace window answers both.
    const raced = await tab1.evaluate(async () => {
      const once = () => fetch('/api/v1/auth/refresh', { method: 'POST', credentials: 'same-origin' })
        .then(async (r) => ({ status: r.status, user: r.ok ? (await r.json()).user?.email : null }));
      return Promise.all([once(), once()]);
  });
  assert.deepEqual(raced.map((r) => r.status), [200, 200], `concurrent refreshes with one cookie: ${JSON.stringify(raced)}`);
  assert.ok(raced.every((r) => r.user === learner.email), `refresh answered another user: ${JSON.stringify(raced)}`);

  // The cookie jar still holds a live session afterwards: both tabs reload again.
  await Promise.all([tab1.reload(), tab2.reload()]);
  await expectSignedIn(tab1, 'tab 1 after the raced refresh');
  await expectSignedIn(tab2, 'tab 2 after the raced refresh');

  const refused = log.refreshes.filter((s) => s !== 200);
  assert.deepEqual(refused, [], `some refreshes were refused: ${JSON.stringify(log.refreshes)}`);
  });
  await context.close();
  done();
});
