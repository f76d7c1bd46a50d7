// Test 3 (issue 15): resume. The socket is cut mid-quiz because the server restarts;
// the reconnect banner shows while it is down, and once it is back the quiz resumes at
// the same question with the time actually left, and can be played to the end.
//
// The quiz in progress must outlive the process, so this server keeps its shared state
// in Redis (QUESTPATH_TEST_REDIS_URL, a key prefix of its own); the store is the
// embedded one, on the same data folder before and after the restart.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newPerson, newLearner, registerApi, createGoalApi, apiCall, redisEnv,
  checkA11y, screenshotBoth, scenario, timer, WAIT_MS,
} from './harness.js';
import { signIn, readQuestion, answerCorrectly, proceed } from './steps.js';

let server;
let browser;

before(async () => {
  server = await startServer({
    name: 'resume',
    env: { ...redisEnv('resume'), QUESTPATH_QUIZ_QUESTION_SECS: '120' },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

/** Seconds shown by the quiz's countdown ("1:54" -> 114). */
async function secondsLeft(page) {
  const text = await page.getByRole('timer', { name: 'Time left' }).innerText();
  const [m, s] = text.trim().split(':').map(Number);
  return m * 60 + s;
}

test('resume: the server restarts mid-quiz, the banner shows, the quiz resumes at the same question', { timeout: 90_000 }, async () => {
  const done = timer('resume');
  // Set-up over the API: a learner with a roadmap whose first level's topics are done.
  const me = newLearner('resume');
  const token = (await registerApi(server, me)).access_token;
  const goal = await createGoalApi(server, token, 'Learn Python programming from scratch');
  const level = goal.roadmap.levels.slice().sort((a, b) => a.order - b.order)[0];
  const detail = await apiCall(server, token, 'GET', `/api/v1/levels/${level.id}`);
  for (const t of detail.topics) {
    await apiCall(server, token, 'PUT', `/api/v1/levels/${level.id}/topics/${t.index}`, { completed: true });
  }

  const { context, page, watcher } = await newPerson(browser, server, { label: 'resume' });
  await scenario([watcher], async () => {
    await signIn(page, me);
    await page.goto(`/#/quiz/${level.id}?goal=${goal.id}`);

    // Question 1 answered, so that the quiz is somewhere in the middle.
    const q1 = await readQuestion(page);
    assert.equal(q1.position, 0);
    await answerCorrectly(page, q1);
    await proceed(page);
    await page.getByText('Question 2 of ').waitFor();
    const q2 = await readQuestion(page);
    assert.equal(q2.position, 1);
    const before = await secondsLeft(page);
    const banner = page.getByRole('status').filter({ hasText: 'Reconnecting…' });
    assert.equal(await banner.count(), 0, 'the reconnect banner shows before anything happened');

    // The server goes away: the socket closes (1012) and the banner shows while it is down.
    // The browser's own reports of the refused reconnections are expected meanwhile.
    watcher.allowed.push('WebSocket connection to', 'net::ERR_CONNECTION_REFUSED');
    await server.stop();
    await banner.waitFor();
    await checkA11y(page, 'quiz reconnecting');
    await screenshotBoth(page, 'quiz-reconnecting');

    // Back on the same port and data folder: the banner goes and the same question is open.
    await server.start();
    await banner.waitFor({ state: 'hidden', timeout: 30_000 });
    watcher.allowed.length = 0;
    await page.getByRole('heading', { level: 1, name: q2.text }).waitFor();
    const resumed = await readQuestion(page);
    assert.equal(resumed.position, 1, 'the quiz resumed at another question');
    assert.equal(resumed.text, q2.text);
    // The server's clock kept running: less time left, but some.
    const after = await secondsLeft(page);
    assert.ok(after <= before && after > 0, `time left ${before} s before the restart, ${after} s after`);

    // And it plays on to the end: the resumed question takes an answer.
    let q = resumed;
    for (;;) {
      const answer = await answerCorrectly(page, q);
      await page.getByRole('button', { name: /^(Next question|See your result)$/ }).waitFor({ timeout: WAIT_MS });
      assert.equal(await page.getByText(/^Not quite\./).count(), 0, `"${answer}" was not taken as correct`);
      const last = q.position === q.total - 1;
      await proceed(page);
      if (last) break;
      await page.getByText(`Question ${q.position + 2} of `).waitFor();
      q = await readQuestion(page);
    }
    await page.getByRole('heading', { name: 'Level passed!' }).waitFor();
    await page.getByText('5 of 5 correct · 100%').waitFor();
  });
  await context.close();
  done();
});
