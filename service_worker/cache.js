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

// Member pages (card, wallet) are kept for offline use; at logout the page asks us to forget them.
async function forgetPages() {
  await caches.delete(PAGE_CACHE);
}
