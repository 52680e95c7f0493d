// The survey builder's plan: when the recipients are no longer one program's participants, a timing "after the
// program" no longer fits (and is hidden), so the choice goes back to "as soon as it is published", whose close
// date then shows. The server refuses the mismatch too, for a browser without this script.
(function () {
  'use strict';
  if (window.Tsunagu && window.Tsunagu.surveyPlanReady) return;
  window.Tsunagu = window.Tsunagu || {};
  window.Tsunagu.surveyPlanReady = true;

  document.addEventListener('change', function (event) {
    const input = event.target;
    if (input.name !== 'target_kind') return;
    const form = input.closest('#plan-form');
    if (!form || input.value === 'program') return;
    const followUp = form.querySelector('input[name="timing"]:checked:not([value="publish"])');
    const publish = form.querySelector('input[name="timing"][value="publish"]');
    if (followUp && publish) publish.checked = true;
  });
})();
