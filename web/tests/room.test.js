// Test 2 (issue 15): a whole room. A host writes a quiz in the editor and opens a game
// on the projector; three players join in browser contexts of their own: a signed-in
// learner typing the code, a guest on a 360 px phone opening the QR code's link, and a
// second learner. Mid-game the guest reloads during a question and the second learner
// during a reveal: both are back in the same seat with the same score. The podium
// matches the scores every player saw, and the results CSV downloads and parses.
//
// Accuracy scoring with the streak bonus makes every score exact (docs/protocol.md:
// 1000 per right answer, +100 per right answer in a row after the first).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  startServer, launchBrowser, newPerson, newLearner, registerApi, checkA11y, screenshot, screenshotBoth,
  scenario, timer, PHONE, WAIT_MS,
} from './harness.js';
import { signIn } from './steps.js';

const PROJECTOR = { width: 1280, height: 720 };

// The quiz: three questions, the right option of each, and what each player answers.
const QUIZ = {
  title: 'Planets and moons',
  questions: [
    { question: 'Which planet is the largest?', options: ['Mars', 'Jupiter', 'Venus', 'Mercury'], correct: 1, explanation: 'Jupiter is more than twice as massive as all the other planets together.' },
    { question: 'Which planet has the moon Titan?', options: ['Saturn', 'Uranus', 'Neptune', 'Earth'], correct: 0, explanation: 'Titan is the largest moon of Saturn.' },
    { question: 'Which planet is closest to the Sun?', options: ['Venus', 'Earth', 'Mercury', 'Mars'], correct: 2, explanation: 'Mercury orbits the Sun in 88 days.' },
  ],
};
const LETTERS = ['A', 'B', 'C', 'D'];
// true = answers right, false = answers wrong (the next option).
const PLAN = {
  ada: [true, true, true], // 1000 + 1100 + 1200
  lin: [true, true, false], // 1000 + 1100 + 0
  sam: [true, false, true], // 1000 + 0 + 1000
};
const EXPECTED = { ada: 3300, lin: 2100, sam: 2000 };

let server;
let browser;

before(async () => {
  server = await startServer({ name: 'room' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

/** A tiny RFC 4180 parser: quoted fields, doubled quotes, CRLF or LF. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i += 1;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else {
      field += c;
    }
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  const [header, ...body] = rows;
  return body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

const numberOf = (text) => Number(String(text).replace(/[^\d]/g, ''));

test('a whole room: host, a learner, a guest on a phone, a learner who reloads; podium, CSV', { timeout: 150_000 }, async () => {
  const done = timer('room');
  const hostLearner = newLearner('host');
  const ada = newLearner('ada');
  const lin = newLearner('lin');
  ada.display_name = 'Ada';
  lin.display_name = 'Lin';
  await Promise.all([hostLearner, ada, lin].map((l) => registerApi(server, l)));

  const host = await newPerson(browser, server, { label: 'host', viewport: PROJECTOR });
  const pAda = await newPerson(browser, server, { label: 'ada' });
  const pSam = await newPerson(browser, server, { label: 'sam (guest, phone)', viewport: PHONE });
  const pLin = await newPerson(browser, server, { label: 'lin' });
  const people = [host, pAda, pSam, pLin];
  const players = { ada: pAda.page, sam: pSam.page, lin: pLin.page };
  const names = { ada: 'Ada', sam: 'Sam', lin: 'Lin' };
  const hp = host.page;

  await scenario(people.map((p) => p.watcher), async () => {
    // --- The host writes the quiz in the editor and saves it.
    await signIn(hp, hostLearner);
    await hp.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Host' }).click();
    await hp.getByRole('heading', { name: 'Hosting' }).waitFor();
    await checkA11y(hp, 'host dashboard');
    await hp.goto('/#/host/quizzes/new');
    await hp.getByRole('heading', { name: 'New quiz' }).waitFor();
    await hp.getByLabel('Title', { exact: true }).fill(QUIZ.title);
    for (const [i, q] of QUIZ.questions.entries()) {
      if (i > 0) await hp.getByRole('button', { name: 'Add a question' }).click();
      const card = hp.getByRole('group', { name: `Question ${i + 1}`, exact: true });
      await card.getByLabel('Question', { exact: true }).fill(q.question);
      for (const [j, text] of q.options.entries()) {
        await card.getByLabel(`Option ${LETTERS[j]}`, { exact: true }).fill(text);
      }
      await card.getByLabel(`Correct: option ${LETTERS[q.correct]}`).check();
      await card.getByLabel(/^Explanation/).fill(q.explanation);
    }
    await checkA11y(hp, 'quiz editor');
    await screenshotBoth(hp, 'host-quiz-editor');
    await hp.getByRole('button', { name: 'Save quiz' }).click();
    await hp.getByRole('heading', { name: 'Edit quiz' }).waitFor();

    // --- A game from the saved quiz: accuracy scoring, the streak bonus, guests allowed.
    await hp.getByRole('link', { name: 'Host this quiz' }).click();
    await hp.getByRole('heading', { name: 'Host a game' }).waitFor();
    await hp.getByLabel('Quiz', { exact: true }).locator('option', { hasText: QUIZ.title }).waitFor({ state: 'attached' });
    await hp.getByLabel('Seconds per question').fill('60');
    await hp.getByLabel(/^Accuracy:/).check();
    await hp.getByLabel(/^Streak bonus/).check();
    await hp.getByLabel(/^Let guests play/).check();
    await checkA11y(hp, 'new game');
    await screenshotBoth(hp, 'host-new-game');
    await hp.getByRole('button', { name: 'Create the game' }).click();
    await hp.waitForURL(/#\/host\/room\/[A-Z0-9]{6}$/);
    const code = hp.url().match(/#\/host\/room\/([A-Z0-9]{6})$/)[1];

    // The projector's lobby: the code, the link and its QR code.
    const joinLink = `${server.baseURL}/join/${code}`;
    await hp.getByText(joinLink).waitFor();
    const qr = hp.getByRole('img', { name: `QR code: scan it to open ${joinLink}` });
    await qr.waitFor();
    assert.ok(await qr.evaluate((img) => img.complete && img.naturalWidth > 0), 'the QR code image did not load');
    await hp.getByText('Waiting for players to join…').waitFor();

    // --- Three players join.
    // Ada (learner) types the code the way people do: lower case, a space.
    await signIn(players.ada, ada);
    await players.ada.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Join' }).click();
    await players.ada.getByLabel('Game code').fill(`${code.slice(0, 3).toLowerCase()} ${code.slice(3).toLowerCase()}`);
    await players.ada.getByRole('button', { name: 'Next' }).click();
    await players.ada.getByLabel('Your name in this game').waitFor();
    assert.equal(await players.ada.getByLabel('Your name in this game').inputValue(), 'Ada');
    await players.ada.getByRole('button', { name: 'Join', exact: true }).click();
    await players.ada.getByRole('heading', { name: "You're in!" }).waitFor();

    // Sam (guest, phone) opens the link of the QR code.
    await players.sam.goto(`/join/${code}`);
    await players.sam.getByLabel('Your name', { exact: true }).fill('Sam');
    await checkA11y(players.sam, 'join (name, phone)');
    await screenshot(players.sam, 'player-join');
    await players.sam.getByRole('button', { name: 'Join', exact: true }).click();
    await players.sam.getByRole('heading', { name: "You're in!" }).waitFor();
    await players.sam.getByText('Sam', { exact: true }).waitFor();

    // Lin (learner) joins from the code screen too.
    await signIn(players.lin, lin);
    await players.lin.goto('/#/join');
    await checkA11y(players.lin, 'join (code)');
    await players.lin.getByLabel('Game code').fill(code);
    await players.lin.getByRole('button', { name: 'Next' }).click();
    await players.lin.getByRole('button', { name: 'Join', exact: true }).click();
    await players.lin.getByRole('heading', { name: "You're in!" }).waitFor();

    // The projector shows the three names arriving.
    const roster = hp.getByRole('region', { name: /players?$/ });
    for (const name of Object.values(names)) await roster.getByText(name, { exact: true }).waitFor();
    await hp.getByRole('heading', { name: '3 players' }).waitFor();
    await players.sam.getByText('3 players in the game').waitFor();
    await checkA11y(hp, 'projector lobby');
    await screenshot(hp, 'projector-lobby');
    await checkA11y(players.sam, 'player lobby (phone)');
    await screenshot(players.sam, 'player-lobby');

    // --- The game.
    await hp.getByRole('button', { name: 'Start game' }).click();
    const scores = { ada: 0, sam: 0, lin: 0 };
    for (const [qi, q] of QUIZ.questions.entries()) {
      const last = qi === QUIZ.questions.length - 1;
      await hp.getByText(`Question ${qi + 1} of ${QUIZ.questions.length}`).waitFor();
      await hp.getByRole('heading', { name: q.question }).waitFor();
      for (const page of Object.values(players)) await page.getByRole('heading', { name: q.question }).waitFor();

      if (qi === 1) {
        // The guest reloads during the question: the same seat, the score kept.
        await players.sam.reload();
        await players.sam.getByRole('heading', { name: q.question }).waitFor();
        await players.sam.getByText(`${scores.sam.toLocaleString('en-US')} pts`).waitFor();
      }
      if (qi === 0) {
        await checkA11y(hp, 'projector question');
        await screenshot(hp, 'projector-question');
        await checkA11y(players.sam, 'player question (phone)');
        await screenshotBoth(players.sam, 'player-question');
      }

      for (const [n, who] of Object.keys(players).entries()) {
        const page = players[who];
        const right = PLAN[who][qi];
        const option = right ? q.correct : (q.correct + 1) % q.options.length;
        const letter = LETTERS[option];
        await page.getByRole('group', { name: 'Answers' })
          .getByRole('button', { name: `Answer ${letter}: ${q.options[option]}` }).click();
        // The last answer closes the question at once: only the others see "Answer locked".
        if (n < 2) await page.getByRole('heading', { name: /^(Answer locked|Sending your answer…)$/ }).waitFor();
        if (right) scores[who] += 1000 + 100 * streakBefore(PLAN[who], qi);
      }
      if (qi === 0) await screenshot(players.sam, 'player-answer-locked');

      // Everyone answered: the question closes at once. The projector shows the
      // distribution, each phone its verdict and score.
      await hp.getByText(`${countRight(qi)} of 3 answered right`).waitFor();
      for (const who of Object.keys(players)) {
        const page = players[who];
        await page.getByText(PLAN[who][qi] ? 'Correct!' : 'Not this time', { exact: true }).waitFor();
        const score = page.locator('dt', { hasText: /^Score$/ }).locator('xpath=following-sibling::dd');
        await score.filter({ hasText: scores[who].toLocaleString('en-US') }).waitFor();
      }
      if (qi === 0) {
        await checkA11y(hp, 'projector answers');
        await screenshot(hp, 'projector-answers');
        await checkA11y(players.sam, 'player reveal (phone)');
        await screenshotBoth(players.sam, 'player-reveal');
      }

      if (qi === 0) {
        // Lin reloads during the reveal: back with the same score.
        await players.lin.reload();
        await players.lin.getByText(`${scores.lin.toLocaleString('en-US')} pts`).waitFor();
        const place = players.lin.locator('dt', { hasText: /^Score$/ }).locator('xpath=following-sibling::dd');
        await place.filter({ hasText: scores.lin.toLocaleString('en-US') }).waitFor();
      }

      // The scoreboard, then the next question (or the end).
      await hp.getByRole('button', { name: 'Scoreboard' }).click();
      await hp.getByRole('heading', { name: 'Scoreboard' }).waitFor();
      for (const who of Object.keys(players)) {
        await hp.getByRole('listitem').filter({ hasText: names[who] })
          .filter({ hasText: scores[who].toLocaleString('en-US') }).waitFor();
      }
      if (qi === 1) {
        await checkA11y(hp, 'projector scoreboard');
        await screenshot(hp, 'projector-scoreboard');
      }
      await hp.getByRole('button', { name: last ? 'Final results' : 'Next question' }).click();
    }
    assert.deepEqual(scores, EXPECTED, 'the plan adds up to the expected scores');

    // --- The end: the podium matches the scores every phone shows.
    await hp.getByRole('heading', { name: 'Podium' }).waitFor();
    const order = Object.keys(EXPECTED).sort((a, b) => EXPECTED[b] - EXPECTED[a]);
    const spoken = order.map((who, i) => `${['1st', '2nd', '3rd'][i]}: ${names[who]}, ${EXPECTED[who]} points.`);
    for (const line of spoken) await hp.getByText(line, { exact: false }).waitFor({ state: 'attached' });
    for (const [i, who] of order.entries()) {
      const page = players[who];
      await page.getByRole('heading', { name: `${['1st', '2nd', '3rd'][i]} place` }).waitFor();
      const final = page.locator('dt', { hasText: /^Score$/ }).locator('xpath=following-sibling::dd');
      assert.equal(numberOf(await final.innerText()), EXPECTED[who], `${names[who]}'s final score`);
      const podium = page.getByRole('list', { name: 'Podium' });
      await podium.getByRole('listitem').filter({ hasText: names[who] })
        .filter({ hasText: EXPECTED[who].toLocaleString('en-US') }).waitFor();
    }
    await checkA11y(hp, 'projector podium');
    await screenshot(hp, 'projector-podium');
    await checkA11y(players.sam, 'player final (phone)');
    await screenshotBoth(players.sam, 'player-final');

    // --- The results as CSV: downloaded, parsed, and equal to the scores.
    const [download] = await Promise.all([
      hp.waitForEvent('download', { timeout: WAIT_MS }),
      hp.getByRole('button', { name: 'Download results (CSV)' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /\.csv$/);
    const csv = parseCsv(fs.readFileSync(await download.path(), 'utf8'));
    assert.equal(csv.length, 3, `the CSV has ${csv.length} player rows`);
    for (const [i, who] of order.entries()) {
      const row = csv.find((r) => r.name === names[who]);
      assert.ok(row, `no CSV row for ${names[who]}`);
      assert.equal(Number(row.rank), i + 1, `${names[who]}'s rank in the CSV`);
      assert.equal(Number(row.score), EXPECTED[who], `${names[who]}'s score in the CSV`);
      assert.equal(row.account, who === 'sam' ? 'guest' : 'learner');
      assert.equal(Number(row.correct), PLAN[who].filter(Boolean).length);
      for (const [qi, q] of QUIZ.questions.entries()) {
        const option = PLAN[who][qi] ? q.correct : (q.correct + 1) % q.options.length;
        assert.equal(row[`q${qi + 1}_answer`], LETTERS[option], `${names[who]}'s answer to question ${qi + 1}`);
        assert.equal(row[`q${qi + 1}_correct`], PLAN[who][qi] ? 'yes' : 'no');
      }
    }
  });
  for (const p of people) await p.context.close();
  done();
});

/** Right answers in a row before question `qi` (the streak the bonus counts). */
function streakBefore(plan, qi) {
  let n = 0;
  for (let i = qi - 1; i >= 0 && plan[i]; i -= 1) n += 1;
  return n;
}

function countRight(qi) {
  return Object.values(PLAN).filter((p) => p[qi]).length;
}
