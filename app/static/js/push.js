// Push notifications on the notifications page: shows the one state that fits this browser, asks for the
// permission only when the member taps the button, subscribes with the server's VAPID key and sends the
// subscription to the server. Every message shown comes translated from data-msg-* attributes.
(function () {
  'use strict';

  const http = window.Tsunagu.http;
  const READY_TIMEOUT_MS = 10000;

  function sameKey(subscription, key) {
    const options = subscription.options;
    if (!options || !options.applicationServerKey) return true;
    const held = new Uint8Array(options.applicationServerKey);
    return held.length === key.length && held.every(function (byte, i) { return byte === key[i]; });
  }

  // iPhone and iPad deliver web push only to an app added to the home screen (iOS 16.4 and later); in
  // Safari itself there is no PushManager. iPadOS says "Macintosh", but a Mac has no touch screen.
  function isAppleMobile() {
    const ua = navigator.userAgent || '';
    return /iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
  }

  function needsHomeScreen() {
    return isAppleMobile() && (!('PushManager' in window) || navigator.standalone === false);
  }

  function supported() {
    return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
  }

  // app.js registers the worker; give up if it never becomes ready (blocked, or storage turned off).
  function ready() {
    return Promise.race([
      navigator.serviceWorker.ready,
      new Promise(function (resolve, reject) {
        setTimeout(function () { reject(new Error('service worker not ready')); }, READY_TIMEOUT_MS);
      }),
    ]);
  }

  async function currentSubscription() {
    const registration = await ready();
    return registration.pushManager.getSubscription();
  }

  async function subscribe(root) {
    const permission = await Notification.requestPermission();
    if (permission !== 'granted') {
      const error = new Error(permission);
      error.name = 'NotAllowedError';
      throw error;
    }
    const registration = await ready();
    const key = http.b64urlDecode(root.dataset.vapidKey);
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameKey(subscription, key)) {
      // Made with a key the server no longer signs with: it could never receive anything.
      await subscription.unsubscribe();
      subscription = null;
    }
    if (!subscription) {
      subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    }
    return http.postJSON(root.dataset.subscribeUrl, subscription.toJSON());
  }

  async function unsubscribe(root) {
    const subscription = await currentSubscription();
    if (!subscription) return {};
    const result = await http.postJSON(root.dataset.unsubscribeUrl, { endpoint: subscription.endpoint });
    await subscription.unsubscribe();
    return result;
  }

  async function initialState(root) {
    if (needsHomeScreen()) return 'ios-install';
    if (!supported()) return 'unsupported';
    if (Notification.permission === 'denied') return 'denied';
    if (Notification.permission !== 'granted') return 'off';
    const subscription = await currentSubscription();
    if (!subscription) return 'off';
    // As Mastodon does, tell the server again on each visit: it may have dropped an expired copy, or the
    // browser may have changed the subscription while no worker event reached us.
    http.postJSON(root.dataset.subscribeUrl, subscription.toJSON()).catch(function () {});
    return 'on';
  }

  // Where this browser keeps the switch that was turned off: its own steps on the "blocked" panel.
  function platform() {
    const ua = navigator.userAgent || '';
    if (isAppleMobile()) return 'ios';
    if (/Firefox\//.test(ua)) return 'firefox';
    if (/Android/.test(ua)) return 'android';
    return 'desktop';
  }

  function show(root, state) {
    root.querySelectorAll('[data-push-state]').forEach(function (element) {
      element.hidden = element.dataset.pushState !== state;
    });
    const here = platform();
    root.querySelectorAll('[data-allow-on]').forEach(function (steps) { steps.hidden = steps.dataset.allowOn !== here; });
    root.dataset.pushReady = state;
  }

  function say(root, message) {
    root.querySelector('[data-push-error]').hidden = true;
    root.querySelector('[data-push-status]').textContent = message || '';
  }

  function showError(root, error) {
    let message = error.serverMessage;
    if (!message) {
      if (error.name === 'NotAllowedError') {
        // Blocked: the panel says where to allow it. Only dismissed: asking again will show the prompt.
        message = window.Notification && Notification.permission === 'denied' ? root.dataset.msgDenied : root.dataset.msgDismissed;
      } else if (!navigator.onLine) message = root.dataset.msgOffline;
      else if (error.message === 'service worker not ready') message = root.dataset.msgNoWorker;
      else message = root.dataset.msgFailed;
    }
    say(root, '');
    const box = root.querySelector('[data-push-error]');
    box.textContent = message;
    box.hidden = false;
  }

  function refreshDevices(root) {
    if (window.htmx) window.htmx.ajax('GET', root.dataset.devicesUrl, { target: '#push-devices', swap: 'outerHTML' });
  }

  function act(root, button, action, state, fallbackMessage) {
    button.disabled = true;
    say(root, '');
    action(root)
      .then(function (result) {
        show(root, state);
        say(root, (result && result.detail) || fallbackMessage);
        refreshDevices(root);
      })
      .catch(function (error) {
        if (window.Notification && Notification.permission === 'denied') show(root, 'denied');
        showError(root, error);
      })
      .finally(function () { button.disabled = false; });
  }

  function wire() {
    const root = document.querySelector('[data-push]');
    if (!root || root.dataset.wired) return;
    root.dataset.wired = '1';
    const on = root.querySelector('[data-push-subscribe]');
    const off = root.querySelector('[data-push-unsubscribe]');
    on.addEventListener('click', function () { act(root, on, subscribe, 'on', root.dataset.msgSubscribed); });
    off.addEventListener('click', function () { act(root, off, unsubscribe, 'off', root.dataset.msgUnsubscribed); });
    initialState(root)
      .then(function (state) { show(root, state); })
      .catch(function () { show(root, 'off'); });
  }

  document.addEventListener('DOMContentLoaded', wire);
  document.addEventListener('htmx:load', wire);
  if (document.readyState !== 'loading') wire();
})();
