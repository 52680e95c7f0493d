// The open wallet follows the counter: its poller (wallet/_live.html) asks every few seconds whether a use was
// recorded. A page nobody sees (another app in front, the phone locked) or a phone without signal asks nothing;
// shown again or back online, it asks at once rather than at the next tick.
(function () {
  'use strict';
  // A boosted visit runs the page's scripts again: one set of listeners is enough.
  if (window.Tsunagu.walletLiveWired) return;
  window.Tsunagu.walletLiveWired = true;

  function looking() {
    return document.visibilityState === 'visible' && navigator.onLine;
  }
  document.addEventListener('htmx:confirm', function (event) {
    if (event.target.matches('[data-wallet-live]') && !looking()) event.preventDefault();
  });
  function askNow() {
    const live = document.querySelector('[data-wallet-live]');
    if (live && looking()) window.htmx.trigger(live, 'wallet-shown');
  }
  document.addEventListener('visibilitychange', askNow);
  window.addEventListener('online', askNow);
})();
