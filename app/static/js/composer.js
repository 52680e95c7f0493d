// The push composer's regions: ticking "all of a region" ticks its prefectures, and the region's box follows
// them. Without this script the server reads a ticked region as all of its prefectures just the same.
(function () {
  'use strict';
  if (window.Tsunagu && window.Tsunagu.composerReady) return;
  window.Tsunagu = window.Tsunagu || {};
  window.Tsunagu.composerReady = true;

  document.addEventListener('change', function (event) {
    const box = event.target;
    const region = box.closest && box.closest('fieldset[data-region]');
    if (!region) return;
    const all = region.querySelector('[data-region-all]');
    const prefectures = region.querySelectorAll('input[name="prefectures"]');
    if (box === all) {
      prefectures.forEach(function (one) { one.checked = all.checked; });
    } else if (all) {
      all.checked = Array.prototype.every.call(prefectures, function (one) { return one.checked; });
    }
  });
})();
