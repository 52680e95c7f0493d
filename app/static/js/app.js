// Site-wide behaviour. Pages work without it; it adds the service worker, HTMX's CSRF header
// and the offline banner.
(function () {
  'use strict';
  const http = window.Tsunagu.http;

  document.addEventListener('htmx:configRequest', function (event) {
    event.detail.headers['x-csrftoken'] = http.csrfToken();
  });

  // A boosted navigation (or history restore) swaps only the body, so <html lang> would keep the old
  // language after the language switch: screen readers, fonts and hyphenation follow this attribute.
  const HTML_LANG = /<html\b[^>]*\slang="([^"]*)"/i;
  function adoptLang(responseText) {
    const match = HTML_LANG.exec(responseText || '');
    if (match) document.documentElement.lang = match[1];
  }
  document.addEventListener('htmx:afterSwap', function (event) {
    if (event.detail.boosted && event.detail.xhr) adoptLang(event.detail.xhr.responseText);
  });
  document.addEventListener('htmx:historyCacheMissLoad', function (event) {
    adoptLang(event.detail.response);
  });

  // Every page opens at its top (htmx's scrollIntoViewOnBoost), and going back returns to where the person was.
  // htmx keeps no copy of pages to go back to (historyCacheSize 0: personal pages stay out of the browser's
  // storage), so it loads the page again without its scroll position: this tab remembers it per address.
  const SCROLL_KEY = 'tsunagu.scroll';
  const SCROLL_KEPT = 30;
  function scrollPositions() {
    try { return JSON.parse(sessionStorage.getItem(SCROLL_KEY) || '[]'); } catch (error) { return []; }
  }
  document.addEventListener('htmx:beforeHistorySave', function (event) {
    const kept = scrollPositions().filter(function (entry) { return entry[0] !== event.detail.path; });
    kept.push([event.detail.path, Math.round(window.scrollY)]);
    try { sessionStorage.setItem(SCROLL_KEY, JSON.stringify(kept.slice(-SCROLL_KEPT))); } catch (error) { /* storage full or off */ }
  });
  document.addEventListener('htmx:historyRestore', function (event) {
    const entry = scrollPositions().find(function (item) { return item[0] === event.detail.path; });
    if (entry) window.scrollTo(0, entry[1]);
  });

  // htmx leaves 4xx/5xx responses unswapped, so a boosted link or form that failed (404, expired
  // CSRF token, 500) would do nothing at all. Our error responses are whole pages in the user's
  // language: show them, as the same visit without JavaScript would.
  document.addEventListener('htmx:beforeSwap', function (event) {
    if (event.detail.boosted && event.detail.isError) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // After a form comes back with errors, put the person on the first field to fix, as a screen reader would.
  function focusFirstError(root) {
    const field = (root || document).querySelector('[aria-invalid="true"]');
    if (field) field.focus({ preventScroll: false });
  }
  document.addEventListener('htmx:afterSwap', function (event) { focusFirstError(event.detail.target); });
  document.addEventListener('DOMContentLoaded', function () { focusFirstError(document); });

  // A box that scrolls (a wide table, a chart, the survey's phone preview) must take the keyboard's focus, or
  // someone without a mouse cannot scroll it (WCAG 2.1.1). Only boxes that do scroll on this screen get a stop.
  function focusableScrollers(root) {
    (root || document).querySelectorAll('.table-scroll, .chart-figure, .phone-frame').forEach(function (box) {
      const scrolls = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
      if (!scrolls || box.hasAttribute('tabindex')) return;
      box.tabIndex = 0;
      const name = box.querySelector('caption, figcaption, h2, h3');
      if (name && name.textContent.trim()) {
        box.setAttribute('role', 'region');
        box.setAttribute('aria-label', name.textContent.trim());
      }
    });
  }
  document.addEventListener('DOMContentLoaded', function () { focusableScrollers(document); });
  document.addEventListener('htmx:load', function (event) { focusableScrollers(event.target); });
  window.addEventListener('resize', function () { focusableScrollers(document); });

  function showConnectivity() {
    const banner = document.querySelector('[data-testid="offline-banner"]');
    if (banner) banner.hidden = navigator.onLine;
  }
  window.addEventListener('online', showConnectivity);
  window.addEventListener('offline', showConnectivity);
  document.addEventListener('htmx:load', showConnectivity);
  document.addEventListener('DOMContentLoaded', showConnectivity);

  // A page that ends a session (logout, account deletion) marks itself so the worker forgets member pages.
  // The logout form is boosted, so that page usually arrives by an HTMX swap: htmx:load, not DOMContentLoaded.
  function forgetPagesIfAsked() {
    const marker = document.querySelector('[data-forget-pages]:not([data-pages-forgotten])');
    if (marker && navigator.serviceWorker && navigator.serviceWorker.controller) {
      marker.dataset.pagesForgotten = '1';
      navigator.serviceWorker.controller.postMessage({ type: 'forget-pages' });
    }
  }
  document.addEventListener('DOMContentLoaded', forgetPagesIfAsked);
  document.addEventListener('htmx:load', forgetPagesIfAsked);

  if ('serviceWorker' in navigator) {
    window.addEventListener('load', function () {
      const url = document.body.dataset.swUrl || '/sw.js';
      navigator.serviceWorker.register(url, { scope: '/' }).catch(function (error) {
        console.warn('service worker registration failed', error);
      });
    });
  }
})();
