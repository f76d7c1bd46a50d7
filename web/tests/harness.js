// Shared harness of the browser tests: a QuestPath server of our own (a free loopback
// port, a fresh data folder, the embedded store), Debian's Chromium driven by
// playwright-core, a page watcher that fails a test on console errors, uncaught
// exceptions, CSP violations and broken assets, an axe-core scan and screenshots.
//
// Settings (environment):
//   QUESTPATH_BIN         server binary (default <target>/debug/questpath)
//   CARGO_TARGET_DIR      like cargo: where target/ is (default <repo>/target)
//   CHROMIUM_PATH         browser (default /usr/bin/chromium)
//   QUESTPATH_TEST_REDIS_URL  Redis for the tests that need state to survive a restart
//   BROWSER_TESTS_KEEP=1  keep each server's data folder and log
//   BROWSER_TESTS_HEADED=1 show the browser (needs a display)

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
export const TARGET_DIR = process.env.CARGO_TARGET_DIR
  ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR)
  : path.join(ROOT, 'target');
export const SERVER_BIN = process.env.QUESTPATH_BIN || path.join(TARGET_DIR, 'debug', 'questpath');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.join(TARGET_DIR, 'browser-screenshots');

/** Upper bound of any one expectation: generous for a debug server on 2 busy cores. */
export const WAIT_MS = 15_000;

// ---------------------------------------------------------------------------------------
// The server

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts target/debug/questpath on a free loopback port with a fresh data folder.
 * `env` adds or overrides settings (e.g. QUESTPATH_QUIZ_QUESTION_SECS).
 * Returns { baseURL, port, dataDir, env, restart(), stop(), logTail() }.
 */
export async function startServer({ name = 'server', env = {} } = {}) {
  if (!fs.existsSync(SERVER_BIN)) {
    throw new Error(`server binary ${SERVER_BIN} is missing: run cargo build --bin questpath`);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `questpath-browser-${name}-`));
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  // Every setting is given here and the server runs from `work`, so no .env of the
  // checkout is read. The limits are raised: one browser plays several users from
  // one address, faster than people do.
  const fullEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? work,
    QUESTPATH_ENV: 'development',
    QUESTPATH_BIND: `127.0.0.1:${port}`,
    QUESTPATH_DATA_DIR: path.join(work, 'data'),
    QUESTPATH_WORKERS: '2',
    QUESTPATH_SHUTDOWN_TIMEOUT_SECS: '2',
    QUESTPATH_LOG: 'warn',
    QUESTPATH_LOG_FORMAT: 'json',
    QUESTPATH_SCYLLA_NODES: '',
    QUESTPATH_REDIS_URL: '',
    QUESTPATH_LLM_BASE_URL: '',
    QUESTPATH_METRICS_TOKEN: '',
    QUESTPATH_GOOGLE_CLIENT_ID: '',
    QUESTPATH_RATE_LIMIT_READS: '1000000',
    QUESTPATH_RATE_LIMIT_WRITES: '1000000',
    QUESTPATH_RATE_LIMIT_ANONYMOUS: '1000000',
    QUESTPATH_RATE_LIMIT_LOGIN: '1000000',
    QUESTPATH_RATE_LIMIT_REGISTER: '1000000',
    ...env,
  };
  const logPath = path.join(work, 'server.log');
  const server = {
    name,
    baseURL,
    port,
    work,
    dataDir: fullEnv.QUESTPATH_DATA_DIR,
    env: fullEnv,
    child: null,
    logPath,
    async start() {
      const log = fs.openSync(logPath, 'a');
      const child = spawn(SERVER_BIN, ['serve'], {
        cwd: work,
        env: fullEnv,
        stdio: ['ignore', log, log],
      });
      fs.closeSync(log);
      this.child = child;
      this.stopping = false;
      child.exited = once(child, 'exit');
      child.on('exit', (code, signal) => {
        if (!this.stopping) this.crashed = `exited by itself (${code ?? signal})`;
      });
      await waitHealthy(this);
    },
    /** SIGTERM and wait (SIGKILL after 10 s). */
    async stop() {
      const child = this.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      this.stopping = true;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await child.exited;
      clearTimeout(killer);
    },
    /** Stops the server and starts it again on the same port and data folder. */
    async restart() {
      await this.stop();
      await this.start();
    },
    logTail(lines = 40) {
      try {
        return fs.readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '(no server log)';
      }
    },
    /** Stops the server; removes its folder unless BROWSER_TESTS_KEEP=1. */
    async dispose() {
      servers.delete(this);
      await this.stop();
      if (process.env.BROWSER_TESTS_KEEP === '1') {
        console.log(`# kept ${work}`);
      } else {
        fs.rmSync(work, { recursive: true, force: true });
      }
    },
  };
  await server.start();
  servers.add(server);
  return server;
}

/** Every server of this process, for the failure report. */
const servers = new Set();

async function waitHealthy(server, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(
        `the server exited during start-up (${server.child.exitCode ?? server.child.signalCode}); ` +
          `its log:\n${server.logTail()}`,
      );
    }
    try {
      const res = await fetch(`${server.baseURL}/health`);
      if (res.ok) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = String(err.cause?.code ?? err.message);
    }
    await sleep(100);
  }
  throw new Error(`the server does not serve /health after ${timeoutMs} ms (${last}); its log:\n${server.logTail()}`);
}

/** Settings that make the server keep quiz sessions in Redis (they survive a restart). */
export function redisEnv(tag) {
  const url = process.env.QUESTPATH_TEST_REDIS_URL;
  if (!url) {
    throw new Error(
      'QUESTPATH_TEST_REDIS_URL is not set: this test needs Redis (scripts/checks.d/browser.sh starts one)',
    );
  }
  const prefix = `qp-browser-${tag}-${process.pid}-${Date.now().toString(36)}:`;
  return { QUESTPATH_REDIS_URL: url, QUESTPATH_REDIS_PREFIX: prefix };
}

// ---------------------------------------------------------------------------------------
// API helpers (set-up that is not what a test is about)

let counter = 0;
/** A fresh learner's credentials, unique per run. */
export function newLearner(label = 'learner') {
  counter += 1;
  const tag = `${Date.now().toString(36)}${process.pid.toString(36)}${counter}`;
  return {
    email: `${label}-${tag}@example.org`,
    password: `Quest-${tag}-pass!`,
    display_name: `${label[0].toUpperCase()}${label.slice(1)} ${counter}`,
  };
}

/** Registers a learner over the API; returns the token response. */
export async function registerApi(server, learner) {
  const res = await fetch(`${server.baseURL}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(learner),
  });
  if (!res.ok) throw new Error(`register ${learner.email}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** A JSON call as the learner holding `token`; throws on a non-2xx answer. */
export async function apiCall(server, token, method, path, body) {
  const res = await fetch(`${server.baseURL}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Creates a goal over the API and waits for its roadmap; returns the goal. */
export async function createGoalApi(server, token, description) {
  const { job } = await apiCall(server, token, 'POST', '/api/v1/goals', { description });
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const now = await apiCall(server, token, 'GET', `/api/v1/jobs/${job.id}`);
    if (now.status === 'done') return apiCall(server, token, 'GET', `/api/v1/goals/${now.goal_id}`);
    if (now.status === 'failed' || Date.now() > deadline) throw new Error(`roadmap job ${job.id}: ${JSON.stringify(now)}`);
    await sleep(100);
  }
}

/**
 * Passes the first `levels` levels of `goal` for the learner holding `token`, through
 * the legacy quiz routes (the server grants the same XP as for a socket quiz). For
 * set-up only: a rival on the leaderboard.
 */
export async function passLevelsApi(server, token, goal, levels) {
  const ordered = goal.roadmap.levels.slice().sort((a, b) => a.order - b.order).slice(0, levels);
  for (const { id } of ordered) {
    const level = await apiCall(server, token, 'GET', `/api/v1/levels/${id}`);
    for (const t of level.topics) {
      await apiCall(server, token, 'PUT', `/api/v1/levels/${id}/topics/${t.index}`, { completed: true });
    }
    await apiCall(server, token, 'GET', `/levels/${id}/quiz`);
    await apiCall(server, token, 'POST', `/levels/${id}/quiz/submit`, { score: 100, passed: true, time_taken: 60 });
  }
}

// ---------------------------------------------------------------------------------------
// The browser

export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/checks.d/browser.sh does)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: process.env.BROWSER_TESTS_HEADED !== '1',
    // A shared-memory-poor container must not crash the renderer.
    args: ['--disable-dev-shm-usage', '--disable-gpu'],
  });
}

export const PHONE = { width: 360, height: 740 };
export const DESKTOP = { width: 1280, height: 800 };

/**
 * A new context (its own cookies: one person) at `viewport` (in `timezoneId`, UTC unless
 * told), with every page in it watched. Returns { context, page, errors, check() }.
 */
export async function newPerson(browser, server, { viewport = DESKTOP, label = 'page', reducedMotion = 'reduce', timezoneId = 'UTC' } = {}) {
  const context = await browser.newContext({
    baseURL: server.baseURL,
    viewport,
    deviceScaleFactor: 1,
    isMobile: viewport.width < 500,
    hasTouch: viewport.width < 500,
    reducedMotion,
    acceptDownloads: true,
    locale: 'en-US',
    timezoneId,
  });
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  const watcher = new Watcher(label);
  await watcher.attachContext(context);
  const page = await context.newPage();
  return { context, page, watcher };
}

/** Collects what must never happen on a page of the app. */
export class Watcher {
  constructor(label) {
    this.label = label;
    this.problems = [];
    /** Substrings of console errors a test expects (e.g. a 401 from a signed-out refresh). */
    this.allowed = [];
    this.pages = [];
  }

  async attachContext(context) {
    // A CSP violation is reported by the page itself; the binding survives navigations.
    await context.exposeBinding('__qpCspViolation', ({ page }, v) => {
      this.problems.push(`[${this.label}] CSP violation on ${page.url()}: ${v}`);
    });
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__qpCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
      });
    });
    context.on('page', (p) => this.attachPage(p));
  }

  attachPage(page) {
    this.pages.push(page);
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const text = msg.text();
      // Chromium logs every HTTP error response as a console error. API answers such as
      // a signed-out refresh (401) are part of normal flows; broken assets and 5xx are
      // caught by the response hook below instead.
      if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return;
      if (this.allowed.some((a) => text.includes(a))) return;
      this.problems.push(`[${this.label}] console error on ${page.url()}: ${text}`);
    });
    page.on('pageerror', (err) => {
      this.problems.push(`[${this.label}] uncaught exception on ${page.url()}: ${err.stack || err.message}`);
    });
    page.on('response', (res) => {
      const url = new URL(res.url());
      const status = res.status();
      if (status >= 500) {
        this.problems.push(`[${this.label}] ${res.request().method()} ${url.pathname} answered ${status}`);
      } else if (status >= 400 && !url.pathname.startsWith('/api/')) {
        this.problems.push(`[${this.label}] asset ${url.pathname} answered ${status}`);
      }
    });
  }

  /** Throws when anything went wrong on a watched page so far. */
  check() {
    if (this.problems.length) {
      const list = this.problems.splice(0);
      throw new Error(`problems on the page:\n  ${list.join('\n  ')}`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Accessibility and screenshots

const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core on the page as it is now and records every serious or critical
 * violation; `assertA11y()` fails the test on them at its end, so that one run lists
 * every screen's problems. axe is evaluated through the DevTools protocol
 * (page.evaluate), which the page's CSP does not govern: the app keeps its strict CSP
 * under test, no bypassCSP.
 */
export async function checkA11y(page, screen) {
  const injected = await page.evaluate(() => typeof window.axe === 'object');
  if (!injected) await page.evaluate(AXE_SOURCE);
  const results = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      resultTypes: ['violations'],
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
    });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')} — ${(n.failureSummary || '').split('\n').slice(1, 2).join('').trim()}`),
    }));
  });
  a11yLog.push({ screen, url: page.url(), violations: results });
  for (const v of results.filter((x) => x.impact === 'serious' || x.impact === 'critical')) {
    a11yFailures.push(`screen "${screen}": ${v.impact} ${v.id}: ${v.help}\n      ${v.nodes.join('\n      ')}`);
  }
  return results;
}

/** Every scan of this process, and the serious or critical violations not yet reported. */
export const a11yLog = [];
const a11yFailures = [];

/** Throws when any scan since the last call found a serious or critical violation. */
export function assertA11y() {
  if (a11yFailures.length) {
    const list = a11yFailures.splice(0);
    throw new Error(`axe found ${list.length} serious or critical violation(s):\n    ${list.join('\n    ')}`);
  }
}

/** A PNG of the page into target/browser-screenshots/<name>-<width>.png. */
export async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const width = page.viewportSize()?.width ?? 0;
  const file = path.join(SCREENSHOT_DIR, `${name}-${width}.png`);
  // Let fonts and transitions settle (the app respects reduced motion, so this is brief).
  await page.evaluate(() => document.fonts?.ready);
  // Toasts come and go with timing; a picture for the docs is better without them.
  // (Hidden through the CSSOM: a <style> would be refused by the app's CSP.)
  const toasts = (visibility) => page.evaluate((v) => {
    const region = document.getElementById('toasts');
    if (region) region.style.visibility = v;
  }, visibility);
  await toasts('hidden');
  try {
    await page.screenshot({ path: file, fullPage: false, animations: 'disabled', caret: 'hide' });
  } finally {
    await toasts('');
  }
  return file;
}

/** Screenshots at both widths: the page is resized to 360 and 1280, then put back. */
export async function screenshotBoth(page, name) {
  const original = page.viewportSize();
  const files = [];
  for (const vp of [PHONE, DESKTOP]) {
    await page.setViewportSize(vp);
    files.push(await screenshot(page, name));
  }
  await page.setViewportSize(original);
  return files;
}

// ---------------------------------------------------------------------------------------
// Content: the correct answers of the built-in catalog, by question text

let answersByQuestion = null;
/** Maps a catalog question's text to its correct option's text. */
export function catalogAnswers() {
  if (answersByQuestion) return answersByQuestion;
  answersByQuestion = new Map();
  const dir = path.join(ROOT, 'content', 'catalog');
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const subject = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    for (const level of subject.levels ?? []) {
      for (const q of level.questions ?? []) {
        answersByQuestion.set(q.question.trim(), q.options[q.answer]);
      }
    }
  }
  return answersByQuestion;
}

/**
 * Runs a test's body; then fails on any page problem or axe violation. When the body
 * itself fails, the page problems seen meanwhile are added to its error (a console
 * error often says why an expected element never came).
 */
export async function scenario(watchers, body) {
  try {
    await body();
  } catch (err) {
    let extra = '';
    const seen = watchers.flatMap((w) => w.problems.splice(0));
    if (seen.length) extra += `\n  page problems meanwhile:\n  ${seen.join('\n  ')}`;
    for (const srv of servers) {
      if (srv.crashed) extra += `\n  the ${srv.name} server ${srv.crashed}; its log ends:\n${srv.logTail(30)}`;
    }
    if (a11yFailures.length) extra += `\n  axe meanwhile:\n    ${a11yFailures.splice(0).join('\n    ')}`;
    const shots = await failureShots(watchers);
    if (shots.length) extra += `\n  screenshots at the failure:\n  ${shots.join('\n  ')}`;
    if (extra && err instanceof Error) {
      // The reporter prints the stack, which starts with the message as it was.
      err.message += extra;
      if (typeof err.stack === 'string') err.stack = `${err.stack}${extra}`;
    }
    throw err;
  }
  for (const w of watchers) w.check();
  assertA11y();
}

/** A screenshot of every open watched page, into target/browser-screenshots/failures/. */
async function failureShots(watchers) {
  const dir = path.join(SCREENSHOT_DIR, 'failures');
  const files = [];
  for (const w of watchers) {
    for (const [i, page] of w.pages.entries()) {
      if (page.isClosed()) continue;
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${w.label}-${i}-${Date.now()}.png`);
      try {
        await page.screenshot({ path: file, timeout: 5000 });
        files.push(`${file} (${page.url()})`);
      } catch {
        // A page that cannot be photographed any more adds nothing.
      }
    }
  }
  return files;
}

/**
 * Starts recording every toast the page shows (they go after 5 s, so a test that
 * looks later still knows what was said); `toastsSeen(page)` returns their texts.
 * The observer runs through the DevTools protocol, like axe: no script tag, CSP intact.
 */
export async function recordToasts(page) {
  await page.evaluate(() => {
    if (window.__qpToasts) return;
    window.__qpToasts = [];
    const region = document.getElementById('toasts');
    new MutationObserver((changes) => {
      for (const change of changes) {
        for (const node of change.addedNodes) {
          if (node.nodeType === 1 && node.textContent.trim()) window.__qpToasts.push(node.textContent.trim());
        }
      }
    }).observe(region, { childList: true });
  });
}

export function toastsSeen(page) {
  return page.evaluate(() => window.__qpToasts || []);
}

/** Wall time of a test, printed as a TAP diagnostic line. */
export function timer(name) {
  const t0 = Date.now();
  return () => {
    const s = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(`# wall time ${name}: ${s} s`);
    return s;
  };
}

export { sleep };
