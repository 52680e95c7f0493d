// Checking in at a designated activity. The venue's code is decided here, on the phone, before any network,
// by the rules the server applies again later (app/services/activities/check_ins.py, the token layout in
// app/services/shared/signed_tokens.py): a venue often has no signal. A good code is kept on the phone with a
// nonce and the time of the scan (check_in_queue.js), shown at once as waiting, and sent when there is a
// connection: now, on `online`, at the next visit, and by the service worker's Background Sync.
(function () {
  'use strict';
  const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const SIGNATURE_BYTES = 64;
  const SYNC_TAG = 'check-ins';
  const queue = window.Tsunagu.checkInQueue;
  // A boosted visit runs the page's scripts again: one set of listeners is enough.
  if (window.Tsunagu.checkInWired) return;
  window.Tsunagu.checkInWired = true;

  function base32Decode(text) {
    const bytes = [];
    let buffer = 0;
    let bits = 0;
    for (let i = 0; i < text.length; i += 1) {
      const value = BASE32.indexOf(text[i]);
      if (value < 0) return null;
      buffer = ((buffer << 5) | value) & 0xffff;
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        bytes.push((buffer >> bits) & 0xff);
      }
    }
    return new Uint8Array(bytes);
  }

  // [value, next position], or null; at most 10 bytes, as the server reads it. Ids and minutes stay far
  // below 2^53, so plain numbers hold them.
  function readUvarint(bytes, pos) {
    let result = 0;
    let factor = 1;
    for (let i = 0; i < 10 && pos < bytes.length; i += 1) {
      const byte = bytes[pos];
      pos += 1;
      result += (byte & 0x7f) * factor;
      if (!(byte & 0x80)) return [result, pos];
      factor *= 128;
    }
    return null;
  }

  // true or false; null where the browser has no Ed25519 (the server still checks the signature).
  async function signatureHolds(key, signature, body) {
    if (!window.crypto || !window.crypto.subtle) return null;
    try {
      const publicKey = await window.crypto.subtle.importKey('raw', key, { name: 'Ed25519' }, false, ['verify']);
      return await window.crypto.subtle.verify({ name: 'Ed25519' }, publicKey, signature, body);
    } catch (error) {
      return error && error.name === 'NotSupportedError' ? null : false;
    }
  }

  const tokyoDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit', day: '2-digit' });

  // {ok: true, code, activityId, day} or {ok: false, reason}, with the server's reasons and in its order.
  async function decide(text, rules, now) {
    const code = String(text || '').replace(/\s+/g, '').toUpperCase().replace(/-/g, '');
    const raw = code && code.length <= 200 ? base32Decode(code) : null;
    if (!raw || raw.length < 3 + 2 + SIGNATURE_BYTES || raw[0] !== rules.version) return { ok: false, reason: 'damaged' };
    const body = raw.slice(0, raw.length - SIGNATURE_BYTES);
    const signature = raw.slice(raw.length - SIGNATURE_BYTES);
    const key = rules.keys[String(body[1])];
    if (!key) return { ok: false, reason: 'forged' };
    if ((await signatureHolds(window.Tsunagu.http.b64urlDecode(key), signature, body)) === false) return { ok: false, reason: 'forged' };
    if (body[2] !== rules.kind) return { ok: false, reason: 'wrong_kind' };
    const subject = readUvarint(body, 3);
    const minutes = subject && readUvarint(body, subject[1]);
    if (!minutes || minutes[1] !== body.length) return { ok: false, reason: 'damaged' };
    const expires = minutes[0] * 60000;
    if (expires <= now) return { ok: false, reason: 'expired' };
    const validFrom = expires - rules.valid_ms;
    if (now < validFrom - rules.skew_ms) return { ok: false, reason: 'not_yet' };
    return { ok: true, code: code, activityId: subject[0], day: tokyoDay.format(new Date(validFrom)) };
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
