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
  if (event.data && event.data.type === 'keep') {
    event.waitUntil(keepForOffline(event.data.urls).catch(() => {}));
  }
});

self.addEventListener('sync', (event) => {
  if (Object.prototype.hasOwnProperty.call(SYNC_QUEUES, event.tag)) event.waitUntil(sendQueue(event.tag));
});

self.addEventListener('push', (event) => {
  event.waitUntil(showPush(event.data));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(openNotification(event.notification));
});

self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil(renewSubscription(event.oldSubscription, event.newSubscription));
});
