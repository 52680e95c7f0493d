// "Add to the home screen" on the welcome page: the browser's own install prompt where there is one (Chrome,
// Edge, Samsung Internet), Safari's steps on an iPhone or iPad, and nothing to do once the app is installed.
(function () {
  'use strict';
  let deferred = null;

  function show() {
    const step = document.querySelector('[data-install-step]');
    if (!step) return;
    const installed = window.matchMedia('(display-mode: standalone)').matches || navigator.standalone === true;
    // iPadOS reports itself as a Mac: a touch screen tells them apart.
    const apple = /iPhone|iPad|iPod/.test(navigator.userAgent) || (/Macintosh/.test(navigator.userAgent) && navigator.maxTouchPoints > 1);
    step.querySelector('[data-install-done]').hidden = !installed;
    step.querySelector('[data-install-iphone]').hidden = installed || !apple;
    step.querySelector('[data-install-button]').hidden = installed || !deferred;
    step.querySelector('[data-install-other]').hidden = installed || apple || Boolean(deferred);
    if (installed) step.classList.add('done');
  }

  window.addEventListener('beforeinstallprompt', function (event) {
    event.preventDefault();  // shown from our button instead, at the step where it makes sense
    deferred = event;
    show();
  });
  window.addEventListener('appinstalled', function () { deferred = null; show(); });
  document.addEventListener('click', function (event) {
    if (!event.target.closest('[data-install-button]') || !deferred) return;
    deferred.prompt();
    deferred.userChoice.finally(function () { deferred = null; show(); });
  });
  document.addEventListener('DOMContentLoaded', show);
  document.addEventListener('htmx:load', show);
  if (document.readyState !== 'loading') show();
})();
