// Entry: only wires the worker's events to the modules above.
self.addEventListener('install', (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(dropOldCaches().then(() => self.clients.claim()));
});

self.addEventListener('fetch', route);

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'forget-pages') {
    event.waitUntil(forgetPages());
  }
});
