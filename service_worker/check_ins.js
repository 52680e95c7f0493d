// Background Sync for check-ins kept on the phone (app/static/js/check_in_queue.js, built in before this file):
// sent when the connection is back, even with the page closed. The page sends them too (at once, on `online`,
// at its next visit), so a browser without Background Sync loses nothing.
const CHECK_IN_SYNC_TAG = 'check-ins';

async function sendCheckIns() {
  const result = await self.Tsunagu.checkInQueue.send(null);
  const windows = await self.clients.matchAll({ type: 'window' });
  windows.forEach((client) => client.postMessage({ type: 'check-ins-sent' }));
  // Rejecting asks the browser to try this sync again later, with its own backoff.
  if (result.kept) throw new Error(`${result.kept} check-ins wait for the server`);
}
