// Test 1 (issue 15): the learner journey. Sign up, create a goal and watch its roadmap
// job, open the roadmap, tick the topics, play the solo quiz over the websocket with one
// question left to time out, see the XP and the level-up, and see my rank on the
// leaderboard change live (in a second tab, without reloading it). Every screen on the
// way is scanned by axe and photographed at 360 and 1280 px.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newPerson, newLearner, registerApi, createGoalApi, passLevelsApi,
  checkA11y, screenshotBoth, scenario, recordToasts, toastsSeen, timer, WAIT_MS, PHONE,
} from './harness.js';
import {
  signUp, signIn, createGoal, openCurrentLevel, tickTopicsAndStartQuiz, readQuestion, answerCorrectly, proceed,
} from './steps.js';

// Short questions, so that the one left unanswered times out quickly; long enough for
// a busy CI machine to answer the others.
const QUESTION_SECS = 8;
const GOAL = 'Learn web development: HTML, CSS and JavaScript';
let server;
let browser;

before(async () => {
  server = await startServer({ name: 'journey', env: { QUESTPATH_QUIZ_QUESTION_SECS: String(QUESTION_SECS) } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

test('learner journey: sign up, goal, roadmap, topics, timed quiz, XP, level-up, live rank', { timeout: 120_000 }, async () => {
  const done = timer('journey');
  const me = newLearner('journey');
  const { context, page, watcher } = await newPerson(browser, server, { label: 'learner' });
  const watchers = [watcher];
  await scenario(watchers, async () => {
    // Sign up.
    await page.goto('/#/signup');
    await page.getByRole('heading', { name: 'Create your account' }).waitFor();
    await checkA11y(page, 'signup');
    await screenshotBoth(page, 'signup');
    await signUp(page, me);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await xpChip(page, 1, 0).waitFor();
    await checkA11y(page, 'home (new learner)');

    // A goal, with the roadmap job's progress on its card.
    await createGoal(page, GOAL, {
      onCard: async () => {
        await checkA11y(page, 'home (roadmap ready)');
        await screenshotBoth(page, 'home-goal-ready');
      },
    });

    // The roadmap: level 1 open, the others locked.
    await page.getByRole('heading', { name: 'Become a Web Developer' }).waitFor();
    await page.getByText(/^0 of \d+ levels passed$/).waitFor();
    await checkA11y(page, 'roadmap');
    await screenshotBoth(page, 'roadmap');
    const levelName = await openCurrentLevel(page);
    assert.match(levelName, /^Level 1: /);

    // The level: tick every topic; the quiz opens.
    await page.getByRole('heading', { level: 1, name: levelName.replace(/^Level 1: /, '') }).waitFor();
    await checkA11y(page, 'level');
    const { start } = await tickTopicsAndStartQuiz(page);
    await screenshotBoth(page, 'level-topics-done');

    // My second device on the leaderboard, left open: it must follow my rank by itself.
    // (A second window, not a tab: a background tab's frames are throttled.)
    const phone = await newPerson(browser, server, { label: 'learner-2nd-device', viewport: PHONE });
    watchers.push(phone.watcher);
    const board = phone.page;
    await signIn(board, me);
    await board.goto('/#/leaderboard');
    await board.getByRole('heading', { name: 'Leaderboard' }).waitFor();
    const myRank = board.getByRole('region', { name: 'Your rank' });
    await myRank.getByText('You are not on this board yet').waitFor();
    await board.getByText('Live').waitFor();

    // The quiz: every question answered correctly except the second, left to time out.
    await recordToasts(page);
    await start.click();
    const first = await readQuestion(page);
    assert.equal(first.position, 0);
    const total = first.total;
    assert.equal(total, 5, 'a quiz has five questions');
    let question = first;
    let timedOut = 0;
    for (;;) {
      if (question.position === 1) {
        // Left alone: the server's clock closes it. The screen counts down meanwhile.
        await page.getByRole('timer', { name: 'Time left' }).waitFor();
        await checkA11y(page, 'quiz question');
        await screenshotBoth(page, 'quiz-question');
        // The feedback, once the server closed the question: the answer and "Time is up!".
        await page.getByText(/^The answer is [A-D]: /).waitFor({ timeout: (QUESTION_SECS + 5) * 1000 });
        await page.getByText('Time is up!').first().waitFor();
        await page.getByRole('button', { name: 'Next question' }).waitFor();
        timedOut += 1;
      } else {
        const answer = await answerCorrectly(page, question);
        await page.getByRole('button', { name: /^(Next question|See your result)$/ }).waitFor();
        assert.equal(await page.getByText(/^Not quite\./).count(), 0, `"${answer}" was not taken as correct for "${question.text}"`);
      }
      if (question.position === total - 1) {
        // The last feedback: no next question's clock runs, so it can be scanned at ease.
        await page.getByRole('button', { name: 'See your result' }).waitFor();
        await checkA11y(page, 'quiz feedback');
        await screenshotBoth(page, 'quiz-feedback');
        await proceed(page);
        break;
      }
      await proceed(page);
      const next = await waitNextQuestion(page, question.position + 1);
      question = next;
    }
    assert.equal(timedOut, 1);

    // The result: 4 of 5 is a pass, the level's XP, a level-up, the next level unlocked.
    await page.getByRole('heading', { name: 'Level passed!' }).waitFor();
    await page.getByText('4 of 5 correct · 80%').waitFor();
    await page.getByText('Level up! You are now level 2.').waitFor();
    await page.getByText('The next level is unlocked.').waitFor();
    const earned = await page.locator('dt', { hasText: 'XP earned' }).locator('xpath=following-sibling::dd').innerText();
    assert.equal(earned.trim(), '+100');
    await xpChip(page, 2, 100).waitFor();
    await checkA11y(page, 'quiz result');
    await screenshotBoth(page, 'quiz-result');

    // The quiz's device was told of the move by a toast (leaderboard.rank).
    const toasts = await toastsSeen(page);
    assert.ok(toasts.some((t) => /all-time leaderboard at #1/.test(t)), `no toast about my new rank among ${JSON.stringify(toasts)}`);

    // The leaderboard tab followed without a reload: on the board at #1.
    await myRank.getByText('You are #1 with 100 XP.').waitFor();
    await expectBoardRow(board, me.display_name, 1);

    // A rival passes two levels and overtakes me: the open tab shows me at #2, live.
    const rival = newLearner('rival');
    const rivalToken = (await registerApi(server, rival)).access_token;
    const rivalGoal = await createGoalApi(server, rivalToken, GOAL);
    await passLevelsApi(server, rivalToken, rivalGoal, 2);
    await expectBoardRow(board, rival.display_name, 1);
    await expectBoardRow(board, me.display_name, 2);
    // The "Your rank" card must agree with the table. Checked at the end, so that a
    // stale card does not hide the rest of the journey.
    const staleCard = await myRank.getByText('You are #2 with 100 XP.').waitFor().then(
      () => null,
      async () => `after a rival overtook me, the table shows me at #2 but the "Your rank" card says: ${await myRank.innerText()}`,
    );
    await checkA11y(board, 'leaderboard');
    await screenshotBoth(board, 'leaderboard');
    await phone.context.close();

    // The roadmap shows the pass and the next level as current.
    await page.getByRole('link', { name: /^(On to the next level|Back to the roadmap)$/ }).click();
    await page.getByText(/^1 of \d+ levels passed$/).waitFor();
    await page.locator('a[aria-current="step"]').filter({ hasText: 'Level 2:' }).waitFor();

    // Profile, then sign out.
    await nav.getByRole('link', { name: 'Profile' }).click();
    await page.getByRole('heading', { name: 'Your profile' }).waitFor();
    await checkA11y(page, 'profile');
    await screenshotBoth(page, 'profile');
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await nav.getByRole('link', { name: 'Sign in' }).waitFor();
    assert.equal(staleCard, null, staleCard);
  });
  await context.close();
  done();
});

/** Waits for the quiz to show question `position` and reads it. */
async function waitNextQuestion(page, position) {
  await page.getByText(`Question ${position + 1} of `, { exact: false }).waitFor({ timeout: WAIT_MS });
  const q = await readQuestion(page);
  assert.equal(q.position, position, `expected question ${position + 1}, the screen shows ${q.position + 1}`);
  return q;
}

/** Waits until the leaderboard's top table shows `name` at `rank`. */
async function expectBoardRow(page, name, rank) {
  const table = page.getByRole('table', { name: /^Top \d+$/ });
  const row = table.getByRole('row').filter({ hasText: name });
  await row.getByRole('cell').first().filter({ hasText: new RegExp(`^${rank}$`) }).waitFor({ timeout: WAIT_MS });
}

/** The top bar's XP link ("Lv 2 … 100 XP"), whatever words its accessible name uses. */
function xpChip(page, level, xp) {
  return page.getByRole('banner').getByRole('link', { name: new RegExp(`\\b(Lv|Level) ${level}\\b.*\\b${xp} XP\\b`) });
}
