// A learner's own data (issue 19): from the profile, download everything held about them
// as a JSON file, then delete the account; a wrong password is refused beside the field,
// the right one signs out everywhere and the account is gone.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  startServer, launchBrowser, newPerson, newLearner, registerApi, checkA11y, screenshotBoth, scenario, timer,
} from './harness.js';
import { signIn } from './steps.js';

let server;
let browser;

before(async () => {
  server = await startServer({ name: 'data' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

test('your data: download it, then delete the account with a password check', { timeout: 90_000 }, async () => {
  const done = timer('data');
  const learner = newLearner('leaving');
  await registerApi(server, learner);
  const { context, page, watcher } = await newPerson(browser, server, { label: 'data' });
  await scenario([watcher], async () => {
    await signIn(page, learner);
    await page.goto('/#/profile');
    const card = page.getByRole('region', { name: 'Your data' });
    await card.waitFor();

    // The export: a file named by the server, holding the profile and no secret.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      card.getByRole('button', { name: 'Download my data' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /^questpath-export-\d{4}-\d{2}-\d{2}\.json$/);
    const text = fs.readFileSync(await download.path(), 'utf8');
    const exported = JSON.parse(text);
    assert.equal(exported.format, 'questpath-export/1');
    assert.equal(exported.profile.email, learner.email);
    assert.ok(!text.includes('$argon2'), 'the export holds a password hash');

    // Deletion asks for the password, and a wrong one is said beside the field.
    await card.getByRole('button', { name: 'Delete my account…' }).click();
    const confirm = page.getByRole('form', { name: 'Delete your account?' });
    await confirm.waitFor();
    await confirm.scrollIntoViewIfNeeded();
    await checkA11y(page, 'profile: delete account');
    await screenshotBoth(page, 'profile-delete');
    await confirm.getByLabel('Your current password').fill('not my password');
    await confirm.getByRole('button', { name: 'Delete my account for good' }).click();
    await confirm.getByRole('alert').getByText('That is not your current password.').waitFor();

    await confirm.getByLabel('Your current password').fill(learner.password);
    await confirm.getByRole('button', { name: 'Delete my account for good' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.ok(page.url().includes('#/login'), `after deletion: ${page.url()}`);
  });

  // The account is gone: its password signs nobody in, and the email may sign up again.
  const login = await fetch(`${server.baseURL}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: learner.email, password: learner.password }),
  });
  assert.equal(login.status, 401);
  await registerApi(server, learner);
  await context.close();
  done();
});
