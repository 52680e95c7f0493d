// Site-wide behaviour. Pages work without it; it adds the service worker, HTMX's CSRF header
// and the offline banner.
(function () {
  'use strict';

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : '';
  }

  document.addEventListener('htmx:configRequest', function (event) {
    event.detail.headers['x-csrftoken'] = csrfToken();
  });

  function showConnectivity() {
    const banner = document.querySelector('[data-testid="offline-banner"]');
    if (banner) banner.hidden = navigator.onLine;
  }
  window.addEventListener('online', showConnectivity);
  window.addEventListener('offline', showConnectivity);
  document.addEventListener('htmx:load', showConnectivity);
  document.addEventListener('DOMContentLoaded', showConnectivity);

  // A page that ends a session (logout, account deletion) marks itself so the worker forgets member pages.
  document.addEventListener('DOMContentLoaded', function () {
    if (document.querySelector('[data-forget-pages]') && navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: 'forget-pages' });
    }
  });

  if ('serviceWorker' in navigator) {
    window.addEventListener('load', function () {
      const url = document.body.dataset.swUrl || '/sw.js';
      navigator.serviceWorker.register(url, { scope: '/' }).catch(function (error) {
        console.warn('service worker registration failed', error);
      });
    });
  }
})();
