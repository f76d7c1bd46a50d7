// Joining a game on a phone: one big field for the code (forgiving of case, spaces and
// dashes), then a name. `/join/:code` (the QR code's link) starts at the name.
import { api, ApiError } from '../../api.js';
import { html, navigate, useEffect, useRef, useState, useUser } from '../../ui.js';
import { roomMessage } from './messages.js';
import { PlayerSession, checkName, normalizeCode, savedGuest, sessionFor } from './session.js';

export function Join({ params }) {
  const user = useUser();
  const linked = params && params.code ? normalizeCode(params.code) : null;
  const [code, setCode] = useState(linked);
  const [codeError, setCodeError] = useState(
    params && params.code && !linked ? 'This link has no valid game code. Type the code from the screen.' : null,
  );


  if (!code) {
    return html`<${CodeStep}
      error=${codeError}
      onCode=${(c) => {
        setCodeError(null);
        setCode(c);
      }}
    />`;
  }
  return html`<${NameStep}
    code=${code}
    user=${user}
    onChangeCode=${(message) => {
      setCodeError(message || null);
      setCode(null);
    }}
  />`;
}

function CodeStep({ error, onCode }) {
  const [typed, setTyped] = useState('');
  const [problem, setProblem] = useState(error);
  const input = useRef(null);
  useEffect(() => setProblem(error), [error]);
  useEffect(() => input.current && input.current.focus(), []);

  const submit = (event) => {
    event.preventDefault();
    const code = normalizeCode(typed);
    if (!code) {
      setProblem(
        typed.trim()
          ? 'A game code is 6 letters and digits, like K7X Q2M. Check it on the screen.'
          : 'Type the game code shown on the screen.',
      );
      input.current && input.current.focus();
      return;
    }
    onCode(code);
  };

  return html`<div class="join">
    <form class="join-card" onSubmit=${submit} novalidate>
      <h1 class="join-title">Join a game</h1>
      <label class="join-label" for="join-code">Game code</label>
      <input
        ref=${input}
        id="join-code"
        class="join-code-input"
        name="code"
        type="text"
        inputmode="text"
        autocomplete="off"
        autocapitalize="characters"
        autocorrect=${false}
        spellcheck=${false}
        maxlength="16"
        placeholder="K7X Q2M"
        aria-invalid=${problem ? 'true' : 'false'}
        aria-describedby=${problem ? 'join-code-hint join-code-error' : 'join-code-hint'}
        value=${typed}
        onInput=${(e) => setTyped(e.currentTarget.value)}
      />
      <p id="join-code-hint" class="join-hint">The 6 characters on the host's screen.</p>
      ${problem ? html`<p id="join-code-error" class="join-error" role="alert">${problem}</p>` : null}
      <button type="submit" class="room-btn room-btn--primary room-btn--big">Next</button>
    </form>
  </div>`;
}

function NameStep({ code, user, onChangeCode }) {
  const live = sessionFor(code);
  const guestSeat = savedGuest(code);
  const already = live && ['joining', 'in'].includes(live.state.status) ? live : null;
  const [name, setName] = useState(user ? user.display_name || '' : '');
  const [problem, setProblem] = useState(null);
  const [nameWrong, setNameWrong] = useState(false);
  const [busy, setBusy] = useState(false);
  const [signIn, setSignIn] = useState(false);
  const input = useRef(null);

  useEffect(() => {
    if (user && !name) setName(user.display_name || '');
  }, [user]);
  useEffect(() => input.current && input.current.focus(), []);

  const join = async (event) => {
    event.preventDefault();
    if (busy) return;
    setProblem(null);
    setNameWrong(false);
    setSignIn(false);
    let chosen = null;
    if (!user || name.trim()) {
      const checked = checkName(name);
      if (checked.error) {
        setProblem(checked.error);
        setNameWrong(true);
        input.current && input.current.focus();
        return;
      }
      chosen = checked.name;
    }
    setBusy(true);
    try {
      if (user) {
        const session = PlayerSession.start(code, 'learner');
        try {
          await session.joinAsLearner(chosen);
        } catch (err) {
          session.dispose();
          throw err;
        }
      } else {
        const access = await api.post(`/rooms/${encodeURIComponent(code)}/guests`, { name: chosen });
        PlayerSession.start(code, 'guest').joinAsGuest(access);
      }
      navigate(`#/play/${code}`);
    } catch (err) {
      setBusy(false);
      if (err && (err.code === 'room_not_found' || (err instanceof ApiError && err.status === 404))) {
        onChangeCode(roomMessage({ code: 'room_not_found' }));
        return;
      }
      if (err && err.code === 'guests_not_allowed') setSignIn(true);
      if (err instanceof ApiError && err.fields && err.fields.name) {
        setProblem(err.fields.name);
        setNameWrong(true);
      } else if (err && err.code === 'invalid_name') {
        setProblem(roomMessage(err));
        setNameWrong(true);
      } else {
        setProblem(roomMessage(err));
      }
    }
  };

  if (already || guestSeat) {
    const seatName = already ? (already.state.you && already.state.you.name) || already.name : guestSeat.name;
    return html`<div class="join">
      <section class="join-card">
        <h1 class="join-title">You're in this game</h1>
        <p class="join-lead">Game <strong class="join-code-shown">${code}</strong>${seatName ? html`, as <strong>${seatName}</strong>` : null}.</p>
        <a class="room-btn room-btn--primary room-btn--big" href=${`#/play/${code}`}>Back to the game</a>
      </section>
    </div>`;
  }

  return html`<div class="join">
    <form class="join-card" onSubmit=${join} novalidate>
      <h1 class="join-title">Join a game</h1>
      <p class="join-lead">
        Game code <strong class="join-code-shown">${code}</strong>
        <button type="button" class="room-link-btn" onClick=${() => onChangeCode(null)}>Change code</button>
      </p>
      <label class="join-label" for="join-name">${user ? 'Your name in this game' : 'Your name'}</label>
      <input
        ref=${input}
        id="join-name"
        class="join-name-input"
        name="name"
        type="text"
        autocomplete="nickname"
        maxlength="24"
        required=${!user}
        aria-invalid=${nameWrong ? 'true' : 'false'}
        aria-describedby=${problem ? 'join-name-hint join-name-error' : 'join-name-hint'}
        value=${name}
        onInput=${(e) => setName(e.currentTarget.value)}
      />
      <p id="join-name-hint" class="join-hint">
        ${user
          ? 'Signed in: you earn XP for this game.'
          : html`Shown to everyone, 1 to 24 characters. No account needed.`}
      </p>
      ${problem
        ? html`<p id="join-name-error" class="join-error" role="alert">
            ${problem}
            ${signIn ? html` <a href=${signInHref(code)}>Sign in</a>` : null}
          </p>`
        : null}
      <button type="submit" class="room-btn room-btn--primary room-btn--big" disabled=${busy} aria-busy=${busy ? 'true' : 'false'}>
        ${busy ? 'Joining…' : 'Join'}
      </button>
      ${user ? null : html`<p class="join-hint join-alt">Have an account? <a href=${signInHref(code)}>Sign in</a> to earn XP.</p>`}
    </form>
  </div>`;
}

/** The sign-in page, coming back to this game's name step afterwards. */
function signInHref(code) {
  return `#/login?next=${encodeURIComponent(`#/join/${code}`)}`;
}
