// Background Sync for what a device keeps until the server answers (app/static/js/offline_queue.js, built in
// before this file): the member's check-ins and the shop counter's offline uses, sent when the connection is
// back, even with the page closed. The pages send them too (at once, on `online`, at their next visit), so a
// browser without Background Sync loses nothing. Tag → the queue it sends and what the open pages are told.
const SYNC_QUEUES = {
  'check-ins': { queue: 'checkInQueue', sent: 'check-ins-sent' },
  'counter-uses': { queue: 'counterQueue', sent: 'counter-uses-sent' },
};

async function sendQueue(tag) {
  const { queue, sent } = SYNC_QUEUES[tag];
  const result = await self.Tsunagu[queue].send(null);
  const windows = await self.clients.matchAll({ type: 'window' });
  windows.forEach((client) => client.postMessage({ type: sent }));
  // Rejecting asks the browser to try this sync again later, with its own backoff.
  if (result.kept) throw new Error(`${result.kept} items of ${tag} wait for the server`);
}
