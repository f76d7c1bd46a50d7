// Sign in and sign up with email and password, and with Google when the server has it
// configured (see google.js).

import { html, useState, navigate, describeError } from '../../ui.js';
import { auth, ApiError } from '../../api.js';
import { FieldError, safeNextHash } from './common.js';
import { GoogleButton } from './google.js';

function useForm(initial) {
  const [values, setValues] = useState(initial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const bind = (name) => ({
    value: values[name],
    onInput: (e) => setValues((v) => ({ ...v, [name]: e.currentTarget.value })),
  });
  return { values, bind, busy, setBusy, error, setError };
}

function fieldProps(form, name) {
  const message = form.error instanceof ApiError ? form.error.fields[name] : null;
  return {
    'aria-invalid': message ? 'true' : undefined,
    'aria-describedby': message ? `${name}-error` : undefined,
    message,
  };
}

function FormError({ error }) {
  if (!error) return null;
  const hasFields = error instanceof ApiError && Object.keys(error.fields).length > 0;
  return html`<div class="notice notice-error" role="alert">
    <p>${hasFields ? 'Please check the highlighted fields.' : describeError(error)}</p>
  </div>`;
}

export function Login({ query }) {
  const form = useForm({ email: '', password: '' });
  const submit = async (e) => {
    e.preventDefault();
    form.setBusy(true);
    form.setError(null);
    try {
      await auth.signIn(form.values.email.trim(), form.values.password);
      navigate(safeNextHash(query.next));
    } catch (err) {
      form.setError(err);
      form.setBusy(false);
    }
  };
  const email = fieldProps(form, 'email');
  const password = fieldProps(form, 'password');
  return html`<section class="page narrow auth-page">
    <h1 tabindex="-1">Sign in</h1>
    <p class="lead">Welcome back! Pick up your path where you left it.</p>
    <form class="card form" onSubmit=${submit} novalidate>
      <${FormError} error=${form.error} />
      <div class="field">
        <label for="login-email">Email</label>
        <input id="login-email" type="email" autocomplete="email" required inputmode="email"
          ...${form.bind('email')} aria-invalid=${email['aria-invalid']} aria-describedby=${email['aria-describedby']} />
        <${FieldError} id="email-error" message=${email.message} />
      </div>
      <div class="field">
        <label for="login-password">Password</label>
        <input id="login-password" type="password" autocomplete="current-password" required
          ...${form.bind('password')} aria-invalid=${password['aria-invalid']} aria-describedby=${password['aria-describedby']} />
        <${FieldError} id="password-error" message=${password.message} />
        <p class="hint"><a href="#/forgot-password">Forgot password?</a></p>
      </div>
      <button class="button button-primary button-block" type="submit" disabled=${form.busy}>
        ${form.busy ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
    <${GoogleButton} onSignedIn=${() => navigate(safeNextHash(query.next))} />
    <p class="aside">New here? <a href=${`#/signup${query.next ? `?next=${encodeURIComponent(query.next)}` : ''}`}>Create an account</a></p>
    <p class="aside">Playing a live game? <a href="#/join">Join with a code</a> — no account needed.</p>
  </section>`;
}

export function Signup({ query }) {
  const form = useForm({ display_name: '', email: '', password: '' });
  const submit = async (e) => {
    e.preventDefault();
    form.setBusy(true);
    form.setError(null);
    try {
      await auth.signUp({
        email: form.values.email.trim(),
        password: form.values.password,
        display_name: form.values.display_name,
      });
      navigate(safeNextHash(query.next));
    } catch (err) {
      form.setError(err);
      form.setBusy(false);
    }
  };
  const name = fieldProps(form, 'display_name');
  const email = fieldProps(form, 'email');
  const password = fieldProps(form, 'password');
  return html`<section class="page narrow auth-page">
    <h1 tabindex="-1">Create your account</h1>
    <p class="lead">Set a goal, follow your roadmap level by level and earn XP.</p>
    <form class="card form" onSubmit=${submit} novalidate>
      <${FormError} error=${form.error} />
      <div class="field">
        <label for="signup-name">Display name <span class="optional">(optional)</span></label>
        <input id="signup-name" type="text" autocomplete="nickname" maxlength="50"
          ...${form.bind('display_name')} aria-invalid=${name['aria-invalid']} aria-describedby=${name['aria-describedby'] || 'signup-name-hint'} />
        <p class="hint" id="signup-name-hint">Shown on leaderboards instead of your email.</p>
        <${FieldError} id="display_name-error" message=${name.message} />
      </div>
      <div class="field">
        <label for="signup-email">Email</label>
        <input id="signup-email" type="email" autocomplete="email" required inputmode="email"
          ...${form.bind('email')} aria-invalid=${email['aria-invalid']} aria-describedby=${email['aria-describedby']} />
        <${FieldError} id="email-error" message=${email.message} />
      </div>
      <div class="field">
        <label for="signup-password">Password</label>
        <input id="signup-password" type="password" autocomplete="new-password" required minlength="8" maxlength="128"
          ...${form.bind('password')} aria-invalid=${password['aria-invalid']}
          aria-describedby=${password['aria-describedby'] ? `${password['aria-describedby']} signup-password-hint` : 'signup-password-hint'} />
        <p class="hint" id="signup-password-hint">At least 8 characters; avoid common passwords.</p>
        <${FieldError} id="password-error" message=${password.message} />
      </div>
      <button class="button button-primary button-block" type="submit" disabled=${form.busy}>
        ${form.busy ? 'Creating account…' : 'Create account'}
      </button>
    </form>
    <${GoogleButton} onSignedIn=${() => navigate(safeNextHash(query.next))} />
    <p class="aside">Already have an account? <a href=${`#/login${query.next ? `?next=${encodeURIComponent(query.next)}` : ''}`}>Sign in</a></p>
  </section>`;
}
