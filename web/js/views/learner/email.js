// The pages mails link to, signed in or out: #/forgot-password (ask for a reset link),
// #/reset-password?token= (choose a new password), #/verify-email?token= (confirm the
// address), #/unsubscribe?token= (one-click opt-out of a mail list).

import { html, useEffect, useState, describeError, toast } from '../../ui.js';
import { auth, ApiError } from '../../api.js';
import { engagement } from '../../engagement.js';
import { Loading, FieldError } from './common.js';

const BASE = '/api/v1';

/** A call that needs no session: JSON in, JSON (or nothing) out; ApiError on failure. */
async function publicCall(method, path, body) {
  let res;
  try {
    res = await fetch(`${BASE}${path}`, {
      method,
      credentials: 'same-origin',
      headers: { Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ApiError({ status: 0, code: 'network_error' });
  }
  if (!res.ok) throw await ApiError.fromResponse(res);
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') || '';
  return type.includes('json') ? res.json() : null;
}

const BAD_LINK = 'This link is not valid any more: it has expired, was used already, or a newer one was sent.';

export function ForgotPassword() {
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [sent, setSent] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const value = email.trim();
    if (!value || !value.includes('@')) {
      setError('Enter the email address of your account.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await publicCall('POST', '/auth/password-reset', { email: value });
      setSent(value);
    } catch (err) {
      setError(err instanceof ApiError && err.fields.email ? err.fields.email : describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="page narrow auth-page">
    <h1 tabindex="-1">Reset your password</h1>
    ${sent
      ? html`<div class="card notice notice-success notice-stack" role="status">
          <p><strong>Check your inbox.</strong> If an account has the address ${sent}, a link to reset its
            password is on its way. It works once, for 30 minutes.</p>
          <p>No mail after a few minutes? Look in your spam folder, or ask again.</p>
          <div class="row">
            <a class="button button-secondary" href="#/login">Back to sign in</a>
            <button type="button" class="button button-ghost" onClick=${() => setSent(null)}>Use another address</button>
          </div>
        </div>`
      : html`<p class="lead">Enter your account's email and we will mail you a link to choose a new password.</p>
        <form class="card form" onSubmit=${submit} novalidate>
          <div class="field">
            <label for="forgot-email">Email</label>
            <input id="forgot-email" type="email" autocomplete="email" inputmode="email" required value=${email}
              aria-invalid=${error ? 'true' : undefined} aria-describedby=${error ? 'forgot-email-error' : undefined}
              onInput=${(e) => setEmail(e.currentTarget.value)} />
            ${error && html`<p class="field-error" id="forgot-email-error" role="alert">${error}</p>`}
          </div>
          <button class="button button-primary button-block" type="submit" disabled=${busy}>${busy ? 'Sending…' : 'Send me a reset link'}</button>
        </form>
        <p class="aside">Remembered it? <a href="#/login">Sign in</a></p>`}
  </section>`;
}

export function ResetPassword({ query }) {
  const token = query.token || '';
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState({});
  const [done, setDone] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    if (password.length < 8) {
      setErrors({ password: 'Use at least 8 characters.' });
      return;
    }
    if (password !== confirm) {
      setErrors({ confirm: 'The two passwords differ.' });
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      await publicCall('POST', '/auth/password-reset/confirm', { token, password });
      // Every session of the account is signed out by the server, this one too.
      if (auth.user) await auth.signOut().catch(() => undefined);
      setDone(true);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'invalid_link') setErrors({ form: BAD_LINK });
      else if (err instanceof ApiError && err.fields.password) setErrors({ password: err.fields.password });
      else setErrors({ form: describeError(err) });
    } finally {
      setBusy(false);
    }
  };
  if (!token) return html`<${BadLink} title="Reset your password" again="#/forgot-password" />`;
  if (done) {
    return html`<section class="page narrow auth-page">
      <h1 tabindex="-1">Password changed</h1>
      <div class="card notice notice-success notice-stack" role="status">
        <p>Your new password is set. For your safety, every device was signed out: sign in with the new password.</p>
        <a class="button button-primary" href="#/login">Sign in</a>
      </div>
    </section>`;
  }
  return html`<section class="page narrow auth-page">
    <h1 tabindex="-1">Choose a new password</h1>
    <form class="card form" onSubmit=${submit} novalidate>
      ${errors.form && html`<div class="notice notice-error" role="alert">
        <p>${errors.form}</p>
        <p><a href="#/forgot-password">Ask for a new link</a></p>
      </div>`}
      <div class="field">
        <label for="reset-password">New password</label>
        <input id="reset-password" type="password" autocomplete="new-password" required minlength="8" maxlength="128" value=${password}
          aria-invalid=${errors.password ? 'true' : undefined}
          aria-describedby=${errors.password ? 'reset-password-error reset-password-hint' : 'reset-password-hint'}
          onInput=${(e) => setPassword(e.currentTarget.value)} />
        <p class="hint" id="reset-password-hint">At least 8 characters; avoid common passwords.</p>
        <${FieldError} id="reset-password-error" message=${errors.password} />
      </div>
      <div class="field">
        <label for="reset-confirm">The same password again</label>
        <input id="reset-confirm" type="password" autocomplete="new-password" required value=${confirm}
          aria-invalid=${errors.confirm ? 'true' : undefined} aria-describedby=${errors.confirm ? 'reset-confirm-error' : undefined}
          onInput=${(e) => setConfirm(e.currentTarget.value)} />
        <${FieldError} id="reset-confirm-error" message=${errors.confirm} />
      </div>
      <button class="button button-primary button-block" type="submit" disabled=${busy}>${busy ? 'Saving…' : 'Set the new password'}</button>
    </form>
  </section>`;
}

function BadLink({ title, again, againLabel = 'Ask for a new link' }) {
  return html`<section class="page narrow auth-page">
    <h1 tabindex="-1">${title}</h1>
    <div class="card notice notice-error notice-stack" role="alert">
      <p>${BAD_LINK}</p>
      ${again && html`<a class="button button-secondary" href=${again}>${againLabel}</a>`}
    </div>
  </section>`;
}

/** Runs `call` once on mount; {status: 'working'|'done'|'failed', result, error}. */
function useOnce(call) {
  const [state, setState] = useState({ status: 'working', result: null, error: null });
  useEffect(() => {
    let live = true;
    call().then(
      (result) => live && setState({ status: 'done', result, error: null }),
      (error) => live && setState({ status: 'failed', result: null, error }),
    );
    return () => {
      live = false;
    };
  }, []);
  return state;
}

export function VerifyEmail({ query }) {
  const token = query.token || '';
  const state = useOnce(async () => {
    if (!token) throw new ApiError({ status: 400, code: 'invalid_link' });
    const prefs = await publicCall('POST', '/auth/verify-email', { token });
    if (auth.user && prefs && prefs.email === auth.user.email) engagement.setEmailVerified(true);
    return prefs;
  });
  const signedIn = !!auth.user;
  if (state.status === 'failed') {
    const bad = state.error instanceof ApiError && state.error.code === 'invalid_link';
    return html`<section class="page narrow auth-page">
      <h1 tabindex="-1">Confirm your email</h1>
      <div class="card notice notice-error notice-stack" role="alert">
        <p>${bad ? BAD_LINK : describeError(state.error)}</p>
        ${bad && html`<p>${signedIn ? 'Your profile can send a new link.' : 'Sign in and send a new link from your profile.'}</p>`}
        <a class="button button-secondary" href="#/profile">${signedIn ? 'Go to your profile' : 'Sign in'}</a>
      </div>
    </section>`;
  }
  return html`<section class="page narrow auth-page">
    <h1 tabindex="-1">Confirm your email</h1>
    ${state.status === 'working'
      ? html`<${Loading} label="Confirming your address…" />`
      : html`<div class="card notice notice-success notice-stack" role="status">
          <p><strong>Your email ${state.result && state.result.email ? state.result.email : ''} is verified.</strong>
            You can now turn on streak reminders and the weekly summary in your profile.</p>
          <a class="button button-primary" href=${signedIn ? '#/profile' : '#/login?next=%23%2Fprofile'}>${signedIn ? 'Go to your profile' : 'Sign in'}</a>
        </div>`}
  </section>`;
}

const LIST_WORDS = {
  streak_reminders: { name: 'streak reminders', what: '“Your streak is at risk” mails in the evening' },
  weekly_summary: { name: 'the weekly summary', what: 'the weekly summary of your XP, league and streak' },
};

export function Unsubscribe({ query }) {
  const token = query.token || '';
  const [state, setState] = useState({ status: token ? 'ask' : 'failed', result: null, error: null });
  // A link scanner that opens the page changes nothing: the learner confirms.
  const confirm = async () => {
    setState({ status: 'working', result: null, error: null });
    try {
      const result = await publicCall('POST', `/email/unsubscribe?token=${encodeURIComponent(token)}`);
      setState({ status: 'done', result, error: null });
    } catch (error) {
      setState({ status: 'failed', result: null, error });
      if (!(error instanceof ApiError && error.code === 'invalid_link')) toast(describeError(error), 'error');
    }
  };
  const words = state.result && LIST_WORDS[state.result.list];
  return html`<section class="page narrow auth-page">
    <h1 tabindex="-1">Unsubscribe</h1>
    ${(state.status === 'ask' || state.status === 'working') && html`<div class="card">
      <p>Stop getting this kind of mail from QuestPath? Mails you need, such as password resets, still come.</p>
      <button type="button" class="button button-primary" disabled=${state.status === 'working'} onClick=${confirm}>
        ${state.status === 'working' ? 'Unsubscribing…' : 'Unsubscribe'}
      </button>
    </div>`}
    ${state.status === 'done' && html`<div class="card notice notice-success notice-stack" role="status">
      <p><strong>You are unsubscribed${words ? ` from ${words.name}` : ''}.</strong> ${words ? `No more ${words.what}.` : ''}</p>
      <p>Changed your mind? Turn it back on in your profile's email settings.</p>
      <a class="button button-secondary" href="#/profile">Email settings</a>
    </div>`}
    ${state.status === 'failed' && html`<div class="card notice notice-error notice-stack" role="alert">
      <p>${!state.error || (state.error instanceof ApiError && state.error.code === 'invalid_link')
        ? 'This unsubscribe link is not valid. Turn mails off in your profile’s email settings instead.'
        : describeError(state.error)}</p>
      <a class="button button-secondary" href="#/profile">Email settings</a>
    </div>`}
  </section>`;
}

