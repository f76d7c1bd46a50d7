// Profile: display name, XP, level and progress; sign out here or everywhere; download
// everything held about you, or delete the account.

import { html, useEffect, useMemo, useState, useUser, useEngagement, navigate, toast, describeError } from '../../ui.js';
import { api, auth, ApiError, browserTimeZone } from '../../api.js';
import { engagement, DAILY_GOALS } from '../../engagement.js';
import { useAsync, ErrorBox, XpBar, ProgressBar, formatDate, fmt } from './common.js';
import { download } from '../host/download.js';

export function Profile() {
  const user = useUser();
  const stats = useAsync(() => api.get('/me/stats'), [user.total_xp]);
  return html`<section class="page narrow profile-page">
    <h1 tabindex="-1">Your profile</h1>
    <section class="card" aria-labelledby="progress-heading">
      <h2 id="progress-heading">Progress</h2>
      <${XpBar} totalXp=${user.total_xp} level=${user.level} />
      ${stats.error && html`<${ErrorBox} error=${stats.error} retry=${stats.reload} />`}
      <dl class="stats">
        <div><dt>Total XP</dt><dd>${fmt(user.total_xp)}</dd></div>
        <div><dt>Level</dt><dd>${user.level}</dd></div>
        <div><dt>Levels passed</dt><dd>${stats.data ? `${stats.data.levels_completed} / ${stats.data.total_levels}` : '–'}</dd></div>
      </dl>
      ${stats.data && html`<p class="hint">${stats.data.completion_percent}% of all your roadmaps' levels passed.</p>
        <${ProgressBar} value=${stats.data.completion_percent} max=${100} label="All roadmaps completed" />`}
    </section>
    <${NameForm} user=${user} />
    <${DaySettings} />
    <${EmailSettings} user=${user} />
    <section class="card" aria-labelledby="account-heading">
      <h2 id="account-heading">Account</h2>
      <dl class="facts">
        <div><dt>Email</dt><dd>${user.email}</dd></div>
        <div><dt>Member since</dt><dd>${formatDate(user.created_at)}</dd></div>
      </dl>
      <${SignOut} />
    </section>
    <${YourData} />
  </section>`;
}

/** Why a deletion was refused, in the learner's terms. */
function deletionRefusal(err) {
  switch (err instanceof ApiError ? err.code : null) {
    case 'invalid_password':
      return 'That is not your current password.';
    case 'password_required':
      return 'Enter your current password to confirm.';
    case 'fresh_sign_in_required':
      return 'To confirm it is you, sign out, sign in again with Google, and delete within 5 minutes.';
    default:
      return describeError(err);
  }
}

function YourData() {
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const exportData = async () => {
    setBusy(true);
    try {
      const name = await download('/me/export', 'questpath-export.json');
      toast(`Your data is saved as ${name}.`, 'success');
    } catch (err) {
      toast(describeError(err), 'error');
    } finally {
      setBusy(false);
    }
  };
  const remove = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await auth.deleteAccount(password);
      toast('Your account is deleted.', 'success');
      navigate('#/login');
    } catch (err) {
      setError(deletionRefusal(err));
      setBusy(false);
    }
  };
  const cancel = () => {
    setConfirming(false);
    setPassword('');
    setError(null);
  };
  return html`<section class="card" aria-labelledby="data-heading">
    <h2 id="data-heading">Your data</h2>
    <p>Download everything QuestPath holds about you: your profile, goals and progress, your
      XP history, your ranks and the rooms you played.</p>
    <div class="stack">
    <div class="row">
      <button type="button" class="button button-secondary" disabled=${busy} onClick=${exportData}>Download my data</button>
      ${!confirming && html`<button type="button" class="button button-ghost" disabled=${busy}
        onClick=${() => setConfirming(true)}>Delete my account…</button>`}
    </div>
    ${confirming && html`<form class="notice form" onSubmit=${remove} novalidate aria-labelledby="delete-heading">
      <h3 id="delete-heading">Delete your account?</h3>
      <p>Your profile, goals, progress and sessions are removed and you leave every
        leaderboard; in rooms you played your place stays, as “deleted player”. This cannot be undone.</p>
      <div class="field">
        <label for="delete-password">Your current password</label>
        <input id="delete-password" type="password" autocomplete="current-password" value=${password}
          aria-invalid=${error ? 'true' : undefined}
          aria-describedby=${error ? 'delete-error delete-hint' : 'delete-hint'}
          onInput=${(e) => setPassword(e.currentTarget.value)} />
        <p class="hint" id="delete-hint">Signed up with Google? Leave it empty: a sign-in in the last 5 minutes is enough.</p>
        ${error && html`<p class="field-error" id="delete-error" role="alert">${error}</p>`}
      </div>
      <div class="row">
        <button type="submit" class="button button-danger" disabled=${busy}>${busy ? 'Deleting…' : 'Delete my account for good'}</button>
        <button type="button" class="button button-ghost" onClick=${cancel}>Cancel</button>
      </div>
    </form>`}
    </div>
  </section>`;
}

function NameForm({ user }) {
  const [name, setName] = useState(user.display_name || '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const trimmed = name.trim();
  const unchanged = trimmed === (user.display_name || '');
  const submit = async (e) => {
    e.preventDefault();
    if (!trimmed) {
      setError('Enter a name of 1 to 50 characters.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const me = await api.patch('/me', { display_name: trimmed });
      auth.update(me);
      setName(me.display_name || '');
      toast('Display name saved.', 'success');
    } catch (err) {
      setError(err instanceof ApiError && err.fields.display_name ? err.fields.display_name : describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card" aria-labelledby="name-heading">
    <h2 id="name-heading">Display name</h2>
    <form class="form" onSubmit=${submit} novalidate>
      <div class="field">
        <label for="profile-name">Name shown on leaderboards and in games</label>
        <input id="profile-name" type="text" maxlength="50" autocomplete="nickname" value=${name}
          aria-invalid=${error ? 'true' : undefined} aria-describedby=${error ? 'profile-name-error' : undefined}
          onInput=${(e) => setName(e.currentTarget.value)} />
        ${error && html`<p class="field-error" id="profile-name-error" role="alert">${error}</p>`}
      </div>
      <button class="button button-primary" type="submit" disabled=${busy || unchanged}>${busy ? 'Saving…' : 'Save name'}</button>
    </form>
  </section>`;
}

function SignOut() {
  const [confirmAll, setConfirmAll] = useState(false);
  const [busy, setBusy] = useState(false);
  const run = async (fn, message) => {
    setBusy(true);
    try {
      await fn();
      toast(message, 'success');
      navigate('#/login');
    } catch (err) {
      toast(describeError(err), 'error');
      setBusy(false);
    }
  };
  return html`<div class="stack">
    <div class="row">
      <button type="button" class="button button-secondary" disabled=${busy}
        onClick=${() => run(() => auth.signOut(), 'You are signed out.')}>Sign out</button>
      ${!confirmAll && html`<button type="button" class="button button-ghost" disabled=${busy}
        onClick=${() => setConfirmAll(true)}>Sign out everywhere…</button>`}
    </div>
    ${confirmAll && html`<div class="notice">
      <p>Sign out on every device and browser where you are signed in, this one included?</p>
      <div class="row">
        <button type="button" class="button button-danger" disabled=${busy}
          onClick=${() => run(() => auth.signOutEverywhere(), 'You are signed out on every device.')}>Sign out everywhere</button>
        <button type="button" class="button button-ghost" onClick=${() => setConfirmAll(false)}>Cancel</button>
      </div>
    </div>`}
  </div>`;
}

function zoneList(current) {
  let zones = [];
  try {
    zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  } catch {
    zones = [];
  }
  const set = new Set(zones);
  for (const extra of ['UTC', current, browserTimeZone()]) if (extra && !set.has(extra)) set.add(extra);
  return [...set].sort((a, b) => (a === 'UTC' ? -1 : b === 'UTC' ? 1 : a.localeCompare(b)));
}

/** The learner's day: time zone and daily XP goal (PATCH /me). */
function DaySettings() {
  const e = useEngagement();
  const [zone, setZone] = useState(e.time_zone || '');
  const [goal, setGoal] = useState(e.daily_goal || 20);
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState({});
  // The values arrive after the first render (engagement.js loads /me).
  useEffect(() => {
    if (e.loaded) {
      setZone(e.time_zone);
      setGoal(e.daily_goal);
    }
  }, [e.loaded, e.time_zone, e.daily_goal]);
  const zones = useMemo(() => zoneList(e.time_zone), [e.time_zone]);
  const unchanged = zone === e.time_zone && goal === e.daily_goal;
  const device = browserTimeZone();
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setErrors({});
    const patch = {};
    if (zone !== e.time_zone) patch.time_zone = zone;
    if (goal !== e.daily_goal) patch.daily_goal = goal;
    try {
      const me = await api.patch('/me', patch);
      engagement.applyMe(me);
      toast('Your day settings are saved.', 'success');
    } catch (err) {
      if (err instanceof ApiError && (err.fields.time_zone || err.fields.daily_goal)) setErrors(err.fields);
      else toast(describeError(err), 'error');
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card" aria-labelledby="day-heading">
    <h2 id="day-heading">Daily goal and time zone</h2>
    ${!e.loaded
      ? html`<p class="loading"><span class="spinner" aria-hidden="true"></span>Loading your settings…</p>`
      : html`<form class="form" onSubmit=${submit} novalidate>
      <fieldset class="goal-choices" aria-describedby=${errors.daily_goal ? 'goal-choice-error goal-choice-hint' : 'goal-choice-hint'}>
        <legend>Daily goal</legend>
        <div class="goal-options">
          ${DAILY_GOALS.map((g) => html`<label class="goal-option" key=${g.xp}>
            <input type="radio" name="daily-goal" value=${g.xp} checked=${goal === g.xp}
              onChange=${() => setGoal(g.xp)} />
            <span><strong>${g.xp} XP</strong> ${g.label}</span>
          </label>`)}
        </div>
        <p class="hint" id="goal-choice-hint">A day counts for your streak once you earn this much XP in it.</p>
        ${errors.daily_goal && html`<p class="field-error" id="goal-choice-error" role="alert">${errors.daily_goal}</p>`}
      </fieldset>
      <div class="field">
        <label for="profile-zone">Time zone</label>
        <select id="profile-zone" value=${zone} onChange=${(ev) => setZone(ev.currentTarget.value)}
          aria-invalid=${errors.time_zone ? 'true' : undefined}
          aria-describedby=${errors.time_zone ? 'profile-zone-error profile-zone-hint' : 'profile-zone-hint'}>
          ${zones.map((z) => html`<option key=${z} value=${z} selected=${z === zone}>${z.replace(/_/g, ' ')}</option>`)}
        </select>
        <p class="hint" id="profile-zone-hint">Your day starts at midnight here.
          ${device && device !== zone && html` This device is in ${device.replace(/_/g, ' ')}.${' '}
            <button type="button" class="link-button" onClick=${() => setZone(device)}>Use it</button>`}</p>
        ${errors.time_zone && html`<p class="field-error" id="profile-zone-error" role="alert">${errors.time_zone}</p>`}
      </div>
      <button class="button button-primary" type="submit" disabled=${busy || unchanged}>${busy ? 'Saving…' : 'Save day settings'}</button>
    </form>`}
  </section>`;
}

/** The address's verified state (with a resend) and the two opt-in mails. */
function EmailSettings({ user }) {
  const e = useEngagement();
  const prefs = useAsync(() => api.get('/me/email'), [e.email_verified]);
  const [sending, setSending] = useState(false);
  const [saving, setSaving] = useState(null);
  const verified = prefs.data ? prefs.data.email_verified : e.email_verified;
  useEffect(() => {
    if (prefs.data && prefs.data.email_verified !== e.email_verified) engagement.setEmailVerified(prefs.data.email_verified);
  }, [prefs.data]);
  const resend = async () => {
    setSending(true);
    try {
      await api.post('/me/email/verification');
      toast(`A verification mail is on its way to ${user.email}.`, 'success');
    } catch (err) {
      if (err instanceof ApiError && err.code === 'already_verified') {
        engagement.setEmailVerified(true);
        toast('Your email is verified already.', 'info');
      } else {
        toast(describeError(err), 'error');
      }
    } finally {
      setSending(false);
    }
  };
  const toggle = async (field, value) => {
    setSaving(field);
    // Shown at once (a controlled box would flip back while the answer is on its way).
    const before = prefs.data;
    prefs.setData((d) => ({ ...d, [field]: value }));
    try {
      const next = await api.patch('/me/email', { [field]: value });
      prefs.setData(next);
    } catch (err) {
      prefs.setData(before);
      toast(describeError(err), 'error');
    } finally {
      setSaving(null);
    }
  };
  const p = prefs.data;
  const off = !verified || !p;
  return html`<section class="card" aria-labelledby="email-heading">
    <h2 id="email-heading">Email</h2>
    <p class="email-state">
      <span>${user.email}</span>
      ${verified
        ? html`<span class="badge badge-completed">Verified</span>`
        : html`<span class="badge badge-unverified">Not verified</span>`}
    </p>
    ${!verified && html`<div class="notice">
      <p>We sent you a link to confirm this address. Open it to turn on the mails below and to keep
        a way back into your account.</p>
      <button type="button" class="button button-secondary" disabled=${sending} onClick=${resend}>
        ${sending ? 'Sending…' : 'Send the link again'}
      </button>
    </div>`}
    ${prefs.error && html`<${ErrorBox} error=${prefs.error} retry=${prefs.reload} />`}
    <fieldset class="email-prefs" aria-describedby="email-prefs-hint">
      <legend>Mails you can choose</legend>
      <label class="check">
        <input type="checkbox" checked=${!!(p && p.streak_reminders)} disabled=${off || saving === 'streak_reminders'}
          onChange=${(ev) => toggle('streak_reminders', ev.currentTarget.checked)} />
        <span>Streak reminders<span class="hint-inline"> (an evening mail when your streak is at risk)</span></span>
      </label>
      <label class="check">
        <input type="checkbox" checked=${!!(p && p.weekly_summary)} disabled=${off || saving === 'weekly_summary'}
          onChange=${(ev) => toggle('weekly_summary', ev.currentTarget.checked)} />
        <span>Weekly summary<span class="hint-inline"> (your XP, league and streak each Monday)</span></span>
      </label>
      <p class="hint" id="email-prefs-hint">${verified
        ? 'Every mail has a one-click unsubscribe link.'
        : 'Verify your email to turn these on.'}</p>
    </fieldset>
  </section>`;
}
