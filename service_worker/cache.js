// Cache names carry the app prefix and the worker version; activate() drops every other version.
const CACHE_PREFIX = 'tsunagu';
const STATIC_CACHE = `${CACHE_PREFIX}-static-${SW_VERSION}`;
const PAGE_CACHE = `${CACHE_PREFIX}-pages-${SW_VERSION}`;

async function precache() {
  const cache = await caches.open(STATIC_CACHE);
  await cache.addAll([...PRECACHE_URLS, OFFLINE_URL]);
}

async function dropOldCaches() {
  const keep = new Set([STATIC_CACHE, PAGE_CACHE]);
  const names = await caches.keys();
  await Promise.all(
    names.filter((name) => name.startsWith(`${CACHE_PREFIX}-`) && !keep.has(name)).map((name) => caches.delete(name)),
  );
}

// Pages kept for offline use besides KEPT_PAGES: about a day of reading (programs, articles, the inbox).
// Each copy is a whole page and a phone's storage is small, so older ones make room rather than pile up.
const PAGE_CACHE_LIMIT = 20;
// What is needed most with no signal, however many other pages were opened since: the check-in page above all,
// since venues often have none, and the shop's counter, which must keep serving its queue when the network fails.
const KEPT_PAGES = new Set(['/card', '/wallet', '/activities/check-in', '/shop/scan', OFFLINE_URL]);

// Cache.keys() lists entries in the order they were stored (storing a page again moves it to the end),
// so the least recently stored others go first.
async function storePage(url, response) {
  const cache = await caches.open(PAGE_CACHE);
  await cache.put(url, response);
  const others = (await cache.keys()).filter((request) => !KEPT_PAGES.has(new URL(request.url).pathname));
  const overflow = others.slice(0, Math.max(0, others.length - PAGE_CACHE_LIMIT));
  await Promise.all(overflow.map((request) => cache.delete(request)));
}

// Member pages (card, wallet) are kept for offline use; at logout the page asks us to forget them.
async function forgetPages() {
  await caches.delete(PAGE_CACHE);
}

// A page that must open offline (the check-in page) asks for itself and its scripts to be kept: its first
// visit may come before this worker controls it, when its fetches pass us by. Only our static files and
// KEPT_PAGES are taken, so a page cannot fill the cache with anything else.
async function keepForOffline(urls) {
  for (const href of Array.isArray(urls) ? urls.slice(0, 20) : []) {
    const url = new URL(String(href), self.location.origin);
    if (url.origin !== self.location.origin) continue;
    if (isStatic(url)) {
      await cacheFirst(new Request(url.href));
    } else if (KEPT_PAGES.has(url.pathname)) {
      const response = await fetch(url.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
      if (storable(response)) await storePage(url.href, response);
    }
  }
}
