// Learner steps through the app's screens, shared by the journey and resume tests.
// Everything goes through accessible roles, labels and visible text.

import assert from 'node:assert/strict';
import { catalogAnswers, WAIT_MS } from './harness.js';

/** Signs a new learner up through #/signup and waits for the home screen. */
export async function signUp(page, learner) {
  await page.goto('/#/signup');
  await page.getByRole('heading', { name: 'Create your account' }).waitFor();
  await page.getByLabel('Display name').fill(learner.display_name);
  await page.getByLabel('Email').fill(learner.email);
  await page.getByLabel('Password').fill(learner.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: `Hi, ${learner.display_name}!` }).waitFor();
}

/** Signs an existing learner in through #/login and waits for the home screen. */
export async function signIn(page, learner) {
  await page.goto('/#/login');
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Email').fill(learner.email);
  await page.getByLabel('Password').fill(learner.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: `Hi, ${learner.display_name}!` }).waitFor();
}

/**
 * On the home screen: describes a goal, follows the roadmap job's card until the
 * roadmap is ready and opens it. `onCard(card)` runs while the card is shown.
 */
export async function createGoal(page, description, { onCard } = {}) {
  await page.getByLabel('What do you want to learn?').fill(description);
  await page.getByRole('button', { name: 'Create my roadmap' }).click();
  const card = page.getByRole('article', { name: 'Roadmap generation' });
  await card.waitFor();
  await card.getByText('Your roadmap is ready!').waitFor();
  // Every step of the progress list is reached.
  for (const step of ['Queued', 'Writing levels', 'Saving', 'Ready']) {
    await card.getByRole('listitem').filter({ hasText: step }).waitFor();
  }
  if (onCard) await onCard(card);
  await card.getByRole('link', { name: 'Open roadmap' }).click();
}

/** On a roadmap: opens the level whose node is marked as the current step. */
export async function openCurrentLevel(page) {
  const node = page.locator('a[aria-current="step"]');
  await node.waitFor();
  const name = (await node.innerText()).split('\n')[0];
  await node.click();
  return name;
}

/** On a level: ticks every topic, waits until the quiz can start, and starts it. */
export async function tickTopicsAndStartQuiz(page) {
  const boxes = page.getByRole('checkbox', { name: /Mark as done/ });
  await boxes.first().waitFor();
  const count = await boxes.count();
  assert.ok(count > 0, 'the level shows no topic to tick');
  for (let i = 0; i < count; i += 1) {
    // Each tick is saved before the next one (the box is disabled while it saves).
    const box = page.getByRole('checkbox').nth(i);
    await box.check();
  }
  await page.getByText(`${count} of ${count} topics done`).waitFor();
  const start = page.getByRole('link', { name: 'Start the quiz' });
  await start.waitFor();
  return { topics: count, start };
}

const SHAPES = '(triangle|diamond|circle|square)';
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The open quiz question: its text and "Question N of M". */
export async function readQuestion(page) {
  const heading = page.locator('h1.question');
  await heading.waitFor();
  const text = (await heading.innerText()).trim();
  const pos = await page.getByText(/^Question \d+ of \d+$/).innerText();
  const [, n, total] = pos.match(/Question (\d+) of (\d+)/).map(Number);
  return { text, position: n - 1, total };
}

/** The answer button of the open question whose option text is `text`. */
export function optionButton(page, question, text) {
  return page.getByRole('group', { name: question })
    .getByRole('button', { name: new RegExp(`^${escape(text)} \\(${SHAPES}\\)$`) });
}

/** Answers the open question correctly (its answer comes from content/catalog). */
export async function answerCorrectly(page, question) {
  const answer = catalogAnswers().get(question.text);
  assert.ok(answer, `question not in content/catalog: ${JSON.stringify(question.text)}`);
  await optionButton(page, question.text, answer).click();
  return answer;
}

/** After feedback: the "Next question" / "See your result" button, clicked. */
export async function proceed(page) {
  await page.getByRole('button', { name: /^(Next question|See your result)$/ }).click({ timeout: WAIT_MS });
}
