// Checking in at a designated activity. The venue's code is decided here, on the phone, before any network,
// by the rules the server applies again later (app/services/activities/check_ins.py; the code is read by
// signed_token.js): a venue often has no signal. A good code is kept on the phone with a
// nonce and the time of the scan (offline_queue.js), shown at once as waiting, and sent when there is a
// connection: now, on `online`, at the next visit, and by the service worker's Background Sync.
(function () {
  'use strict';
  const SYNC_TAG = 'check-ins';
  const queue = window.Tsunagu.checkInQueue;
  // A boosted visit runs the page's scripts again: one set of listeners is enough.
  if (window.Tsunagu.checkInWired) return;
  window.Tsunagu.checkInWired = true;

  // {ok: true, code, activityId, day} or {ok: false, reason}, with the server's reasons and in its order.
  async function decide(text, rules, now) {
    const read = await window.Tsunagu.signedToken.read(text, rules, now);
    if (!read.ok) return read;
    const validFrom = read.expiresMs - rules.valid_ms;
    if (now < validFrom - rules.skew_ms) return { ok: false, reason: 'not_yet' };
    return { ok: true, code: read.code, activityId: read.subject, day: window.Tsunagu.signedToken.tokyoDay(validFrom) };
  }

  function nonce() {
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    return window.Tsunagu.http.b64urlEncode(bytes);
  }

  function say(root, state, text, reason) {
    const box = root.querySelector('[data-check-in-result]');
    box.dataset.state = state;
    box.dataset.reason = reason || '';
    box.textContent = text;
    box.hidden = false;
  }

  function describe(root, item) {
    const state = item.outcome || 'waiting';
    const label = root.dataset['msg' + state.charAt(0).toUpperCase() + state.slice(1)] || '';
    const row = document.createElement('li');
    row.className = 'check-in-item check-in-' + state;
    row.dataset.testid = 'check-in-item';
    row.dataset.state = state;
    row.dataset.nonce = item.nonce;
    const what = document.createElement('strong');
    what.textContent = item.title || root.dataset.msgActivity;
    const when = document.createElement('span');
    when.className = 'small muted';
    when.textContent = ' ' + item.day + ' — ' + label;
    row.append(what, when);
    if (item.detail) {
      const detail = document.createElement('p');
      detail.className = 'small';
      detail.dataset.testid = 'check-in-item-detail';
      detail.textContent = item.detail;
      row.append(detail);
    }
    return row;
  }

  async function render(root) {
    const member = root.dataset.memberNo;
    const items = (await queue.pending(member)).concat(await queue.answered(member, Date.now()));
    const list = root.querySelector('[data-check-in-list]');
    list.replaceChildren.apply(list, items.map(function (item) { return describe(root, item); }));
    root.querySelector('[data-check-in-empty]').hidden = items.length > 0;
  }

  // The newest answer to what this page scanned is what the box above the list says.
  function sayAnswer(root, item) {
    if (item.outcome === 'refused') say(root, 'refused', item.detail, item.reason);
    else say(root, item.outcome, root.dataset['msg' + (item.outcome === 'recorded' ? 'Recorded' : 'Already')] + ' ' + item.title);
  }

  // Where and with which CSRF token to send, for the service worker, which has no page to read them from.
  function remember(root) {
    return queue.settings({ send_url: root.dataset.sendUrl, csrf: window.Tsunagu.http.csrfToken() });
  }

  let sending = null;
  function sendNow(root) {
    if (sending) return sending;
    sending = (async function () {
      await remember(root);
      const result = await queue.send(root.dataset.memberNo);
      const mine = result.answers.filter(function (item) { return item.nonce === root.dataset.lastNonce; });
      if (mine.length) sayAnswer(root, mine[0]);
      await render(root);
    })().catch(function (error) {
      console.warn('check-ins not sent yet', error);
    }).finally(function () { sending = null; });
    return sending;
  }

  // Background Sync, where there is one, sends them even after the page is closed; the page does not rely on it.
  function askForSync() {
    if (!('serviceWorker' in navigator)) return;
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.sync) return registration.sync.register(SYNC_TAG);
      return null;
    }).catch(function () { /* no permission for background sync: the page sends on its next visit */ });
  }

  // The first visit may come before the worker controls the page: ask it to keep the page and its scripts.
  function keepForOffline(root) {
    if (!('serviceWorker' in navigator)) return;
    const urls = [root.dataset.pageUrl].concat(Array.from(document.scripts).map(function (s) { return s.src; }).filter(Boolean));
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.active) registration.active.postMessage({ type: 'keep', urls: urls });
    }).catch(function () { /* the page still works; it opens offline after the next visit */ });
  }

  async function take(root, text) {
    const rules = JSON.parse(root.dataset.rules);
    const verdict = await decide(text, rules, Date.now());
    if (!verdict.ok) {
      say(root, 'refused', rules.messages[verdict.reason] || rules.messages.damaged, verdict.reason);
      return;
    }
    const item = { nonce: nonce(), code: verdict.code, scanned_at: Date.now(), activity_id: verdict.activityId,
      day: verdict.day, member_no: root.dataset.memberNo };
    let added;
    try {
      added = await queue.add(item);
    } catch (error) {
      say(root, 'refused', root.dataset.msgNotKept, 'not_kept');
      return;
    }
    if (!added) {
      say(root, 'duplicate', root.dataset.msgDuplicate);
      return;
    }
    root.dataset.lastNonce = item.nonce;
    say(root, 'waiting', root.dataset.msgKept);
    await render(root);
    askForSync();
    if (navigator.onLine) sendNow(root);
  }

  function wire() {
    const root = document.querySelector('[data-check-in]');
    if (!root || root.dataset.wired) return;
    root.dataset.wired = '1';
    root.addEventListener('qr-scanned', function (event) {
      event.preventDefault(); // decided here, not by opening a page
      take(root, event.detail.text);
    });
    const form = root.querySelector('[data-check-in-form]');
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      const field = form.querySelector('[data-check-in-code]');
      take(root, field.value).then(function () { field.value = ''; });
    });
    render(root).catch(function () { root.querySelector('[data-check-in-empty]').hidden = false; });
    keepForOffline(root);
    remember(root).catch(function () { /* no IndexedDB: nothing is kept, so nothing waits to be sent */ });
    if (navigator.onLine) sendNow(root);
  }

  window.addEventListener('online', function () {
    const root = document.querySelector('[data-check-in][data-wired]');
    if (root) sendNow(root);
  });
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.addEventListener('message', function (event) {
      const root = document.querySelector('[data-check-in][data-wired]');
      if (root && event.data && event.data.type === 'check-ins-sent') render(root);
    });
  }
  document.addEventListener('DOMContentLoaded', wire);
  document.addEventListener('htmx:load', wire);
  if (document.readyState !== 'loading') wire();
})();
