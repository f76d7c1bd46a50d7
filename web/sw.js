// Service worker: caches the app shell (HTML, CSS, JS modules, icons) so the app opens
// without a network. It never touches the API or the websocket: quizzes and games need
// the server, and the app says so when offline.
//
// Network first, cache as the fallback: a deploy is picked up at the next load, and the
// cache only serves when the network cannot.

const CACHE = 'questpath-shell-v2';
const SHELL = [
  '/',
  '/css/app.css',
  '/css/rooms.css',
  '/js/app.js',
  '/js/ui.js',
  '/js/api.js',
  '/js/socket.js',
  '/js/engagement.js',
  '/vendor/preact-htm.js',
  '/manifest.webmanifest',
  '/icons/icon.svg',
  '/icons/icon-192.png',
];

// The app's own pages (all of them index.html); /docs and the like are not the app.
const APP_PAGE = /^\/(?:index\.html)?$|^\/join\/[^/]+\/?$/;
// Only these are shell files; everything else (the API, /health, /docs...) passes by.
const SHELL_FILE = /\.(?:js|css|svg|png|webmanifest)$/;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      // One missing file must not block the rest.
      Promise.all(SHELL.map((url) => cache.add(url).catch(() => undefined))),
    ).then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('questpath-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function isShell(request, url) {
  if (request.method !== 'GET' || url.origin !== self.location.origin) return false;
  if (url.pathname.startsWith('/api/')) return false;
  if (request.mode === 'navigate') return APP_PAGE.test(url.pathname);
  return SHELL_FILE.test(url.pathname) && url.pathname !== '/sw.js';
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (!isShell(request, url)) return;
  event.respondWith(networkFirst(request));
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  // Every page of the app is the same index.html, cached under '/'.
  const key = request.mode === 'navigate' ? '/' : request;
  try {
    const response = await fetch(request);
    if (response.ok && response.type === 'basic') cache.put(key, response.clone());
    return response;
  } catch (err) {
    const cached = await cache.match(key);
    if (cached) return cached;
    throw err;
  }
}
