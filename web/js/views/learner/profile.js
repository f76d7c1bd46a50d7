// Profile: display name, XP, level and progress; sign out here or everywhere; download
// everything held about you, or delete the account.

import { html, useState, useUser, navigate, toast, describeError } from '../../ui.js';
import { api, auth, ApiError } from '../../api.js';
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
