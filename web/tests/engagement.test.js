// Engagement (issue 18) in the web client: the streak and daily goal, the weekly league,
// notifications and the pages mails link to. A learner signs up in New York (the zone
// goes with the sign-up), Home shows a 0-day streak and the goal; a passed level moves
// today's XP, reaches the goal, lights the streak and rings the bell, all live; the
// Notifications page marks it read; the League page shows the cohort and a rival
// overtaking live; Profile changes the zone and the goal; the verification mail's link
// verifies the address and unlocks the email toggles; a signed-out visitor asks for a
// reset link (same answer for any address) and the reset mail's link sets a new password.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer, launchBrowser, newPerson, newLearner, registerApi, apiCall, createGoalApi, passLevelsApi,
  checkA11y, screenshotBoth, scenario, recordToasts, toastsSeen, timer, sleep, WAIT_MS, PHONE,
} from './harness.js';
import { signUp } from './steps.js';

const ZONE = 'America/New_York';
let server;
let browser;

before(async () => {
  server = await startServer({ name: 'engagement' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

async function loginApi(learner) {
  const res = await fetch(`${server.baseURL}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: learner.email, password: learner.password }),
  });
  assert.equal(res.status, 200, `login ${learner.email}`);
  return (await res.json()).access_token;
}

/** The mails in the server's outbox to `to` whose link goes to `#/<route>?token=`, oldest first. */
function mailTokens(to, route) {
  const dir = path.join(server.dataDir, 'outbox');
  if (!fs.existsSync(dir)) return [];
  const tokens = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.eml')).sort()) {
    const raw = fs.readFileSync(path.join(dir, file), 'utf8');
    if (!new RegExp(`^To:.*${to.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'mi').test(raw)) continue;
    // Quoted-printable: soft line breaks and =XX escapes.
    const text = raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
    const m = text.match(new RegExp(`#/${route}\\?token=([A-Za-z0-9_-]+)`));
    if (m) tokens.push(m[1]);
  }
  return tokens;
}

async function waitForMail(to, route, count = 1) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const tokens = mailTokens(to, route);
    if (tokens.length >= count) return tokens[tokens.length - 1];
    if (Date.now() > deadline) throw new Error(`no ${route} mail #${count} to ${to} in ${server.dataDir}/outbox`);
    await sleep(150);
  }
}

test('engagement: streak, daily goal, notifications, league, profile settings and the mail links', { timeout: 180_000 }, async () => {
  const done = timer('engagement');
  const me = newLearner('streaky');
  const { context, page, watcher } = await newPerson(browser, server, { label: 'learner', viewport: PHONE, timezoneId: ZONE });
  const visitor = await newPerson(browser, server, { label: 'visitor' });
  await scenario([watcher, visitor.watcher], async () => {
    // Sign-up sends the browser's zone.
    const register = page.waitForRequest((r) => r.url().endsWith('/api/v1/auth/register'));
    await signUp(page, me);
    assert.equal((await register).postDataJSON().time_zone, ZONE);
    const token = await loginApi(me);
    const profile = await apiCall(server, token, 'GET', '/api/v1/me');
    assert.equal(profile.time_zone, ZONE);
    await recordToasts(page);

    // Home: a 0-day streak, today's goal, the league not joined yet.
    const streak = page.getByRole('region', { name: 'Streak' });
    await streak.getByText('0 days in a row').waitFor();
    await streak.getByText(`0 / ${profile.daily_goal} XP`).waitFor();
    const bar = streak.getByRole('progressbar', { name: "Today's XP toward your daily goal" });
    assert.equal(await bar.getAttribute('aria-valuenow'), '0');
    assert.equal(await bar.getAttribute('aria-valuemax'), String(profile.daily_goal));
    const leagueCard = page.getByRole('region', { name: 'League' });
    await leagueCard.getByText('Bronze league').waitFor();
    await leagueCard.getByText(/Earn XP this week to join/).waitFor();
    await leagueCard.getByText(/Week ends in /).waitFor();
    await page.getByRole('link', { name: 'Notifications, none unread' }).waitFor();
    await checkA11y(page, 'home: streak 0');
    await screenshotBoth(page, 'home-streak-0');

    // A level passed (on another device, through the API): Home follows live.
    const goal = await createGoalApi(server, token, 'Learn web development: HTML, CSS and JavaScript');
    await passLevelsApi(server, token, goal, 1);
    const after = await apiCall(server, token, 'GET', '/api/v1/me');
    assert.ok(after.streak.goal_reached, `goal not reached after a level: ${JSON.stringify(after.streak)}`);
    await streak.getByText('1 day in a row').waitFor();
    await streak.getByText(/Daily goal reached!/).waitFor();
    await streak.getByText(`${after.streak.today_xp} / ${after.daily_goal} XP`).waitFor();
    assert.equal(await bar.getAttribute('aria-valuenow'), String(after.daily_goal));
    await page.getByRole('link', { name: 'Notifications, 1 unread' }).waitFor();
    await leagueCard.getByText(/You are #1 of 1/).waitFor();
    const deadline = Date.now() + WAIT_MS;
    while (!(await toastsSeen(page)).some((t) => t.startsWith('Daily goal reached'))) {
      assert.ok(Date.now() < deadline, `no daily goal toast; toasts: ${JSON.stringify(await toastsSeen(page))}`);
      await sleep(100);
    }
    await checkA11y(page, 'home: goal reached');
    await screenshotBoth(page, 'home-streak-1');

    // The Notifications page: the level-up in words, marked read.
    await page.getByRole('link', { name: 'Notifications, 1 unread' }).click();
    await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
    const item = page.getByRole('listitem').filter({ hasText: `You reached level ${after.level}!` });
    await item.waitFor();
    await item.getByRole('link', { name: 'See your progress' }).waitFor();
    await checkA11y(page, 'notifications (unread)');
    await screenshotBoth(page, 'notifications');
    await item.getByRole('button', { name: /^Mark as read/ }).click();
    await page.getByRole('link', { name: 'Notifications, none unread' }).waitFor();
    await item.getByRole('button', { name: /^Mark as read/ }).waitFor({ state: 'detached' });
    assert.equal((await apiCall(server, token, 'GET', '/api/v1/notifications?unread=true')).unread, 0);

    // The League page: me in the cohort; a rival overtakes me live.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Home' }).click();
    await leagueCard.getByRole('link', { name: 'Open the league' }).click();
    await page.getByRole('heading', { name: 'League', level: 1 }).waitFor();
    const cohort = page.getByRole('table', { name: 'Your cohort' });
    const myRow = cohort.getByRole('row').filter({ hasText: '(you)' });
    await myRow.waitFor();
    assert.match(await myRow.innerText(), /^1\b/);
    await page.getByText(/Ends in /).waitFor();
    await page.getByRole('heading', { name: 'Past weeks' }).waitFor();
    const rival = newLearner('rival');
    const rivalToken = (await registerApi(server, rival)).access_token;
    const rivalGoal = await createGoalApi(server, rivalToken, 'Learn web development: HTML, CSS and JavaScript');
    await passLevelsApi(server, rivalToken, rivalGoal, 2);
    const rivalRow = cohort.getByRole('row').filter({ hasText: rival.display_name });
    await rivalRow.waitFor();
    await page.getByText('Live', { exact: true }).waitFor();
    assert.match(await rivalRow.innerText(), /^1\b/);
    assert.match(await rivalRow.innerText(), /Up/);
    assert.match(await myRow.innerText(), /^2\b/);
    await checkA11y(page, 'league');
    await screenshotBoth(page, 'league');

    // Profile: the day settings.
    await page.goto('/#/profile');
    const day = page.getByRole('region', { name: 'Daily goal and time zone' });
    await day.getByLabel('Time zone').waitFor();
    assert.equal(await day.getByLabel('Time zone').inputValue(), ZONE);
    await day.getByLabel('Time zone').selectOption('Asia/Tokyo');
    await day.getByRole('radio', { name: /30 XP/ }).check();
    await day.getByRole('button', { name: 'Save day settings' }).click();
    await day.getByRole('button', { name: 'Save day settings' }).and(page.locator(':disabled')).waitFor();
    const saved = await apiCall(server, token, 'GET', '/api/v1/me');
    assert.equal(saved.time_zone, 'Asia/Tokyo');
    assert.equal(saved.daily_goal, 30);

    // Email: not verified yet, toggles off with a hint; send the link again.
    const email = page.getByRole('region', { name: 'Email' });
    await email.getByText('Not verified').waitFor();
    const reminders = email.getByRole('checkbox', { name: /Streak reminders/ });
    const summary = email.getByRole('checkbox', { name: /Weekly summary/ });
    assert.ok(await reminders.isDisabled());
    assert.ok(await summary.isDisabled());
    await email.getByText('Verify your email to turn these on.').waitFor();
    await checkA11y(page, 'profile: engagement settings');
    await screenshotBoth(page, 'profile-day-settings');
    await waitForMail(me.email, 'verify-email', 1);
    await email.getByRole('button', { name: 'Send the link again' }).click();
    const verifyToken = await waitForMail(me.email, 'verify-email', 2);

    // The link (the latest mail's) verifies; Profile then shows it and unlocks the toggles.
    await page.goto(`/#/verify-email?token=${verifyToken}`);
    await page.getByRole('heading', { name: 'Confirm your email' }).waitFor();
    await page.getByText(/is verified\./).waitFor();
    await checkA11y(page, 'verify email: done');
    await page.getByRole('link', { name: 'Go to your profile' }).click();
    await email.getByText('Verified', { exact: true }).waitFor();
    await email.getByRole('button', { name: 'Send the link again' }).waitFor({ state: 'detached' });
    await reminders.and(page.locator(':enabled')).waitFor();
    await reminders.check();
    await reminders.and(page.locator(':enabled')).waitFor();
    assert.ok(await reminders.isChecked());
    assert.ok(await summary.isEnabled());
    assert.equal((await apiCall(server, token, 'GET', '/api/v1/me/email')).streak_reminders, true);
    // Used once: the same link again is refused, in words.
    await page.goto(`/#/verify-email?token=${verifyToken}`);
    await page.getByRole('alert').getByText(/not valid any more/).waitFor();

    // Signed out: "Forgot password?" answers the same for any address.
    const v = visitor.page;
    await v.goto('/#/login');
    await v.getByRole('link', { name: 'Forgot password?' }).click();
    await v.getByRole('heading', { name: 'Reset your password' }).waitFor();
    await v.getByLabel('Email').fill('nobody-here@example.org');
    await v.getByRole('button', { name: 'Send me a reset link' }).click();
    const answer = v.getByRole('status').filter({ hasText: 'Check your inbox.' });
    await answer.waitFor();
    const unknownText = (await answer.innerText()).replace('nobody-here@example.org', '<address>');
    await checkA11y(v, 'forgot password: sent');
    await screenshotBoth(v, 'forgot-password-sent');
    await v.getByRole('button', { name: 'Use another address' }).click();
    await v.getByLabel('Email').fill(me.email);
    await v.getByRole('button', { name: 'Send me a reset link' }).click();
    await answer.waitFor();
    assert.equal((await answer.innerText()).replace(me.email, '<address>'), unknownText);

    // The reset mail's link sets a new password, which then signs in.
    const resetToken = await waitForMail(me.email, 'reset-password', 1);
    await v.goto(`/#/reset-password?token=${resetToken}`);
    await v.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    const fresh = `${me.password}-new`;
    await v.getByLabel('New password').fill(fresh);
    await v.getByLabel('The same password again').fill(fresh);
    await v.getByRole('button', { name: 'Set the new password' }).click();
    await v.getByRole('heading', { name: 'Password changed' }).waitFor();
    await v.getByRole('link', { name: 'Sign in' }).last().click();
    await v.getByLabel('Email').fill(me.email);
    await v.getByLabel('Password').fill(fresh);
    await v.getByRole('button', { name: 'Sign in' }).click();
    await v.getByRole('heading', { name: `Hi, ${me.display_name}!` }).waitFor();
  });
  await context.close();
  await visitor.context.close();
  done();
});
