// The share buttons of components/share.html: the device's share sheet when it has one, and "copy link"; and the
// copy buttons of components/social_posts.html, which copy the text of the field they name.
(function () {
  'use strict';
  if (window.Tsunagu && window.Tsunagu.shareReady) return;
  window.Tsunagu = window.Tsunagu || {};
  window.Tsunagu.shareReady = true;

  function status(button, text) {
    const section = button.closest('[data-testid="share"]');
    const line = section && section.querySelector('[data-share-status]');
    if (line) line.textContent = text;
  }

  function reveal() {
    document.querySelectorAll('[data-share-url]').forEach(function (button) {
      // Only where the browser can share this kind of data (desktop browsers often cannot).
      if (navigator.share && (!navigator.canShare || navigator.canShare({ url: button.dataset.shareUrl }))) button.hidden = false;
    });
    document.querySelectorAll('[data-copy-url], [data-copy-from]').forEach(function (button) {
      if (navigator.clipboard && window.isSecureContext) button.hidden = false;
    });
  }

  document.addEventListener('click', function (event) {
    const native = event.target.closest('[data-share-url]');
    if (native) {
      navigator.share({ title: native.dataset.shareTitle, url: native.dataset.shareUrl }).catch(function () {
        // Closing the share sheet is a choice, not an error: nothing to say.
      });
      return;
    }
    const copy = event.target.closest('[data-copy-url]');
    if (copy) {
      navigator.clipboard.writeText(copy.dataset.copyUrl).then(
        function () { status(copy, copy.dataset.copied || ''); },
        function () { status(copy, copy.dataset.copyFailed || ''); }
      );
    }
    const field = event.target.closest('[data-copy-from]');
    if (field) {
      const source = document.getElementById(field.dataset.copyFrom);
      const line = field.parentElement.querySelector('[data-copy-status]');
      const say = function (text) { if (line) line.textContent = text; };
      navigator.clipboard.writeText(source ? source.value : '').then(
        function () { say(field.dataset.copied || ''); },
        function () { say(field.dataset.copyFailed || ''); }
      );
    }
  });
  document.addEventListener('DOMContentLoaded', reveal);
  document.addEventListener('htmx:load', reveal);
  if (document.readyState !== 'loading') reveal();
})();
