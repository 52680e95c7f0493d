// Push: show what the server sent, open its page on a tap, and follow a subscription the browser replaced.
// A payload carries ids plus a fallback title and body ({id, notification, title, body, url, tag}), so it
// can be shown without asking the server anything.
const NOTIFICATION_ICON = '/icons/icon-192.png';
const NOTIFICATION_BADGE = '/icons/icon-192.png';
const DEFAULT_URL = '/inbox';
const RENEW_URL = '/push/subscriptions/renew';
// Only for a push that arrives without a readable payload (ours always has one); the site speaks Japanese first.
const FALLBACK_TITLE = 'お知らせ';

function pushPayload(data) {
  if (!data) return {};
  try {
    const payload = data.json();
    return payload && typeof payload === 'object' ? payload : {};
  } catch (error) {
    return {};
  }
}

function showPush(data) {
  const payload = pushPayload(data);
  return self.registration.showNotification(payload.title || FALLBACK_TITLE, {
    body: payload.body || '',
    icon: NOTIFICATION_ICON,
    badge: NOTIFICATION_BADGE,
    // One notification per message: a resend after a sender crash replaces the first instead of adding one.
    tag: payload.tag || (payload.notification ? `n${payload.notification}` : undefined),
    data: { url: payload.url || DEFAULT_URL, id: payload.id, notification: payload.notification },
  });
}

function notificationUrl(notification) {
  const url = notification.data && notification.data.url ? notification.data.url : DEFAULT_URL;
  return new URL(url, self.location.origin);
}

// A tap focuses a window of the app already open (the one showing the page, else the most recent) and
// takes it to the page; only when there is none, or the page is on another site, a new window opens.
async function openNotification(notification) {
  const target = notificationUrl(notification);
  if (target.origin === self.location.origin) {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const ours = windows.filter((client) => new URL(client.url).origin === self.location.origin);
    const client = ours.find((c) => c.url === target.href) || ours.find((c) => c.focused) || ours[0];
    if (client) {
      try {
        await client.focus();
      } catch (error) {
        // Focusing needs the tap's permission; without it the window is still taken to the page.
      }
      if (client.url === target.href) return client;
      try {
        const navigated = await client.navigate(target.href);
        if (navigated) return navigated;
      } catch (error) {
        // A window this worker does not control cannot be navigated: open a new one below.
      }
    }
  }
  return self.clients.openWindow(target.href);
}

// The browser replaced the subscription (expired, keys rotated). The old endpoint proves to the server that
// this device already belonged to the logged-in account; the login cookie goes with a same-origin fetch.
async function renewSubscription(oldSubscription, newSubscription) {
  const key = oldSubscription && oldSubscription.options ? oldSubscription.options.applicationServerKey : null;
  if (!oldSubscription || !key) return; // nothing to prove ownership with: the page re-sends on its next visit
  const fresh = newSubscription || (await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }));
  await fetch(RENEW_URL, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ old_endpoint: oldSubscription.endpoint, subscription: fresh.toJSON() }),
  });
}
