// The member card's live clock: a screenshot shows a stopped time, a live screen a ticking one.
(function () {
  'use strict';
  let timer = null;
  function tick() {
    const clock = document.querySelector('[data-live-clock]');
    if (!clock) { clearInterval(timer); timer = null; return; }
    const now = new Date();
    clock.dateTime = now.toISOString();
    clock.textContent = now.toLocaleString(document.documentElement.lang === 'en' ? 'en-US' : 'ja-JP', {
      timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
  }
  function start() {
    if (!document.querySelector('[data-live-clock]') || timer) return;
    tick();
    timer = setInterval(tick, 1000);
  }
  document.addEventListener('DOMContentLoaded', start);
  document.addEventListener('htmx:load', start);
  if (document.readyState !== 'loading') start();
})();
