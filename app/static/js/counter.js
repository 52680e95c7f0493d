// The shop's counter (wallet/shop/scan.html): the camera stays on between customers (scanner.js, continuous),
// each code read is decided at once, the answer fills the screen with a sound and a vibration, and the counter
// goes back to scanning after a few seconds or a tap. The same code held in front of the camera is not sent
// again until it has been out of sight for a few seconds. The manual box takes the short code, formatted as
// it is typed; a scanned token never appears in it.
// take(text) is the one way a code enters: today it asks the server; the offline step decides with
// counter_rules.js and keeps the redemption in the check-in queue's way (IndexedDB, nonce, Background Sync).
(function () {
  'use strict';
  const REPEAT_MS = 4000;
  const SHORT_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const SHORT_CODE_LENGTH = 8;
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

  // --- codes coming in --------------------------------------------------------------------------------------
  let lastText = '';
  let lastSeen = 0;
  let busy = false;

  function nonce() {
    return window.Tsunagu.http.b64urlEncode(window.crypto.getRandomValues(new Uint8Array(16)));
  }

  function offerKey(root) {
    return 'tsunagu.counter.offer.' + root.dataset.shopId;
  }

  // The one way a code is decided: with an offer chosen for every read, it is used at once; otherwise the
  // offers this pass can use here are shown to tap.
  function take(root, text, scannedAt) {
    if (busy || !window.htmx) return;
    busy = true;
    root.dataset.scannedAt = String(scannedAt || performance.now());
    clearTimeout(dismissTimer);
    const select = root.querySelector('[data-counter-offer]');
    const offer = select ? select.value : '';
    const options = { target: '#scan-result', swap: 'outerHTML' };
    const request = offer
      ? window.htmx.ajax('POST', root.dataset.redeemUrl, Object.assign(options, { values: { code: text, offer: offer, nonce: nonce() } }))
      : window.htmx.ajax('GET', root.dataset.scanUrl + '?code=' + encodeURIComponent(text), options);
    Promise.resolve(request).catch(function () { /* the page says so (offline banner) */ }).finally(function () { busy = false; });
  }

  function wire() {
    const root = document.querySelector('[data-counter]');
    if (!root || root.dataset.wired) return;
    root.dataset.wired = '1';
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
  }

  document.addEventListener('htmx:afterSwap', function (event) {
    const root = document.querySelector('[data-counter][data-wired]');
    if (root && event.detail.target && event.detail.target.id === 'scan-result') showVerdict(root);
  });
  document.addEventListener('DOMContentLoaded', wire);
  document.addEventListener('htmx:load', wire);
  if (document.readyState !== 'loading') wire();
  window.Tsunagu.counter = { formatShortCode: formatShortCode };
})();
