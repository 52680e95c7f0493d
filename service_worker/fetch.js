// Static files: cache-first. Pages: network-first, then the cached copy, then the offline page.
// Never cached: non-GET requests, HTMX fragments, and any response marked no-store (auth, staff, one-time links).

// Files: /static and /icons, uploaded images (names never reused; a private one is no-store, so never kept), the theme
// and the manifest.
const STATIC_PATHS = new Set(['/theme.css', '/manifest.webmanifest']);

function isStatic(url) {
  return ['/static/', '/icons/', '/uploads/'].some((prefix) => url.pathname.startsWith(prefix)) || STATIC_PATHS.has(url.pathname);
}

function isFragment(request) {
  return request.headers.get('HX-Request') === 'true' && request.headers.get('HX-Boosted') !== 'true';
}

function storable(response) {
  const cacheControl = response.headers.get('Cache-Control') || '';
  return response.ok && response.type === 'basic' && !cacheControl.includes('no-store');
}

async function cacheFirst(request) {
  const cached = await caches.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (storable(response)) {
    const cache = await caches.open(STATIC_CACHE);
    await cache.put(request, response.clone());
  }
  return response;
}

async function networkFirst(request) {
  try {
    const response = await fetch(request);
    if (storable(response)) {
      // Keyed by URL alone, so a boosted (HTMX) visit and a plain one share the copy.
      await storePage(request.url, response.clone());
    }
    return response;
  } catch (error) {
    const cached = await caches.match(request.url, { ignoreVary: true, ignoreSearch: false });
    if (cached) return cached;
    const offline = await caches.match(OFFLINE_URL);
    if (offline) return offline;
    throw error;
  }
}

function route(event) {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === '/sw.js') return;
  if (isStatic(url)) {
    event.respondWith(cacheFirst(request));
    return;
  }
  if (isFragment(request)) return;
  const acceptsHtml = (request.headers.get('Accept') || '').includes('text/html');
  if (request.mode === 'navigate' || request.headers.get('HX-Boosted') === 'true' || acceptsHtml) {
    event.respondWith(networkFirst(request));
  }
}
