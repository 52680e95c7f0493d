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
// What a member needs most with no signal, however many other pages were opened since.
const KEPT_PAGES = new Set(['/card', '/wallet', OFFLINE_URL]);

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
