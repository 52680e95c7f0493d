// The shop's counter (wallet/shop/scan.html): the camera stays on between customers (scanner.js, continuous),
// each code read is decided at once, the answer fills the screen with a sound and a vibration, and the counter
// goes back to scanning after a few seconds or a tap. The same code held in front of the camera is not sent
// again until it has been out of sight for a few seconds. The manual box takes the short code, formatted as
// it is typed; a scanned token never appears in it.
// take() is the one way a code enters. It asks the server; when the network is down, or the server does not
// answer within a few seconds, the counter switches to deciding by itself, with no switch for the clerk to find:
// the rules of counter_rules.js over the bundle it keeps (offers, keys, stopped passes) and its own earlier uses,
// each accepted use kept with its nonce in the counter's queue (offline_queue.js) and sent when the network is
// back, by this page or by the service worker's Background Sync. The banner says so, with what waits.
(function () {
  'use strict';
  const REPEAT_MS = 4000;
  // A scan the server has not answered by then is decided here: a clerk with a queue cannot wait longer.
  const ANSWER_WITHIN_MS = 3000;
  // While offline, how often the counter asks whether the network is back.
  const PROBE_MS = 15000;
  const RESEND_MS = 30000;
  const SYNC_TAG = 'counter-uses';
  const SHORT_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const SHORT_CODE_LENGTH = 8;
  // Reasons that stop every offer of a pass (or the code itself): shown at once, with no offers to choose.
  const PASS_REASONS = ['damaged', 'forged', 'wrong_kind', 'expired', 'revoked', 'suspended', 'before_stay', 'after_stay'];
  if (window.Tsunagu && window.Tsunagu.counterWired) return; // a boosted visit runs page scripts again
  window.Tsunagu = Object.assign(window.Tsunagu || {}, { counterWired: true });

  // --- sound and vibration -------------------------------------------------------------------------------
  let audio = null;
  function unlockAudio() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) {
      try { audio = new Context(); } catch (error) { audio = null; }
    }
    if (audio && audio.state === 'suspended') audio.resume().catch(function () { /* no sound, still a screen */ });
  }
  document.addEventListener('pointerdown', unlockAudio, { capture: true });
  document.addEventListener('keydown', unlockAudio, { capture: true });

  // One high beep for OK; two low ones for a refusal, so the two differ without looking.
  function beep(ok) {
    if (!audio || audio.state !== 'running') return;
    const tones = ok ? [[1046, 0, 0.15]] : [[220, 0, 0.18], [220, 0.25, 0.18]];
    tones.forEach(function (tone) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.type = ok ? 'sine' : 'square';
      oscillator.frequency.value = tone[0];
      gain.gain.value = 0.2;
      oscillator.connect(gain).connect(audio.destination);
      const begin = audio.currentTime + tone[1];
      oscillator.start(begin);
      oscillator.stop(begin + tone[2]);
    });
  }

  function feedback(kind) {
    const ok = kind === 'ok' || kind === 'undone';
    beep(ok);
    if (navigator.vibrate) navigator.vibrate(ok ? 80 : [200, 100, 200]);
  }

  // --- the short code --------------------------------------------------------------------------------------
  // As wallet.normalise_short_code() reads it: O is 0, I and L are 1, anything else not of the code is dropped.
  function formatShortCode(typed) {
    const letters = String(typed || '').toUpperCase().replace(/O/g, '0').replace(/[IL]/g, '1').split('')
      .filter(function (c) { return SHORT_CODE_ALPHABET.indexOf(c) >= 0; }).slice(0, SHORT_CODE_LENGTH).join('');
    return letters.length > 4 ? letters.slice(0, 4) + '-' + letters.slice(4) : letters;
  }

  // --- the answer on screen --------------------------------------------------------------------------------
  let dismissTimer = null;
  function clearResult(root) {
    clearTimeout(dismissTimer);
    dismissTimer = null;
    const box = root.querySelector('#scan-result');
    if (box) box.replaceChildren();
  }

  function showVerdict(root) {
    clearTimeout(dismissTimer);
    const verdict = root.querySelector('#scan-result [data-verdict]');
    if (!verdict) return;
    feedback(verdict.dataset.verdict);
    if (root.dataset.scannedAt) {
      root.dataset.lastScanToResultMs = String(Math.round(performance.now() - Number(root.dataset.scannedAt)));
      delete root.dataset.scannedAt;
    }
    dismissTimer = setTimeout(function () { clearResult(root); }, Number(verdict.dataset.dismissAfter) || 5000);
    verdict.addEventListener('click', function (event) {
      clearTimeout(dismissTimer);
      if (event.target.closest('[data-verdict-keep]')) return; // the undo button: wait for its answer
      clearResult(root);
    });
  }

  // The server's answer (an HTML fragment) in the result's place, wired by htmx like any swap.
  function showAnswer(root, html) {
    const box = root.querySelector('#scan-result');
    const holder = document.createElement('div');
    holder.innerHTML = html;
    const fresh = holder.querySelector('#scan-result') || holder;
    box.replaceWith(fresh);
    if (window.htmx) window.htmx.process(fresh);
    showVerdict(root);
  }

  // An answer decided here, from one of the page's templates, with `slots` filled in as text.
  function showHere(root, name, slots) {
    const template = root.querySelector('[data-counter-template="' + name + '"]');
    const box = root.querySelector('#scan-result');
    const content = template.content.cloneNode(true);
    Object.keys(slots).forEach(function (slot) {
      const target = content.querySelector('[data-slot="' + slot + '"]');
      if (!target) return;
      if (slots[slot] instanceof Node) target.replaceChildren(slots[slot]);
      else target.textContent = slots[slot];
    });
    Object.keys(slots.data || {}).forEach(function (key) { content.firstElementChild.dataset[key] = slots.data[key]; });
    box.replaceChildren(content);
    showVerdict(root);
  }

  function refusedHere(root, reason) {
    const words = (state.bundle && state.bundle.messages && state.bundle.messages[reason]) || null;
    const server = root.dataset['msgServer' + reason.split('_').map(function (w) { return w.charAt(0).toUpperCase() + w.slice(1); }).join('')];
    showHere(root, 'refused', {
      headline: words ? words.headline : root.dataset.msgNeedsNetwork,
      detail: words ? words.detail : (server || ''),
      data: { reason: reason },
    });
  }

  // --- online or not -----------------------------------------------------------------------------------------
  const state = { offline: false, bundle: null, probe: null, sending: null, conflicts: 0 };

  function account(root) { return Number(root.dataset.accountId); }
  function queue() { return window.Tsunagu.counterQueue; }

  function bundleKey(root) { return 'tsunagu.counter.bundle.' + root.dataset.shopId; }

  function keptBundle(root) {
    try { return JSON.parse(window.localStorage.getItem(bundleKey(root)) || 'null'); } catch (error) { return null; }
  }

  async function refreshBundle(root) {
    const response = await fetch(root.dataset.bundleUrl, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error('bundle ' + response.status);
    const bundle = Object.assign(await response.json(), { fetched_at: Date.now() });
    state.bundle = bundle;
    try { window.localStorage.setItem(bundleKey(root), JSON.stringify(bundle)); } catch (error) { /* kept for this visit */ }
    return bundle;
  }

  async function banner(root) {
    const box = root.querySelector('[data-counter-banner]');
    let waiting = 0;
    try { waiting = (await queue().pending(account(root))).length; } catch (error) { waiting = 0; }
    const lines = [];
    if (state.offline) lines.push(root.dataset.msgOffline);
    if (waiting) lines.push(root.dataset.msgWaiting.replace('{n}', String(waiting)));
    if (state.conflicts) lines.push(root.dataset.msgConflicts.replace('{n}', String(state.conflicts)));
    if (state.offline) {
      lines.push(state.bundle
        ? root.dataset.msgBundleAge.replace('{time}', new Date(state.bundle.fetched_at).toLocaleTimeString(document.documentElement.lang === 'en' ? 'en-US' : 'ja-JP', { timeZone: 'Asia/Tokyo', hour: '2-digit', minute: '2-digit' }))
        : root.dataset.msgNoBundle);
    }
    box.textContent = lines.join(' ');
    box.hidden = lines.length === 0;
    box.dataset.offline = state.offline ? '1' : '';
    box.dataset.waiting = String(waiting);
  }

  function goOffline(root) {
    if (!state.offline) {
      state.offline = true;
      clearInterval(state.probe);
      state.probe = setInterval(function () { probe(root); }, PROBE_MS);
    }
    banner(root);
  }

  function goOnline(root) {
    state.offline = false;
    clearInterval(state.probe);
    state.probe = null;
    sendNow(root);
  }

  // The bundle is what the counter needs offline, and fetching it tells whether the server answers.
  function probe(root) {
    refreshBundle(root).then(function () { goOnline(root); }).catch(function () { goOffline(root); });
  }

  function sendNow(root) {
    if (state.sending) return state.sending;
    state.sending = (async function () {
      await queue().settings({ send_url: root.dataset.sendUrl, csrf: window.Tsunagu.http.csrfToken() });
      const result = await queue().send(account(root));
      state.conflicts += result.answers.filter(function (item) { return item.outcome === 'conflict'; }).length;
      if (result.answers.length && window.htmx) window.htmx.trigger(document.body, 'redeemed');
      // A long offline spell meets the scan rate limit: what is left goes in the next minute's window.
      if (result.kept && !state.offline) setTimeout(function () { sendNow(root); }, RESEND_MS);
    })().catch(function () { /* kept: sent later by this page or the worker */ })
      .finally(function () { state.sending = null; banner(root); });
    return state.sending;
  }

  function askForSync() {
    if (!('serviceWorker' in navigator)) return;
    navigator.serviceWorker.ready.then(function (registration) {
      return registration.sync ? registration.sync.register(SYNC_TAG) : null;
    }).catch(function () { /* no Background Sync: the page sends when the network is back */ });
  }

  // The first visit may come before the worker controls the page: ask it to keep the page and its scripts.
  function keepForOffline(root) {
    if (!('serviceWorker' in navigator)) return;
    const urls = [root.dataset.pageUrl].concat(Array.from(document.scripts).map(function (s) { return s.src; }).filter(Boolean));
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.active) registration.active.postMessage({ type: 'keep', urls: urls });
    }).catch(function () { /* it opens offline after the next visit */ });
  }

  // --- deciding here -------------------------------------------------------------------------------------------
  // This counter's own uses: those waiting, those the server answered, and those it accepted online.
  async function ownUses(root) {
    const now = Date.now();
    const items = (await queue().pending(account(root))).concat(await queue().answered(account(root), now));
    return items.filter(function (item) { return item.outcome !== 'refused'; }).map(function (item) {
      return { wallet_pass_id: item.wallet_pass_id, offer_id: item.offer, at: item.scanned_at, undone: false };
    });
  }

  // `usedNonce`: the one an online attempt of this same use carried, so that if the server did record it after
  // all, sending it again is answered "already" rather than counted twice.
  async function decideHere(root, text, offerId, usedNonce) {
    const now = Date.now();
    const verdict = await window.Tsunagu.counterRules.decide({ text: text, offer_id: offerId, now: now, uses: await ownUses(root) }, state.bundle);
    if (verdict.decision === 'refused') return refusedHere(root, verdict.reason);
    if (verdict.decision === 'server') return refusedHere(root, verdict.reason);
    const offer = state.bundle.offers.filter(function (o) { return o.id === offerId; })[0];
    const item = { nonce: usedNonce || nonce(), code: window.Tsunagu.counterRules.clean(text), offer: offerId, scanned_at: now,
                   account: account(root), wallet_pass_id: verdict.walletPassId, title: offer.title };
    try {
      await queue().add(item);
    } catch (error) {
      return refusedHere(root, 'no_bundle');
    }
    showHere(root, 'ok', { title: offer.title, note: root.dataset.msgOfflineOk });
    askForSync();
    banner(root);
    return null;
  }

  // With no offer chosen for every read: the offers of this shop, each usable here or not and why.
  async function chooseHere(root, text) {
    const now = Date.now();
    const uses = await ownUses(root);
    const offers = state.bundle.offers.filter(function (o) { return o.active; });
    const verdicts = await Promise.all(offers.map(function (offer) {
      return window.Tsunagu.counterRules.decide({ text: text, offer_id: offer.id, now: now, uses: uses }, state.bundle);
    }));
    const first = verdicts[0];
    if (!first || (PASS_REASONS.indexOf(first.reason) >= 0) || first.reason === 'short_code' || first.reason === 'no_ed25519') {
      return refusedHere(root, first ? first.reason : 'offer_unavailable');
    }
    const list = document.createDocumentFragment();
    offers.forEach(function (offer, index) {
      const row = document.createElement('li');
      row.className = 'offer-choice';
      row.dataset.testid = 'scan-offer';
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'button button-block offer-button' + (verdicts[index].decision === 'ok' ? ' button-primary' : '');
      button.textContent = offer.title;
      button.dataset.testid = 'use-offer-' + offer.id;
      if (verdicts[index].decision !== 'ok') {
        button.disabled = true;
        const why = document.createElement('p');
        why.className = 'small field-error';
        const words = state.bundle.messages[verdicts[index].reason];
        why.textContent = words ? words.headline + ' ' + words.detail : root.dataset.msgNeedsNetwork;
        row.append(button, why);
      } else {
        button.addEventListener('click', function () { decideHere(root, text, offer.id); });
        row.append(button);
      }
      list.append(row);
    });
    showHere(root, 'choose', { offers: list });
    return null;
  }

  // --- asking the server -----------------------------------------------------------------------------------------
  let lastText = '';
  let lastSeen = 0;
  let busy = false;

  function nonce() {
    return window.Tsunagu.http.b64urlEncode(window.crypto.getRandomValues(new Uint8Array(16)));
  }

  function offerKey(root) {
    return 'tsunagu.counter.offer.' + root.dataset.shopId;
  }

  // The server's answer as HTML, or null when it did not answer in time (or answered as a server that is down).
  async function ask(root, url, body) {
    const controller = new AbortController();
    const timer = setTimeout(function () { controller.abort(); }, ANSWER_WITHIN_MS);
    try {
      const response = await fetch(url, {
        method: body ? 'POST' : 'GET', credentials: 'same-origin', signal: controller.signal, body: body || undefined,
        headers: { 'HX-Request': 'true', 'x-csrftoken': window.Tsunagu.http.csrfToken() },
      });
      if (response.status === 401 || response.status === 403) {
        window.location.reload(); // the login ended: the page asks for it again
        return '';
      }
      if (response.status === 429 || response.status >= 500) return null;
      return await response.text();
    } catch (error) {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  // After an online OK for a wallet token, this counter remembers the use, so a later decision with no network
  // knows of it.
  async function rememberOnline(root, text, offerId, usedNonce) {
    const read = await window.Tsunagu.counterRules.readCode(text, state.bundle.token, Date.now());
    if (read.kind !== 'token') return;
    await queue().remember({ nonce: usedNonce, offer: offerId, scanned_at: Date.now(), account: account(root),
                             wallet_pass_id: read.walletPassId, outcome: 'recorded' });
  }

  // The one way a code is decided: with an offer chosen for every read, it is used at once; otherwise the
  // offers this pass can use here are shown to tap.
  async function take(root, text, scannedAt) {
    if (busy) return;
    busy = true;
    root.dataset.scannedAt = String(scannedAt || performance.now());
    clearTimeout(dismissTimer);
    try {
      const select = root.querySelector('[data-counter-offer]');
      const offer = select && select.value ? Number(select.value) : null;
      const canDecideHere = Boolean(state.bundle);
      const usedNonce = nonce();
      if (!state.offline && navigator.onLine !== false) {
        const body = offer ? new URLSearchParams({ code: text, offer: String(offer), nonce: usedNonce }) : null;
        const url = offer ? root.dataset.redeemUrl : root.dataset.scanUrl + '?code=' + encodeURIComponent(text);
        const html = await ask(root, url, body);
        if (html !== null) {
          showAnswer(root, html);
          if (offer && root.querySelector('#scan-result [data-verdict="ok"]')) {
            if (window.htmx) window.htmx.trigger(document.body, 'redeemed');
            if (canDecideHere) rememberOnline(root, text, offer, usedNonce).catch(function () { /* best effort */ });
          }
          return;
        }
        goOffline(root);
      }
      if (!canDecideHere) refusedHere(root, 'no_bundle');
      else if (offer) await decideHere(root, text, offer, usedNonce);
      else await chooseHere(root, text);
    } finally {
      busy = false;
    }
  }

  function wire() {
    const root = document.querySelector('[data-counter]');
    if (!root || root.dataset.wired) return;
    root.dataset.wired = '1';
    state.bundle = keptBundle(root);
    root.addEventListener('qr-scanned', function (event) {
      event.preventDefault(); // decided here; the camera stays on
      const text = event.detail.text;
      const now = event.detail.at || performance.now();
      const repeat = text === lastText && now - lastSeen < REPEAT_MS;
      if (!busy) { lastText = text; lastSeen = now; }
      if (repeat) return;
      const manual = root.querySelector('[data-testid="manual-code"]');
      if (manual) manual.value = ''; // a scanned token never shows in the box
      take(root, text, now);
    });
    const select = root.querySelector('[data-counter-offer]');
    if (select) {
      try { select.value = window.localStorage.getItem(offerKey(root)) || ''; } catch (error) { /* private mode */ }
      if (select.selectedIndex < 0) select.value = '';
      select.addEventListener('change', function () {
        try { window.localStorage.setItem(offerKey(root), select.value); } catch (error) { /* kept for this visit */ }
      });
    }
    const form = root.querySelector('[data-counter-manual]');
    const field = form && form.querySelector('input[name="code"]');
    if (field) {
      field.addEventListener('input', function () { field.value = formatShortCode(field.value); });
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        event.stopPropagation();
        const text = field.value.trim();
        if (text) take(root, text, performance.now());
        else field.focus();
      });
    }
    showVerdict(root);
    keepForOffline(root);
    probe(root);
    // While online the bundle is fetched again as often as it says, so its lists of stopped passes stay fresh.
    setInterval(function () { if (!state.offline) probe(root); }, ((state.bundle && state.bundle.refresh_seconds) || 300) * 1000);
  }

  window.addEventListener('online', function () {
    const root = document.querySelector('[data-counter][data-wired]');
    if (root) probe(root);
  });
  window.addEventListener('offline', function () {
    const root = document.querySelector('[data-counter][data-wired]');
    if (root) goOffline(root);
  });
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.addEventListener('message', function (event) {
      const root = document.querySelector('[data-counter][data-wired]');
      if (root && event.data && event.data.type === 'counter-uses-sent') banner(root);
    });
  }
  // A tap on an offer of the server's list that gets no answer in time: decided here, with the tap's own nonce.
  function tapUnanswered(event) {
    const root = document.querySelector('[data-counter][data-wired]');
    const form = event.target && event.target.closest ? event.target.closest('#scan-result form') : null;
    if (!root || !form || !form.elements.offer) return;
    goOffline(root);
    if (!state.bundle) refusedHere(root, 'no_bundle');
    else decideHere(root, form.elements.code.value, Number(form.elements.offer.value), form.elements.nonce.value);
  }
  document.addEventListener('htmx:sendError', tapUnanswered);
  document.addEventListener('htmx:timeout', tapUnanswered);
  document.addEventListener('htmx:afterSwap', function (event) {
    const root = document.querySelector('[data-counter][data-wired]');
    if (root && event.detail.target && event.detail.target.id === 'scan-result') showVerdict(root);
  });
  document.addEventListener('DOMContentLoaded', wire);
  document.addEventListener('htmx:load', wire);
  if (document.readyState !== 'loading') wire();
  window.Tsunagu.counter = { formatShortCode: formatShortCode };
})();
