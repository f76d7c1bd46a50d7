// "Sign in with Google", shown only when the server says Google sign-in is configured
// (GET /api/v1/auth/providers). Google Identity Services' script is loaded on demand
// from accounts.google.com, which the server's CSP allows only in that case; a server
// on a LAN without Google never loads anything from elsewhere.

import { html, useEffect, useRef, useState, describeError } from '../../ui.js';
import { api, auth } from '../../api.js';

const GSI_SRC = 'https://accounts.google.com/gsi/client';
let providersPromise = null;
let gsiPromise = null;

/** The server's sign-in methods, asked once per page load. */
function providers() {
  providersPromise ??= api.get('/auth/providers').catch(() => ({ password: true, google: null }));
  return providersPromise;
}

function loadGsi() {
  gsiPromise ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = GSI_SRC;
    script.async = true;
    script.onload = () => (window.google?.accounts?.id ? resolve(window.google.accounts.id) : reject(new Error('Google sign-in did not load')));
    script.onerror = () => reject(new Error('Google sign-in could not be reached'));
    document.head.append(script);
  });
  return gsiPromise;
}

/** Google's button, or nothing; `onSignedIn` runs after a successful sign-in. */
export function GoogleButton({ onSignedIn }) {
  const [clientId, setClientId] = useState(null);
  const [error, setError] = useState(null);
  const slot = useRef(null);

  useEffect(() => {
    let live = true;
    providers().then((p) => live && setClientId(p.google?.client_id ?? null));
    return () => { live = false; };
  }, []);

  useEffect(() => {
    if (!clientId || !slot.current) return undefined;
    let live = true;
    loadGsi()
      .then((gsi) => {
        if (!live) return;
        gsi.initialize({
          client_id: clientId,
          callback: async ({ credential }) => {
            try {
              await auth.signInWithGoogle(credential);
              onSignedIn();
            } catch (err) {
              setError(err);
            }
          },
        });
        gsi.renderButton(slot.current, { theme: 'outline', size: 'large', text: 'continue_with', width: 280 });
      })
      .catch((err) => live && setError(err));
    return () => { live = false; };
  }, [clientId]);

  if (!clientId) return null;
  return html`<div class="google-signin">
    <p class="aside">or</p>
    <div ref=${slot}></div>
    ${error && html`<p class="notice notice-error" role="alert">${describeError(error)}</p>`}
  </div>`;
}
